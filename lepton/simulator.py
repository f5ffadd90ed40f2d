"""A simulated Lepton: the exact VoSPI byte stream a camera sends for given frames.

:class:`VospiSimulator` encodes raw frames (ndarray uint16 (rows, cols)) the
way a Lepton 2.x or 3.x puts them on the bus: packet IDs and CRCs, discard
packets between frames or segments, each Lepton 2 frame sent three times,
each Lepton 3 frame followed by two frames of invalid segments, optional
telemetry rows in the header or footer. With a :class:`FaultConfig` it also
corrupts the stream: flipped bits, dropped packets, and truncated packets that
leave the host misaligned until it resynchronises (:meth:`VospiSimulator.resync`),
as a real host that lost bytes would be.

Pure apart from its seeded random generator; no clocks or sleeps (pacing is
:class:`lepton.transport.SimulatedTransport`'s job).
Sources: docs/vospi.md §3-§8 (FLIR Lepton Engineering Datasheet §4.2).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .crc import packet_crcs
from .errors import RangeError, ShapeError
from .models import Model, TelemetryLocation
from .radiometry import PixelUnit, guess_unit
from .telemetry import TELEMETRY_ROWS, Telemetry, encode_telemetry
from .vospi import (
    FRAMES_PER_UNIQUE_FRAME,
    PACKET_BYTES,
    PAYLOAD_OFFSET,
    PIXELS_PER_PACKET,
    RESYNC_PAUSE_S,
    SEGMENT_NUMBER_PACKET,
    UNIQUE_FRAME_RATE_HZ,
    frame_layout,
)

__all__ = ["DISCARD_PREFIX", "FaultConfig", "FaultKind", "VospiSimulator"]

# Real discard packets: ID 0x1FFF / 0x2FFF, CRC field 0xFFFF, payload starting
# DC D0 DC AD DC D2 (VI Fig. 12; hardware dump in groupgets/LeptonModule#4; docs/vospi.md §4).
DISCARD_IDS = (0x0FFF, 0x1FFF, 0x2FFF)
DISCARD_PREFIX = bytes.fromhex("DCD0DCADDCD2")
_DISCARD_POOL = 16
_SEGMENT_SHIFT = 12  # segment number in ID bits 14-12 (docs/vospi.md §3)
_TELEMETRY_REVISION = 14  # as on current Lepton 3.5 (docs/vospi.md §7.2)
_STATUS_FFC_COMPLETE = 0x0830  # bit 11 as observed + FFC state 3 (docs/vospi.md §7.3)
_VIDEO_FORMAT_RAW14 = 7
_AGC_CLIP_HIGH = {Model.LEPTON2: 4800, Model.LEPTON3: 19200}  # defaults (docs/vospi.md §7.2)
_AGC_CLIP_LOW = 512


class FaultKind(enum.Enum):
    """A way the simulated stream goes wrong."""

    BIT_FLIP = "bit_flip"  # one bit of one packet inverted (CRC error)
    DROP = "drop"  # a whole packet missing (packet out of order)
    TRUNCATE = "truncate"  # a packet cut short: every later packet misaligned until resync


@dataclass(frozen=True)
class FaultConfig:
    """Fault injection for :class:`VospiSimulator`.

    Attributes:
        rate: probability, per packet sent (discard packets included), of a
            fault; 0.0..1.0.
        kinds: the kinds to choose from, uniformly.

    Raises:
        RangeError: ``rate`` outside 0..1 or ``kinds`` empty.
    """

    rate: float
    kinds: tuple[FaultKind, ...] = tuple(FaultKind)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise RangeError("rate", self.rate, "0.0..1.0")
        if not self.kinds:
            raise RangeError("kinds", self.kinds, "at least one FaultKind")


class VospiSimulator:
    """Encode raw frames into the VoSPI byte stream of a Lepton.

    Args:
        model: :attr:`Model.LEPTON2` (frames (60, 80)) or :attr:`Model.LEPTON3`
            (frames (120, 160)).
        telemetry: where to put telemetry rows, or OFF.
        faults: fault injection for :meth:`units` / :meth:`stream`
            (:meth:`encode_frame` is always clean), or None.
        seed: seed of the random generator (discard payloads, faults).
        discard_packets: discard packets after each frame (Lepton 2) or
            segment (Lepton 3), >= 0. A real camera sends as many as the host
            reads in its idle time (docs/vospi.md §4).

    Attributes:
        injected: how many faults of each :class:`FaultKind` were injected.
        frame_counter: telemetry frame counter of the last unique frame.

    Not thread-safe.
    """

    def __init__(
        self,
        model: Model,
        telemetry: TelemetryLocation = TelemetryLocation.OFF,
        *,
        faults: FaultConfig | None = None,
        seed: int = 0,
        discard_packets: int = 2,
    ):
        if discard_packets < 0:
            raise RangeError("discard_packets", discard_packets, ">= 0")
        self.model = Model(model)
        self.telemetry = TelemetryLocation(telemetry)
        self.faults = faults
        self.discard_packets = discard_packets
        self._layout = frame_layout(self.model, self.telemetry)
        self._rng = np.random.default_rng(seed)
        self._discard_pool = self._make_discards(_DISCARD_POOL)
        self._ids = self._packet_ids()
        self._skip_units = 0
        self.injected = {kind: 0 for kind in FaultKind}
        self.frame_counter = 0
        self._uptime_ms = 60_000

    # --- building blocks ------------------------------------------------------------

    def _make_discards(self, count: int) -> np.ndarray:
        packets = self._rng.integers(0, 256, size=(count, PACKET_BYTES), dtype=np.uint8)
        ids = np.array(DISCARD_IDS, dtype=np.uint16)[np.arange(count) % len(DISCARD_IDS)]
        packets[:, 0] = ids >> 8
        packets[:, 1] = ids & 0xFF
        packets[:, 2:4] = 0xFF
        packets[:, PAYLOAD_OFFSET : PAYLOAD_OFFSET + len(DISCARD_PREFIX)] = np.frombuffer(
            DISCARD_PREFIX, dtype=np.uint8
        )
        return packets

    def discards(self, count: int) -> bytes:
        """``count`` discard packets, as the camera sends while it has nothing else."""
        return self._discard_pool[self._rng.integers(0, _DISCARD_POOL, size=count)].tobytes()

    def _packet_ids(self) -> np.ndarray:
        """IDs of one valid frame's packets, in stream order (segment number in packet 20)."""
        layout = self._layout
        per_segment = layout.packets_per_segment
        ids = np.tile(np.arange(per_segment, dtype=np.uint16), self.model.segments)
        if self.model is Model.LEPTON3:
            for segment in range(self.model.segments):
                ids[segment * per_segment + SEGMENT_NUMBER_PACKET] |= (
                    segment + 1
                ) << _SEGMENT_SHIFT
        return ids

    def _check_pixels(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.asarray(pixels)
        shape = (self.model.rows, self.model.cols)
        if pixels.shape != shape or pixels.dtype != np.uint16:
            raise ShapeError("pixels", f"{shape} uint16", f"{pixels.shape} {pixels.dtype}")
        return pixels

    def make_telemetry(self, pixels: np.ndarray) -> Telemetry:
        """The telemetry a radiometric Lepton would attach to ``pixels`` now.

        Frame counter and uptime are the simulator's; FPA and housing
        temperatures are those of the tCam sample (docs/vospi.md §7.2); TLinear is
        reported on when :func:`lepton.radiometry.guess_unit` says centikelvin;
        the spotmeter covers the centre 2 x 2 pixels.
        """
        rows, cols = pixels.shape
        spot = pixels[rows // 2 - 1 : rows // 2 + 1, cols // 2 - 1 : cols // 2 + 1]
        return Telemetry(
            revision=_TELEMETRY_REVISION,
            uptime_ms=self._uptime_ms,
            status=_STATUS_FFC_COMPLETE,
            frame_counter=self.frame_counter,
            frame_mean=int(pixels.mean()),
            fpa_temp_ck=30613,
            housing_temp_ck=30518,
            fpa_temp_at_last_ffc_ck=30663,
            uptime_at_last_ffc_ms=1_000,
            agc_roi=(0, 0, cols - 1, rows - 1),
            agc_clip_high=_AGC_CLIP_HIGH[self.model],
            agc_clip_low=_AGC_CLIP_LOW,
            video_format=_VIDEO_FORMAT_RAW14,
            gain_mode=0,
            effective_gain=0,
            tlinear_enabled=guess_unit(pixels) is PixelUnit.CENTIKELVIN,
            tlinear_resolution_k=0.01,
            spotmeter_mean=int(spot.mean()),
            spotmeter_max=int(spot.max()),
            spotmeter_min=int(spot.min()),
        )

    def _frame_packets(self, pixels: np.ndarray, telemetry: Telemetry | None) -> np.ndarray:
        """The packets of one valid frame: ndarray uint8 (packets, 164), CRCs filled in."""
        layout = self._layout
        words = np.zeros((layout.packets, PIXELS_PER_PACKET), dtype=">u2")
        image = slice(layout.image_start, layout.image_start + layout.image_packets)
        words[image] = pixels.reshape(-1, PIXELS_PER_PACKET)
        if layout.telemetry_start is not None:
            if telemetry is None:
                telemetry = self.make_telemetry(pixels)
            start = layout.telemetry_start
            words[start : start + TELEMETRY_ROWS] = encode_telemetry(telemetry)
        packets = np.empty((layout.packets, PACKET_BYTES), dtype=np.uint8)
        packets[:, 0] = self._ids >> 8
        packets[:, 1] = self._ids & 0xFF
        packets[:, 2:4] = 0
        packets[:, PAYLOAD_OFFSET:] = words.view(np.uint8).reshape(layout.packets, -1)
        crcs = packet_crcs(packets)
        packets[:, 2] = crcs >> 8
        packets[:, 3] = crcs & 0xFF
        return packets

    def _frame_units(self, pixels: np.ndarray, telemetry: Telemetry | None) -> list[np.ndarray]:
        """One unique frame as units (a L2 frame or a L3 segment, each followed by discards)."""
        pixels = self._check_pixels(pixels)
        self.frame_counter += 1
        packets = self._frame_packets(pixels, telemetry)
        self._uptime_ms += round(1000 / UNIQUE_FRAME_RATE_HZ)
        per_segment = self._layout.packets_per_segment
        segments = [packets[k : k + per_segment] for k in range(0, len(packets), per_segment)]
        units = []
        for copy in range(FRAMES_PER_UNIQUE_FRAME):
            for segment in segments:
                if copy and self.model is Model.LEPTON3:
                    # Invalid segment: segment number 0 in packet 20; the top nibble
                    # is outside the CRC, so the CRC stays right (docs/vospi.md §5, §6.2).
                    segment = segment.copy()
                    segment[SEGMENT_NUMBER_PACKET, 0] &= 0x0F
                gap = self._discard_pool[
                    self._rng.integers(0, _DISCARD_POOL, size=self.discard_packets)
                ]
                units.append(np.concatenate([segment, gap]))
        return units

    # --- public API -------------------------------------------------------------------

    def encode_frame(self, pixels: np.ndarray, telemetry: Telemetry | None = None) -> bytes:
        """The clean byte stream for one unique frame.

        Lepton 2: the frame three times (repeats, docs/vospi.md §6.1); Lepton 3: four
        valid segments then eight invalid ones (docs/vospi.md §6.2); discard packets after
        each frame or segment. Advances the frame counter and uptime.

        Args:
            pixels: ndarray uint16 (rows, cols) of the simulator's model.
            telemetry: the telemetry to send (used as given), or None to make
                it with :meth:`make_telemetry`. Ignored when telemetry is OFF.

        Returns:
            The bytes, a whole number of 164-byte packets.

        Raises:
            ShapeError: ``pixels`` has the wrong shape or dtype.
        """
        return b"".join(unit.tobytes() for unit in self._frame_units(pixels, telemetry))

    def units(self, frames: Iterable[np.ndarray]) -> Generator[tuple[int, bytes], None, None]:
        """The stream for ``frames``, one unit (L2 frame / L3 segment + discards) at a time.

        Faults are applied here. After :meth:`resync` the units the camera
        sent during the pause are skipped.

        Yields:
            (index of the unique frame in ``frames``, bytes of the unit).
        """
        for index, pixels in enumerate(frames):
            for unit in self._frame_units(pixels, None):
                if self._skip_units:
                    self._skip_units -= 1
                    continue
                yield index, self._apply_faults(unit)

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[bytes]:
        """The byte stream for ``frames``, as :meth:`units` without the indices."""
        for _index, data in self.units(frames):
            yield data

    def resync(self, pause_s: float = RESYNC_PAUSE_S) -> None:
        """The host held /CS de-asserted for ``pause_s``: skip what the camera sent meanwhile.

        The next unit from :meth:`units` starts on a packet boundary again,
        ``ceil(pause_s * unit rate)`` units later (26.1 frames/s on Lepton 2,
        104.4 segments/s on Lepton 3). The caller drops any bytes it buffered.
        """
        units_per_s = UNIQUE_FRAME_RATE_HZ * FRAMES_PER_UNIQUE_FRAME * self.model.segments
        self._skip_units += math.ceil(pause_s * units_per_s)

    def _apply_faults(self, unit: np.ndarray) -> bytes:
        if self.faults is None or self.faults.rate == 0.0:
            return unit.tobytes()
        hits = np.flatnonzero(self._rng.random(len(unit)) < self.faults.rate)
        if not len(hits):
            return unit.tobytes()
        unit = unit.copy()
        kinds = self.faults.kinds
        parts = []
        begin = 0
        for hit in hits.tolist():
            kind = kinds[int(self._rng.integers(len(kinds)))]
            self.injected[kind] += 1
            if kind is FaultKind.BIT_FLIP:
                unit[hit, int(self._rng.integers(PACKET_BYTES))] ^= np.uint8(
                    1 << int(self._rng.integers(8))
                )
                continue
            parts.append(unit[begin:hit].tobytes())
            if kind is FaultKind.TRUNCATE:
                parts.append(unit[hit, : int(self._rng.integers(1, PACKET_BYTES))].tobytes())
            begin = hit + 1
        parts.append(unit[begin:].tobytes())
        return b"".join(parts)
