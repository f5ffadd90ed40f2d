"""Parse (and, for the simulator, build) the Lepton's three telemetry rows.

With telemetry enabled the Lepton sends three rows of 80 words, A, B and C, in
the frame header or footer (where they sit in the stream is
:mod:`lepton.vospi`'s business). This module only turns those 240 words into a
:class:`Telemetry` and back. Multi-word values are least-significant word
first. Word offsets below are into the 240-word block (row B starts at 80,
row C at 160).
Sources: FLIR Lepton Engineering Datasheet §3.4 Tables 2-3; Lepton Software
IDD §4.5.7-8 (docs/vospi.md §7). Checked against real Lepton 3.5 rows
captured by danjulio's tCam (GPL-3.0 data, not in this repository;
tests/lepton/test_telemetry.py reads them when they are present).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .errors import ShapeError
from .radiometry import KELVIN_AT_0_C

__all__ = [
    "TELEMETRY_ROWS",
    "TELEMETRY_WORDS_PER_ROW",
    "FRAME_COUNTER_WORD",
    "FfcState",
    "Telemetry",
    "encode_telemetry",
    "parse_telemetry",
]

TELEMETRY_ROWS = 3  # rows A, B, C (docs/vospi.md §7.1)
TELEMETRY_WORDS_PER_ROW = 80  # one Raw14 packet payload (docs/vospi.md §3)
_ROW_B = TELEMETRY_WORDS_PER_ROW
_ROW_C = 2 * TELEMETRY_WORDS_PER_ROW

# Row A (DS Table 2, docs/vospi.md §7.2)
_REVISION = 0
_UPTIME_MS = 1  # 32-bit
_STATUS = 3  # 32-bit
FRAME_COUNTER_WORD = 20  # 32-bit
_FRAME_MEAN = 22
_FPA_TEMP_CK = 24
_HOUSING_TEMP_CK = 26
_FPA_TEMP_AT_LAST_FFC_CK = 29
_UPTIME_AT_LAST_FFC_MS = 30  # 32-bit
_AGC_ROI = 34  # 4 words: start col, start row, end col, end row (as observed, docs/vospi.md §7.2)
_AGC_CLIP_HIGH = 38
_AGC_CLIP_LOW = 39
_VIDEO_FORMAT = 72  # 32-bit enum: 7 RAW14, 3 RGB888
# Row C (DS Table 2, docs/vospi.md §7.4)
_GAIN_MODE = _ROW_C + 5
_EFFECTIVE_GAIN = _ROW_C + 6
_TLINEAR_ENABLED = _ROW_C + 48
_TLINEAR_RESOLUTION = _ROW_C + 49  # 0 = 0.1 K, 1 = 0.01 K
_SPOTMETER_MEAN = _ROW_C + 50
_SPOTMETER_MAX = _ROW_C + 51
_SPOTMETER_MIN = _ROW_C + 52

# Status bits, row A words 3-4 as one 32-bit value (DS Table 3, docs/vospi.md §7.3)
STATUS_FFC_DESIRED = 1 << 3
STATUS_FFC_STATE_SHIFT = 4
STATUS_FFC_STATE_MASK = 0x3
STATUS_AGC_ENABLED = 1 << 12
STATUS_SHUTTER_LOCKOUT = 1 << 15
STATUS_OVERTEMP_IMMINENT = 1 << 20
# Telemetry revision 8 numbers the FFC states differently (docs/vospi.md §7.3).
_REV8 = 8

_RESOLUTION_K = {0: 0.1, 1: 0.01}


class FfcState(enum.Enum):
    """Flat-field correction state, status bits 5-4 (DS Table 3, docs/vospi.md §7.3)."""

    NEVER_COMMANDED = "never_commanded"
    IMMINENT = "imminent"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    UNKNOWN = "unknown"  # value 3 under revision 8 (not defined there)


_FFC_STATES = (FfcState.NEVER_COMMANDED, FfcState.IMMINENT, FfcState.IN_PROGRESS, FfcState.COMPLETE)
_FFC_STATES_REV8 = (
    FfcState.NEVER_COMMANDED,
    FfcState.IN_PROGRESS,
    FfcState.COMPLETE,
    FfcState.UNKNOWN,
)


@dataclass(frozen=True)
class Telemetry:
    """The telemetry fields this product uses, from rows A and C.

    Temperatures are kelvin x 100 (``_ck``); times are milliseconds since the
    camera booted; spotmeter values are in the frame's pixel unit. The
    status flags (``ffc_desired`` ...) are properties decoded from ``status``.

    Attributes:
        revision: telemetry revision word (A0); 14 on current Lepton 3.5.
        uptime_ms: A1-2.
        status: A3-4, the 32-bit status word.
        frame_counter: A20-21; increments once per unique frame.
        frame_mean: A22.
        fpa_temp_ck, housing_temp_ck: A24, A26.
        fpa_temp_at_last_ffc_ck: A29. uptime_at_last_ffc_ms: A30-31.
        agc_roi: A34-37, (start_col, start_row, end_col, end_row) as real
            cameras fill it (the datasheet's order differs, docs/vospi.md §7.2).
        agc_clip_high, agc_clip_low: A38, A39.
        video_format: A72-73, 7 = RAW14, 3 = RGB888.
        gain_mode: C5, 0 high, 1 low, 2 auto. effective_gain: C6, 0 high, 1 low.
        tlinear_enabled: C48. tlinear_resolution_k: C49 as 0.01 or 0.1 K.
        spotmeter_mean, spotmeter_max, spotmeter_min: C50-52.
    """

    revision: int
    uptime_ms: int
    status: int
    frame_counter: int
    frame_mean: int
    fpa_temp_ck: int
    housing_temp_ck: int
    fpa_temp_at_last_ffc_ck: int
    uptime_at_last_ffc_ms: int
    agc_roi: tuple[int, int, int, int]
    agc_clip_high: int
    agc_clip_low: int
    video_format: int
    gain_mode: int
    effective_gain: int
    tlinear_enabled: bool
    tlinear_resolution_k: float
    spotmeter_mean: int
    spotmeter_max: int
    spotmeter_min: int

    @property
    def ffc_desired(self) -> bool:
        """Status bit 3: the camera wants a flat-field correction."""
        return bool(self.status & STATUS_FFC_DESIRED)

    @property
    def ffc_state(self) -> FfcState:
        """Status bits 5-4, decoded per revision (8 differs from >= 9, docs/vospi.md §7.3)."""
        value = (self.status >> STATUS_FFC_STATE_SHIFT) & STATUS_FFC_STATE_MASK
        states = _FFC_STATES_REV8 if self.revision <= _REV8 else _FFC_STATES
        return states[value]

    @property
    def agc_enabled(self) -> bool:
        """Status bit 12: AGC on (pixels are 8-bit AGC output, not temperatures)."""
        return bool(self.status & STATUS_AGC_ENABLED)

    @property
    def shutter_lockout(self) -> bool:
        """Status bit 15: shutter locked out (camera too hot or cold)."""
        return bool(self.status & STATUS_SHUTTER_LOCKOUT)

    @property
    def overtemp_imminent(self) -> bool:
        """Status bit 20: over-temperature shutdown in about 10 s."""
        return bool(self.status & STATUS_OVERTEMP_IMMINENT)

    @property
    def fpa_temp_c(self) -> float:
        """Focal-plane-array temperature, degrees Celsius."""
        return self.fpa_temp_ck / 100.0 - KELVIN_AT_0_C


def _check_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.shape != (TELEMETRY_ROWS, TELEMETRY_WORDS_PER_ROW):
        raise ShapeError("telemetry rows", "(3, 80) uint16", f"{rows.shape} {rows.dtype}")
    return rows


def parse_telemetry(rows: np.ndarray) -> Telemetry:
    """Decode telemetry rows A, B, C.

    Args:
        rows: ndarray (3, 80) of 16-bit words in host order (as
            :class:`lepton.vospi.FrameParsed` delivers them).

    Returns:
        The decoded :class:`Telemetry`.

    Raises:
        ShapeError: ``rows`` is not (3, 80).
    """
    w = _check_rows(rows).ravel().tolist()

    def u32(k: int) -> int:
        return w[k] | (w[k + 1] << 16)

    return Telemetry(
        revision=w[_REVISION],
        uptime_ms=u32(_UPTIME_MS),
        status=u32(_STATUS),
        frame_counter=u32(FRAME_COUNTER_WORD),
        frame_mean=w[_FRAME_MEAN],
        fpa_temp_ck=w[_FPA_TEMP_CK],
        housing_temp_ck=w[_HOUSING_TEMP_CK],
        fpa_temp_at_last_ffc_ck=w[_FPA_TEMP_AT_LAST_FFC_CK],
        uptime_at_last_ffc_ms=u32(_UPTIME_AT_LAST_FFC_MS),
        agc_roi=tuple(w[_AGC_ROI : _AGC_ROI + 4]),
        agc_clip_high=w[_AGC_CLIP_HIGH],
        agc_clip_low=w[_AGC_CLIP_LOW],
        video_format=u32(_VIDEO_FORMAT),
        gain_mode=w[_GAIN_MODE],
        effective_gain=w[_EFFECTIVE_GAIN],
        tlinear_enabled=bool(w[_TLINEAR_ENABLED]),
        tlinear_resolution_k=_RESOLUTION_K.get(w[_TLINEAR_RESOLUTION], 0.1),
        spotmeter_mean=w[_SPOTMETER_MEAN],
        spotmeter_max=w[_SPOTMETER_MAX],
        spotmeter_min=w[_SPOTMETER_MIN],
    )


def encode_telemetry(telemetry: Telemetry) -> np.ndarray:
    """Build telemetry rows from a :class:`Telemetry` (used by the simulator).

    Words this module does not decode (serial number, row B, ...) are 0, so
    ``parse_telemetry(encode_telemetry(t)) == t`` for any ``t`` whose fields
    fit their words (16 or 32 bits, resolution 0.01 or 0.1).

    Returns:
        ndarray uint16 (3, 80), host order.
    """
    t = telemetry
    w = np.zeros(TELEMETRY_ROWS * TELEMETRY_WORDS_PER_ROW, dtype=np.uint16)

    def put32(k: int, value: int) -> None:
        w[k] = value & 0xFFFF
        w[k + 1] = (value >> 16) & 0xFFFF

    w[_REVISION] = t.revision
    put32(_UPTIME_MS, t.uptime_ms)
    put32(_STATUS, t.status)
    put32(FRAME_COUNTER_WORD, t.frame_counter)
    w[_FRAME_MEAN] = t.frame_mean
    w[_FPA_TEMP_CK] = t.fpa_temp_ck
    w[_HOUSING_TEMP_CK] = t.housing_temp_ck
    w[_FPA_TEMP_AT_LAST_FFC_CK] = t.fpa_temp_at_last_ffc_ck
    put32(_UPTIME_AT_LAST_FFC_MS, t.uptime_at_last_ffc_ms)
    w[_AGC_ROI : _AGC_ROI + 4] = t.agc_roi
    w[_AGC_CLIP_HIGH] = t.agc_clip_high
    w[_AGC_CLIP_LOW] = t.agc_clip_low
    put32(_VIDEO_FORMAT, t.video_format)
    w[_GAIN_MODE] = t.gain_mode
    w[_EFFECTIVE_GAIN] = t.effective_gain
    w[_TLINEAR_ENABLED] = int(t.tlinear_enabled)
    w[_TLINEAR_RESOLUTION] = 1 if t.tlinear_resolution_k == 0.01 else 0
    w[_SPOTMETER_MEAN] = t.spotmeter_mean
    w[_SPOTMETER_MAX] = t.spotmeter_max
    w[_SPOTMETER_MIN] = t.spotmeter_min
    return w.reshape(TELEMETRY_ROWS, TELEMETRY_WORDS_PER_ROW)
