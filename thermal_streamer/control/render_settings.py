"""The render settings and their one schema: server.conf, the ``set`` command, /config.json, docs.

Every setting is described once in :data:`FIELDS`: its name (in the shared state, the
``set`` command and /config.json), its ``[Render]`` key in server.conf, its default,
what is allowed (the text every error message and the docs use), and how a value is
read from JSON and from server.conf text (the kinds of :mod:`thermal_streamer.control.fields`).
:class:`RenderSettings` checks every field and the cross-field rule (``fixed`` AGC needs a
range) when it is made, so an invalid combination cannot exist anywhere in the daemon; it
raises :class:`~thermal_streamer.control.fields.SettingError`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from thermal_streamer.control.fields import (
    Choice,
    Color,
    Colormap,
    Field,
    Integer,
    Number,
    RangeField,
    SettingError,
)

AGC_MODES = ("linear", "percentile", "histogram", "fixed")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
MAX_SCALE = 8  # largest integer enlargement
MAX_JPEG_QUALITY = 95  # Pillow: above 95 the file grows with no visible gain
MAX_CLIP_PERCENT = 49.99  # clipping 50 % at each end would leave nothing

Range = tuple[float, float]

COLORMAP = Colormap("colormap", "Colormap", "inferno",
                    "the palette (`/colormaps.json` lists every name)")
AGC = Choice("agc", "AGC", "linear",
             "automatic gain control: `linear` (frame min..max), `percentile` (clip "
             "`clip_percent` % at each end), `histogram` (equalisation, like the Lepton's HEQ), "
             "`fixed` (`range`)", AGC_MODES)
RANGE = RangeField("range", "Range", None,
                   "the fixed AGC range, degrees C for radiometric sources, counts otherwise")
CLIP_PERCENT = Number("clip_percent", "Clip_Percent", 1.0,
                      "percentile AGC: the share of pixels clipped at each end", 0.0,
                      MAX_CLIP_PERCENT)
SCALE = Integer("scale", "Scale", 1, "integer enlargement of the JPEG; 1 keeps the sensor's "
                "size (the page scales smoothly)", 1, MAX_SCALE)
INTERPOLATION = Choice("interpolation", "Interpolation", "bilinear",
                       "resampling when `scale` > 1", INTERPOLATIONS)
JPEG_QUALITY = Integer("jpeg_quality", "JPEG_Quality", 90, "JPEG quality (no chroma "
                       "subsampling at scale 1: colour bleeds badly on small images)", 1,
                       MAX_JPEG_QUALITY)
ISOTHERM = RangeField("isotherm", "Isotherm", None,
                      "a band drawn in `isotherm_color` over the palette: pixels from low to "
                      "high inclusive, degrees C for radiometric sources, counts otherwise; "
                      "empty (`null`) for none", nullable=True)
ISOTHERM_COLOR = Color("isotherm_color", "Isotherm_Color", "#00ff00", "the isotherm's colour")
FIXED_NEEDS_RANGE = "set when agc is fixed"  # the rule across fields, as range's ``allowed``

FIELDS: tuple[Field, ...] = (COLORMAP, AGC, RANGE, CLIP_PERCENT, SCALE, INTERPOLATION,
                             JPEG_QUALITY, ISOTHERM, ISOTHERM_COLOR)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """How to turn a raw frame into a picture; valid by construction.

    Attributes (see :data:`FIELDS` for what each allows):
        colormap: a thermal palette or matplotlib colormap name.
        agc: one of AGC_MODES.
        range: (low, high) for ``fixed`` AGC, in display units (degrees C for
            radiometric frames, counts otherwise), or None.
        clip_percent: for ``percentile`` AGC, the share of pixels clipped at each end.
        scale: integer enlargement factor, 1 keeps the sensor's resolution.
        interpolation: one of INTERPOLATIONS, used when scale > 1.
        jpeg_quality: Pillow JPEG quality.
        isotherm: (low, high) in display units, pixels in it are drawn in
            ``isotherm_color``; or None.
        isotherm_color: ``#rrggbb``.

    Raises:
        SettingError: a field is not allowed, or ``agc`` is ``fixed`` without a range.
    """

    colormap: str = COLORMAP.default
    agc: str = AGC.default
    range: Range | None = RANGE.default
    clip_percent: float = CLIP_PERCENT.default
    scale: int = SCALE.default
    interpolation: str = INTERPOLATION.default
    jpeg_quality: int = JPEG_QUALITY.default
    isotherm: Range | None = ISOTHERM.default
    isotherm_color: str = ISOTHERM_COLOR.default

    def __post_init__(self) -> None:
        for field in FIELDS:
            value = getattr(self, field.name)
            if not field.check(value):
                raise SettingError(field.name, value, field.allowed)
        if self.agc == "fixed" and self.range is None:
            raise SettingError(RANGE.name, None, FIXED_NEEDS_RANGE)

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON values, in :data:`FIELDS` order (ranges as lists or None)."""
        values = {f.name: getattr(self, f.name) for f in FIELDS}
        for field in (RANGE, ISOTHERM):
            band = getattr(self, field.name)
            values[field.name] = list(band) if band else None
        return values


def config_table() -> list[str]:
    """The ``[Render]`` table of docs/configuration.md: key, default, allowed, meaning."""
    return ["| key | default | allowed | meaning |", "|---|---|---|---|",
            *(f"| `{f.key}` | {f'`{f.default_text}`' if f.default_text else ''} | "
              f"{f.allowed_text} | {f.summary} |" for f in FIELDS)]


def set_command_table() -> list[str]:
    """The ``set`` fields table of docs/protocol.md (Markdown lines): field, allowed, meaning.

    A value that is not allowed is answered with ``FIELD must be ALLOWED`` (SettingError).
    """
    return ["| field | allowed | meaning |", "|---|---|---|",
            *(f"| `{f.name}` | {f.allowed} | {f.summary} |" for f in FIELDS)]


# python -m thermal_streamer.control.render_settings: the tables the docs hold
if __name__ == "__main__":
    print("\n".join(["README.md, [Render]:", "", *config_table(), "",
                      "docs/protocol.md, the set command:", "", *set_command_table()]))
