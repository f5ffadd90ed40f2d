"""The Lepton models: image sizes, part numbers, and where telemetry rows go.

Shared by :mod:`lepton.vospi` (frame geometry), :mod:`lepton.cci` (part
numbers read over I2C) and :mod:`lepton.replay` (which frame shapes a
recording may have). Pure data: no I/O, no other ``lepton`` imports.

Sources: FLIR Lepton Engineering Datasheet 500-0659-00-09 Rev 204 §1 (the
models, their pixels and part numbers) and Lepton Software IDD 110-0144-04
Rev 303 §4.5.8 (SYS telemetry location); see docs/vospi.md §1 and §7.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "MODEL_NAMES",
    "PART_NUMBERS",
    "LeptonPart",
    "Model",
    "TelemetryLocation",
    "lepton_part",
]


class TelemetryLocation(enum.Enum):
    """Where the camera puts the telemetry rows (SYS telemetry location, IDD §4.5.8;
    docs/vospi.md §7.1)."""

    OFF = "off"
    HEADER = "header"
    FOOTER = "footer"


class Model(enum.Enum):
    """Lepton family, as far as the video stream is concerned (DS §1; docs/vospi.md §1)."""

    LEPTON2 = "lepton2"  # 2.0 / 2.5: 80x60, one 60-packet frame
    LEPTON3 = "lepton3"  # 3.0 / 3.5: 160x120, four 60-packet segments

    @property
    def rows(self) -> int:
        """Image rows: 60 (Lepton 2) or 120 (Lepton 3)."""
        return _GEOMETRY[self][0]

    @property
    def cols(self) -> int:
        """Image columns: 80 (Lepton 2) or 160 (Lepton 3)."""
        return _GEOMETRY[self][1]

    @property
    def segments(self) -> int:
        """VoSPI segments per frame: 1 (Lepton 2) or 4 (Lepton 3) (docs/vospi.md §6)."""
        return _GEOMETRY[self][2]


# rows, cols, segments (DS §1; docs/vospi.md §1, §6)
_GEOMETRY = {Model.LEPTON2: (60, 80, 1), Model.LEPTON3: (120, 160, 4)}

# How to name a model when only the VoSPI stream (not the part number) is known.
MODEL_NAMES = {Model.LEPTON2: "Lepton 2.x", Model.LEPTON3: "Lepton 3.x"}


@dataclass(frozen=True)
class LeptonPart:
    """What a FLIR part number says about the camera (DS §1; docs/vospi.md §1).

    Attributes:
        part_number: e.g. ``"500-0771-01"``.
        name: e.g. ``"Lepton 3.5"``.
        model: the :class:`Model`, which fixes the frame shape.
        radiometric: True when TLinear (centikelvin pixels) is available.
    """

    part_number: str
    name: str
    model: Model
    radiometric: bool


PART_NUMBERS = {
    p.part_number: p
    for p in (
        LeptonPart("500-0659-01", "Lepton 2.0", Model.LEPTON2, False),
        LeptonPart("500-0763-01", "Lepton 2.5", Model.LEPTON2, True),
        LeptonPart("500-0726-01", "Lepton 3.0", Model.LEPTON3, False),
        LeptonPart("500-0771-01", "Lepton 3.5", Model.LEPTON3, True),
    )
}
_PART_NUMBER_LENGTH = len("500-0771-01")


def lepton_part(part_number: str) -> LeptonPart | None:
    """Look up a part number (its first 11 characters) in :data:`PART_NUMBERS`.

    Returns:
        The :class:`LeptonPart`, or None for a part number not in DS §1's table.
    """
    return PART_NUMBERS.get(part_number.strip()[:_PART_NUMBER_LENGTH])
