"""lepton.telemetry: decoding rows A-C (docs/vospi.md §7) on real tCam rows and round trips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lepton.telemetry import FfcState, Telemetry, encode_telemetry, parse_telemetry


def tcam(shared_lepton, name: str) -> Telemetry:
    rows = np.load(shared_lepton(f"danjulio_tCam__{name}.telemetry.npy"))
    assert rows.shape == (3, 80) and rows.dtype == np.uint16
    return parse_telemetry(rows)


def test_tcam_agc_off(shared_lepton):
    """The tCam agc_off rows decode to the values its README states."""
    t = tcam(shared_lepton, "agc_off")
    assert t.revision == 14
    assert t.uptime_ms == 6_829_926
    assert t.status == 0x0830
    assert t.frame_counter == 59884
    assert t.fpa_temp_ck == 30613
    assert t.fpa_temp_c == pytest.approx(32.98)
    assert t.housing_temp_ck == 30518
    assert t.agc_roi == (0, 0, 159, 119)
    assert (t.agc_clip_high, t.agc_clip_low) == (19200, 512)
    assert t.tlinear_enabled is True and t.tlinear_resolution_k == 0.01
    assert (t.spotmeter_mean, t.spotmeter_max, t.spotmeter_min) == (29487, 29500, 29481)
    assert t.video_format == 7
    assert t.ffc_state is FfcState.COMPLETE
    assert not (t.agc_enabled or t.ffc_desired or t.shutter_lockout or t.overtemp_imminent)
    assert t.uptime_at_last_ffc_ms == 46142 + (102 << 16)
    assert t.fpa_temp_at_last_ffc_ck == 30663


def test_tcam_agc_on(shared_lepton):
    """The agc_on rows: status 0x1830 (AGC bit 12 set), TLinear off, counter 59505."""
    t = tcam(shared_lepton, "agc_on")
    assert (t.status, t.frame_counter, t.fpa_temp_ck) == (0x1830, 59505, 30631)
    assert t.agc_enabled is True
    assert t.tlinear_enabled is False and t.tlinear_resolution_k == 0.01


def test_tcam_fox(shared_lepton):
    """The fox rows: counter 499, status 0x0830, gain mode auto (2)."""
    t = tcam(shared_lepton, "fox")
    assert (t.frame_counter, t.status, t.gain_mode, t.effective_gain) == (499, 0x0830, 2, 0)
    assert t.fpa_temp_ck == 29428 and t.tlinear_enabled


def base_telemetry(**changes) -> Telemetry:
    fields = dict(
        revision=14,
        uptime_ms=1,
        status=0,
        frame_counter=1,
        frame_mean=0,
        fpa_temp_ck=30000,
        housing_temp_ck=30000,
        fpa_temp_at_last_ffc_ck=0,
        uptime_at_last_ffc_ms=0,
        agc_roi=(0, 0, 79, 59),
        agc_clip_high=4800,
        agc_clip_low=512,
        video_format=7,
        gain_mode=0,
        effective_gain=0,
        tlinear_enabled=False,
        tlinear_resolution_k=0.1,
        spotmeter_mean=0,
        spotmeter_max=0,
        spotmeter_min=0,
    )
    fields.update(changes)
    return Telemetry(**fields)


@pytest.mark.parametrize(
    "revision, states",
    [
        (8, [FfcState.NEVER_COMMANDED, FfcState.IN_PROGRESS, FfcState.COMPLETE, FfcState.UNKNOWN]),
        (9, [FfcState.NEVER_COMMANDED, FfcState.IMMINENT, FfcState.IN_PROGRESS, FfcState.COMPLETE]),
        (
            14,
            [FfcState.NEVER_COMMANDED, FfcState.IMMINENT, FfcState.IN_PROGRESS, FfcState.COMPLETE],
        ),
    ],
)
def test_ffc_state_by_revision(revision, states):
    """Status bits 5-4 decode per revision: 8 has no 'imminent' state (docs/vospi.md §7.3)."""
    decoded = [base_telemetry(revision=revision, status=v << 4).ffc_state for v in range(4)]
    assert decoded == states


def test_status_flags():
    """Bits 3, 12, 15 and 20 are FFC desired, AGC, shutter lockout, over-temperature."""
    t = base_telemetry(status=(1 << 3) | (1 << 12) | (1 << 15) | (1 << 20))
    assert t.ffc_desired and t.agc_enabled and t.shutter_lockout and t.overtemp_imminent
    assert not base_telemetry(
        status=0xFFFFFFFF & ~((1 << 3) | (1 << 12) | (1 << 15) | (1 << 20))
    ).agc_enabled


def test_32_bit_values_are_least_significant_word_first():
    """Uptime 0x12345678 is stored as words 0x5678, 0x1234 (docs/vospi.md §7.1)."""
    rows = encode_telemetry(base_telemetry(uptime_ms=0x12345678, frame_counter=0x00010002))
    assert rows[0, 1:3].tolist() == [0x5678, 0x1234]
    assert rows[0, 20:22].tolist() == [0x0002, 0x0001]


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)


@given(
    st.builds(
        Telemetry,
        revision=u16,
        uptime_ms=u32,
        status=u32,
        frame_counter=u32,
        frame_mean=u16,
        fpa_temp_ck=u16,
        housing_temp_ck=u16,
        fpa_temp_at_last_ffc_ck=u16,
        uptime_at_last_ffc_ms=u32,
        agc_roi=st.tuples(u16, u16, u16, u16),
        agc_clip_high=u16,
        agc_clip_low=u16,
        video_format=u32,
        gain_mode=u16,
        effective_gain=u16,
        tlinear_enabled=st.booleans(),
        tlinear_resolution_k=st.sampled_from([0.01, 0.1]),
        spotmeter_mean=u16,
        spotmeter_max=u16,
        spotmeter_min=u16,
    )
)
def test_encode_parse_round_trip(telemetry):
    """parse_telemetry(encode_telemetry(t)) == t for every representable t."""
    rows = encode_telemetry(telemetry)
    assert rows.shape == (3, 80) and rows.dtype == np.uint16
    assert parse_telemetry(rows) == telemetry


def test_wrong_shape():
    """Rows that are not (3, 80) raise ShapeError with the shape in the message."""
    with pytest.raises(ValueError) as caught:
        parse_telemetry(np.zeros((2, 80), np.uint16))
    assert str(caught.value) == "telemetry rows must be (3, 80) uint16, got (2, 80) uint16"


def test_telemetry_is_frozen():
    """Telemetry is immutable."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        base_telemetry().revision = 9
