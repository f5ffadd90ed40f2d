"""Pure VoSPI parser: bytes in, frames and events out.

VoSPI is the Lepton's video stream over SPI: 164-byte packets (2-byte ID,
2-byte CRC, 80 big-endian pixels) forming 60-packet frames (Lepton 2.x) or four
60-packet segments per frame (Lepton 3.x), with discard packets in between and
optional telemetry rows. :class:`VospiParser` turns any slicing of that byte
stream into :class:`FrameParsed`, :class:`SyncLost`, :class:`NoSignal` and
:class:`ModelDetected` events. It has no file descriptors, threads, sleeps or
clocks: the caller reads the bus (:mod:`lepton.transport`) and, after a
:class:`SyncLost`, resynchronises the bus and calls :meth:`VospiParser.reset`
(:class:`lepton.camera.Lepton` does both).

Bad input is never an exception: CRC errors, packets out of order, bad segment
numbers and dead buses become events and :class:`VospiCounters`. A delivered
frame always has the model's shape and is built only from packets whose CRC
matched, in order.

Sources (collected in docs/vospi.md): FLIR Lepton Engineering Datasheet
(DS) §4.2.2-4.2.3; FLIR VoSPI Implementation Specification (VI) §4-5; Lepton
Software IDD §4.5.7-8 for telemetry placement.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np

from .crc import packet_crcs
from .models import Model, TelemetryLocation
from .telemetry import FRAME_COUNTER_WORD, TELEMETRY_ROWS, Telemetry, parse_telemetry

__all__ = [
    "AUTODETECT_LEPTON2_SIGHTINGS",
    "DISCARD_NIBBLE",
    "FRAMES_PER_UNIQUE_FRAME",
    "NO_SIGNAL_PACKETS",
    "PACKET_BYTES",
    "PACKET_CRC_BYTES",
    "PACKET_ID_BYTES",
    "PACKET_NUMBER_MASK",
    "PACKET_PAYLOAD_BYTES",
    "PAYLOAD_OFFSET",
    "PIXELS_PER_PACKET",
    "RESYNC_PAUSE_S",
    "SEGMENT_NUMBER_PACKET",
    "SEGMENT_NUMBER_SHIFT",
    "UNIQUE_FRAME_RATE_HZ",
    "Event",
    "FrameLayout",
    "FrameParsed",
    "Model",
    "ModelDetected",
    "NoSignal",
    "SyncLossReason",
    "SyncLost",
    "TelemetryLocation",
    "VospiCounters",
    "VospiParser",
    "frame_layout",
]

# --- Packet format (DS §4.2.2.1 Table 10, VI §3.1; docs/vospi.md §3) -------------
PACKET_ID_BYTES = 2  # big-endian ID: bits 14-12 segment number (L3), 11-0 packet number
PACKET_CRC_BYTES = 2  # big-endian CRC-16 (docs/vospi.md §5)
PACKET_PAYLOAD_BYTES = 160  # Raw14: 80 pixels, each a big-endian uint16
PACKET_BYTES = PACKET_ID_BYTES + PACKET_CRC_BYTES + PACKET_PAYLOAD_BYTES
PAYLOAD_OFFSET = PACKET_ID_BYTES + PACKET_CRC_BYTES
PIXELS_PER_PACKET = PACKET_PAYLOAD_BYTES // 2
PACKET_NUMBER_MASK = 0x0FFF  # always mask: the top nibble is reserved/segment (docs/vospi.md §3)
# Discard packets have ID xFxx, i.e. the low nibble of byte 0 is 0xF
# (DS §4.2.2.1, docs/vospi.md §4).
DISCARD_NIBBLE = 0x0F
# Lepton 3: the segment number (TTT, 1-4; 0 = invalid segment) is valid only in
# packet 20, in bits 14-12 of the ID = bits 6-4 of byte 0 (DS §4.2.3.1 Fig. 32, docs/vospi.md §6.2).
SEGMENT_NUMBER_PACKET = 20
SEGMENT_NUMBER_SHIFT = 4
SEGMENT_NUMBER_MASK = 0x7
# Unique frames per second: Lepton 2 sends each frame 3 times at ~26 Hz; Lepton 3
# follows each valid frame with two invalid ones
# (DS p.9 note 4, §4.2.2.3, §4.2.3.3; docs/vospi.md §6).
UNIQUE_FRAME_RATE_HZ = 8.7
FRAMES_PER_UNIQUE_FRAME = 3
# De-asserting /CS with SCK idle this long resynchronises VoSPI (DS §4.2.2.3.1, docs/vospi.md §8).
RESYNC_PAUSE_S = 0.185
# A dead or unpowered bus reads as all-zero packets, which pass the CRC check as
# packet 0 (docs/vospi.md §5). This many in a row is reported as NoSignal:
# one Lepton 2 frame's worth, far more than a live camera ever sends.
NO_SIGNAL_PACKETS = 60
# Auto-detection: a Lepton 3 stream never has more than 8 invalid segments
# (TTT = 0) in a row (1,2,3,4 then 0 x 8, DS §4.2.3.3), so 12 consecutive
# packet-20 sightings, all with TTT = 0 and none missed in between, mean a
# Lepton 2 (whose reserved bits are zero).
AUTODETECT_LEPTON2_SIGHTINGS = 12

_ARANGE = np.arange(64, dtype=np.int32)
_NO_ZEROS = np.empty(0, dtype=np.intp)
_SLAB_PACKETS = (
    512  # packets checked per numpy batch: large enough to amortise, small enough for cache
)


class FrameLayout(NamedTuple):
    """Where image and telemetry sit among a frame's packets (docs/vospi.md §6, §7.1).

    A frame's packets are numbered in stream order across its segments
    (``segment_index * packets_per_segment + packet_number``). Telemetry adds
    its 3 rows rounded up to one more packet per segment: 3 packets on
    Lepton 2 (63 per frame), 4 on Lepton 3 (61 per segment, the 4th unused)
    (DS Table 11, §4.2.3.2). Lepton 3 header: packets 0-2 of segment 1 are
    rows A-C, packet 3 unused; footer: rows A-C right after the last image
    packet, then one unused.
    """

    model: Model
    telemetry: TelemetryLocation
    packets_per_segment: int
    packets: int  # per frame, all segments
    image_packets: int  # one packet = PIXELS_PER_PACKET pixels
    image_start: int
    telemetry_start: int | None  # None when telemetry is OFF


@cache
def frame_layout(model: Model, telemetry: TelemetryLocation) -> FrameLayout:
    """The :class:`FrameLayout` of ``model`` with ``telemetry``.

    Packets per segment: 60, or with telemetry 63 (Lepton 2) / 61 (Lepton 3)
    (DS Table 11; docs/vospi.md §7.1).
    """
    image_packets = model.rows * model.cols // PIXELS_PER_PACKET
    extra_per_segment = 0
    if telemetry is not TelemetryLocation.OFF:
        extra_per_segment = -(-TELEMETRY_ROWS // model.segments)  # rows, rounded up
    per_segment = image_packets // model.segments + extra_per_segment
    telemetry_packets = extra_per_segment * model.segments
    if telemetry is TelemetryLocation.HEADER:
        image_start, telemetry_start = telemetry_packets, 0
    elif telemetry is TelemetryLocation.FOOTER:
        image_start, telemetry_start = 0, image_packets
    else:
        image_start, telemetry_start = 0, None
    return FrameLayout(
        model,
        telemetry,
        per_segment,
        per_segment * model.segments,
        image_packets,
        image_start,
        telemetry_start,
    )


_MAX_SEGMENT_PACKETS = max(
    frame_layout(m, t).packets_per_segment for m in Model for t in TelemetryLocation
)


class SyncLossReason(enum.Enum):
    """Why the parser dropped its partial frame (docs/vospi.md §8 "what loss looks like")."""

    CRC_ERROR = "crc_error"  # FLIR recommends a resync after one (DS §4.2.2.3.2)
    PACKET_OUT_OF_ORDER = "packet_out_of_order"
    SEGMENT_OUT_OF_ORDER = "segment_out_of_order"  # Lepton 3: e.g. segment 3 after 1
    BAD_SEGMENT_NUMBER = "bad_segment_number"  # Lepton 3: TTT 5-7
    ZERO_PACKET = "zero_packet"  # an all-zero packet inside a frame


@dataclass(frozen=True, eq=False)
class FrameParsed:
    """A complete frame.

    Attributes:
        pixels: ndarray uint16 (rows, cols), host order; centikelvin with
            TLinear on, else counts (see :mod:`lepton.radiometry`). Owned by
            the receiver (a fresh array).
        telemetry_rows: ndarray uint16 (3, 80), rows A-C in host order, or
            None when telemetry is off.
        telemetry: the rows decoded, or None.
    """

    pixels: np.ndarray
    telemetry_rows: np.ndarray | None = None
    telemetry: Telemetry | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrameParsed):
            return NotImplemented
        return (
            np.array_equal(self.pixels, other.pixels)
            and self.pixels.dtype == other.pixels.dtype
            and _same_rows(self.telemetry_rows, other.telemetry_rows)
            and self.telemetry == other.telemetry
        )


def _same_rows(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return np.array_equal(a, b)


@dataclass(frozen=True)
class SyncLost:
    """The stream is out of step: the partial frame was dropped.

    The transport must resynchronise (no transfers, /CS de-asserted, for at
    least 185 ms, DS §4.2.2.3.1, docs/vospi.md §8) and then call
    :meth:`VospiParser.reset`. Reported once until the next reset or the next
    complete frame or segment.
    """

    reason: SyncLossReason


@dataclass(frozen=True)
class NoSignal:
    """:data:`NO_SIGNAL_PACKETS` all-zero packets in a row: a dead or unpowered bus.

    Reported once per run of zero packets (docs/vospi.md §5).
    """


@dataclass(frozen=True)
class ModelDetected:
    """Auto-detection decided the camera model (see :class:`VospiParser`)."""

    model: Model


Event = FrameParsed | SyncLost | NoSignal | ModelDetected
_NO_SIGNAL = NoSignal()


@dataclass
class VospiCounters:
    """What a parser has seen since it was created (never reset).

    Attributes:
        packets: whole packets fed, discard packets included.
        discard_packets: packets with ID xFxx (docs/vospi.md §4).
        crc_errors: non-discard packets whose CRC did not match.
        frames: :class:`FrameParsed` events emitted (unique frames when
            repeats are dropped).
        repeated_frames: frames identical to the previous one (Lepton 2 sends
            each frame 3 times, docs/vospi.md §6.1), dropped or not.
        invalid_segments: Lepton 3 segments with segment number 0, read and dropped.
        sync_losses: :class:`SyncLost` events emitted.
        no_signal: :class:`NoSignal` events emitted.
    """

    packets: int = 0
    discard_packets: int = 0
    crc_errors: int = 0
    frames: int = 0
    repeated_frames: int = 0
    invalid_segments: int = 0
    sync_losses: int = 0
    no_signal: int = 0


_SKIPPED = -1  # a valid Lepton 3 segment seen while waiting for segment 1


class VospiParser:
    """Turn a VoSPI byte stream into frames and events.

    Feed it bytes exactly as they came off the bus, in any slicing: whole
    reads, single bytes, odd chunks. It keeps an incomplete packet until the
    rest arrives. Packets of a chunk are checked together with numpy (CRCs,
    discard IDs, packet numbers), so a whole Lepton 3 frame costs well under
    a millisecond.

    Rules (sources in docs/vospi.md):

    * Discard packets (ID xFxx, §4) are counted and skipped, also inside a frame.
    * Every other packet must have a matching CRC (§5) and the next packet
      number (§6); otherwise :class:`SyncLost` and the partial frame is dropped.
      An all-zero packet passes the CRC as packet 0; it never starts a frame,
      and :data:`NO_SIGNAL_PACKETS` of them in a row emit :class:`NoSignal`.
    * Lepton 2: 60 packets per frame (63 with telemetry).
    * Lepton 3: four segments of 60 packets (61 with telemetry); the segment
      number is read from packet 20 (§6.2). 0 = invalid segment: read to the
      end, dropped, counted. 5-7, or a segment out of order inside a frame:
      :class:`SyncLost`. Segments 2-4 seen while waiting for segment 1 are
      dropped quietly (a stream joined mid-frame).
    * Telemetry rows are taken from the header or footer as ``telemetry``
      says (§7.1); it must match the camera's setting.
    * Repeated frames (§6.1): with telemetry, a frame whose frame counter
      equals the previous frame's; without, a frame whose pixels equal the
      previous frame's. Counted, and dropped when ``drop_repeats``.
    * Model auto-detection (``model=None``, §6.2): packet 20 of each segment
      or frame is examined; a segment number 1-4 means LEPTON3 at once;
      :data:`AUTODETECT_LEPTON2_SIGHTINGS` sightings in a row with segment
      number 0 mean LEPTON2 (a Lepton 3 sends at most 8 in a row). "In a
      row" is strict: any sync loss, :meth:`reset` or all-zero packet starts
      the count again, since a segment may have gone unseen. Emits
      :class:`ModelDetected`; frames are delivered from then on.
    * After :class:`SyncLost` further errors are counted but not reported
      again until :meth:`reset` or until a segment (frame) completes.

    Not thread-safe. ``feed`` never blocks and never raises on bad input.

    Args:
        model: the camera's :class:`Model`, or None to detect it.
        telemetry: where the camera puts telemetry (:class:`TelemetryLocation`).
        drop_repeats: drop repeated frames (default) or deliver them.

    Attributes:
        counters: :class:`VospiCounters`, updated in place.
    """

    def __init__(
        self,
        model: Model | None = None,
        telemetry: TelemetryLocation = TelemetryLocation.OFF,
        drop_repeats: bool = True,
    ):
        self._telemetry = TelemetryLocation(telemetry)
        self._drop_repeats = bool(drop_repeats)
        self.counters = VospiCounters()
        self._partial = b""
        self._unit = np.zeros((_MAX_SEGMENT_PACKETS, PACKET_BYTES), dtype=np.uint8)
        self._next = 0  # next packet number expected in the current segment; 0 = none begun
        self._unit_segment = 0  # Lepton 3: segment number of the current segment
        self._quiet = False  # a SyncLost was reported: don't report again yet
        self._zero_run = 0
        self._last_was_zero = False
        self._sightings = 0
        self._last_counter: int | None = None
        self._last_image: np.ndarray | None = None
        self._model: Model | None = None
        # While the model is unknown a segment (L3) or frame (L2) is followed in
        # order up to the longer of the two; a clean packet 0 after the shorter
        # one ends it (docs/vospi.md §7.1: 60 / 60 packets, or 61 / 63 with telemetry).
        self._unit_packets = max(
            frame_layout(m, self._telemetry).packets_per_segment for m in Model
        )
        self._undecided_min_packets = min(
            frame_layout(m, self._telemetry).packets_per_segment for m in Model
        )
        self._check_packet_20 = True
        if model is not None:
            self._set_model(Model(model))

    def _set_model(self, model: Model) -> None:
        self._model = model
        self._layout = frame_layout(model, self._telemetry)
        self._unit_packets = self._layout.packets_per_segment
        self._check_packet_20 = model is Model.LEPTON3
        self._frame = np.zeros((self._layout.packets, PACKET_BYTES), dtype=np.uint8)
        self._segment_next = 1

    @property
    def model(self) -> Model | None:
        """The model given or detected; None until detected."""
        return self._model

    @property
    def telemetry(self) -> TelemetryLocation:
        """Where telemetry rows are expected."""
        return self._telemetry

    @property
    def drop_repeats(self) -> bool:
        """Whether repeated frames are dropped."""
        return self._drop_repeats

    def reset(self) -> None:
        """Forget the partial packet and partial frame, after the bus was resynchronised.

        Counters, the detected model and the last frame (for repeat detection)
        are kept. The next :class:`SyncLost` is reported again.
        """
        self._partial = b""
        self._next = 0
        self._segment_next = 1
        self._quiet = False
        self._sightings = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse more of the stream.

        Args:
            data: the next bytes off the bus, any length (0 included). Not
                retained: the parser copies what it keeps.

        Returns:
            The events the new bytes completed, in stream order.
        """
        view = memoryview(data).cast("B")
        if self._partial:
            view = memoryview(self._partial + view)
        count = len(view) // PACKET_BYTES
        whole = count * PACKET_BYTES
        events: list[Event] = []
        if count:
            packets = np.frombuffer(view, dtype=np.uint8, count=whole).reshape(count, PACKET_BYTES)
            self._parse(packets, events)
        self._partial = bytes(view[whole:])
        return events

    # --- packet level -------------------------------------------------------------

    def _parse(self, packets: np.ndarray, events: list[Event]) -> None:
        for begin in range(0, len(packets), _SLAB_PACKETS):
            self._parse_slab(packets[begin : begin + _SLAB_PACKETS], events)

    def _parse_slab(self, packets: np.ndarray, events: list[Event]) -> None:
        counters = self.counters
        n = len(packets)
        counters.packets += n
        keep = (packets[:, 0] & DISCARD_NIBBLE) != DISCARD_NIBBLE
        v = int(np.count_nonzero(keep))
        counters.discard_packets += n - v
        if v == 0:
            self._last_was_zero = False
            return
        video = packets if v == n else packets[keep]
        # ID and CRC field as one big-endian 32-bit word per packet
        header = np.ascontiguousarray(video[:, :PAYLOAD_OFFSET]).view(">u4").ravel()
        numbers = (header >> 16).astype(np.int32) & PACKET_NUMBER_MASK
        good = packet_crcs(video) == (header & 0xFFFF)
        counters.crc_errors += v - int(np.count_nonzero(good))
        # all-zero packets pass the CRC as packet 0 (docs/vospi.md §5)
        zero = header == 0
        if zero.any():
            zero[zero] = ~video[zero].any(axis=1)
            clean = good & ~zero
            video_index = np.flatnonzero(keep)
        else:
            clean = good
            video_index = _NO_ZEROS  # only read for zero packets, and there are none

        j = 0
        while j < v:
            start = self._next
            if start == 0 and not (clean[j] and numbers[j] == 0):
                self._idle_packet(j, video_index, numbers, good, zero, events)
                j += 1
                continue
            stop = self._unit_packets
            if self._check_packet_20 and start <= SEGMENT_NUMBER_PACKET:
                stop = SEGMENT_NUMBER_PACKET + 1
            m = min(stop - start, v - j)
            ok = clean[j : j + m] & (numbers[j : j + m] == _ARANGE[start : start + m])
            k = m if ok.all() else int(ok.argmin())
            if k:
                self._unit[start : start + k] = video[j : j + k]
                j += k
                self._next = start + k
                if self._next == SEGMENT_NUMBER_PACKET + 1 and self._check_packet_20:
                    self._packet_20(events)
                if self._next == self._unit_packets:
                    self._finish_segment(events)
            if k < m:  # packet j breaks the segment in progress
                if zero[j]:
                    self._lose(SyncLossReason.ZERO_PACKET, events)
                elif not good[j]:
                    self._lose(SyncLossReason.CRC_ERROR, events)
                elif clean[j] and numbers[j] == 0 and self._ends_undecided_segment():
                    continue  # it begins the next segment
                else:
                    self._lose(SyncLossReason.PACKET_OUT_OF_ORDER, events)
                    if numbers[j] == 0:
                        continue  # it may begin the next segment
                self._idle_packet(j, video_index, numbers, good, zero, events)
                j += 1
        self._last_was_zero = bool(keep[-1] and zero[-1])

    def _idle_packet(
        self,
        j: int,
        video_index: np.ndarray,
        numbers: np.ndarray,
        good: np.ndarray,
        zero: np.ndarray,
        events: list[Event],
    ) -> None:
        """A packet seen while no segment is in progress that cannot begin one."""
        if zero[j]:
            self._sightings = 0  # units may be hidden in the zeros
            i = video_index[j]
            if i > 0:
                follows_zero = j > 0 and video_index[j - 1] == i - 1 and zero[j - 1]
            else:
                follows_zero = self._last_was_zero
            self._zero_run = self._zero_run + 1 if follows_zero else 1
            if self._zero_run == NO_SIGNAL_PACKETS:
                self.counters.no_signal += 1
                events.append(_NO_SIGNAL)
        elif not good[j]:
            self._lose(SyncLossReason.CRC_ERROR, events)
        else:
            self._lose(SyncLossReason.PACKET_OUT_OF_ORDER, events)

    def _ends_undecided_segment(self) -> bool:
        """While detecting: a clean packet 0 after the shortest possible segment ends it quietly."""
        if self._model is not None or self._next < self._undecided_min_packets:
            return False
        self._next = 0
        self._quiet = False
        return True

    def _lose(self, reason: SyncLossReason, events: list[Event]) -> None:
        self._next = 0
        self._segment_next = 1
        self._sightings = 0  # a segment may have gone unseen: start counting again
        if not self._quiet:
            self._quiet = True
            self.counters.sync_losses += 1
            events.append(SyncLost(reason))

    # --- segment level ------------------------------------------------------------

    def _packet_20(self, events: list[Event]) -> None:
        """Decide on a segment from its packet 20 (DS §4.2.3.1, docs/vospi.md §6.2)."""
        ttt = (
            int(self._unit[SEGMENT_NUMBER_PACKET, 0]) >> SEGMENT_NUMBER_SHIFT
        ) & SEGMENT_NUMBER_MASK
        if self._model is None:
            detected: Model | None
            if 1 <= ttt <= 4:
                detected = Model.LEPTON3
            elif ttt == 0:
                self._sightings += 1
                detected = (
                    Model.LEPTON2 if self._sightings >= AUTODETECT_LEPTON2_SIGHTINGS else None
                )
            else:
                self._lose(SyncLossReason.BAD_SEGMENT_NUMBER, events)
                return
            if detected is None:
                return  # follow the segment to its end, then look at the next one
            self._set_model(detected)
            events.append(ModelDetected(detected))
            if detected is Model.LEPTON2:
                return
        if ttt == 0:
            self._unit_segment = 0
            self._segment_next = 1
        elif ttt > 4:
            self._lose(SyncLossReason.BAD_SEGMENT_NUMBER, events)
        elif ttt == self._segment_next:
            self._unit_segment = ttt
        elif self._segment_next == 1:
            self._unit_segment = _SKIPPED
        else:
            self._lose(SyncLossReason.SEGMENT_OUT_OF_ORDER, events)

    def _finish_segment(self, events: list[Event]) -> None:
        self._next = 0
        self._quiet = False
        n = self._unit_packets
        if self._model is None:
            return
        if self._model is Model.LEPTON2:
            self._deliver(self._unit[:n], events)
            return
        segment = self._unit_segment
        if segment == 0:
            self.counters.invalid_segments += 1
        elif segment > 0:
            self._frame[(segment - 1) * n : segment * n] = self._unit[:n]
            if segment == self._model.segments:
                self._segment_next = 1
                self._deliver(self._frame, events)
            else:
                self._segment_next = segment + 1

    # --- frame level --------------------------------------------------------------

    def _deliver(self, packets: np.ndarray, events: list[Event]) -> None:
        layout = self._layout
        payload = packets[:, PAYLOAD_OFFSET:]
        image = payload[layout.image_start : layout.image_start + layout.image_packets]
        telemetry_bytes = None
        if layout.telemetry_start is not None:
            telemetry_bytes = payload[
                layout.telemetry_start : layout.telemetry_start + TELEMETRY_ROWS
            ]
            b = FRAME_COUNTER_WORD * 2
            lo_hi, lo_lo, hi_hi, hi_lo = telemetry_bytes[0, b : b + 4].tolist()
            counter = (lo_hi << 8 | lo_lo) | (hi_hi << 8 | hi_lo) << 16
            repeat = counter == self._last_counter
            self._last_counter = counter
        else:
            repeat = self._last_image is not None and np.array_equal(image, self._last_image)
            if not repeat:
                self._last_image = image.copy()
        if repeat:
            self.counters.repeated_frames += 1
            if self._drop_repeats:
                return
        pixels = image.view(">u2").astype(np.uint16).reshape(layout.model.rows, layout.model.cols)
        rows = telemetry = None
        if telemetry_bytes is not None:
            rows = telemetry_bytes.view(">u2").astype(np.uint16)
            telemetry = parse_telemetry(rows)
        self.counters.frames += 1
        events.append(FrameParsed(pixels, rows, telemetry))
