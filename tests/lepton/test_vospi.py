"""lepton.vospi: the pure VoSPI parser, at byte level (docs/vospi.md §3-§8)."""

from __future__ import annotations

import binascii
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lepton.models import Model, TelemetryLocation
from lepton.radiometry import PixelUnit, guess_unit
from lepton.simulator import VospiSimulator
from lepton.telemetry import encode_telemetry, parse_telemetry
from lepton.vospi import (
    AUTODETECT_LEPTON2_SIGHTINGS,
    NO_SIGNAL_PACKETS,
    PACKET_BYTES,
    FrameParsed,
    ModelDetected,
    NoSignal,
    SyncLossReason,
    SyncLost,
    VospiCounters,
    VospiParser,
    frame_layout,
)

L2, L3 = Model.LEPTON2, Model.LEPTON3
OFF, HEADER, FOOTER = TelemetryLocation.OFF, TelemetryLocation.HEADER, TelemetryLocation.FOOTER


# --- helpers: packets built by hand, with CRCs from binascii.crc_hqx -----------------------


def packet(packet_id: int, words) -> bytes:
    """A Raw14 packet with its CRC computed independently (docs/vospi.md §5)."""
    payload = np.asarray(words, dtype=">u2").tobytes()
    assert len(payload) == 160
    body = packet_id.to_bytes(2, "big") + b"\0\0" + payload
    crc = binascii.crc_hqx(bytes([body[0] & 0x0F]) + body[1:], 0)
    return body[:2] + crc.to_bytes(2, "big") + payload


DISCARD = bytes.fromhex("1FFFFFFF") + bytes.fromhex("DCD0DCADDCD2") + bytes(154)
ZERO_PACKET = bytes(PACKET_BYTES)


def l2_frame(pixels: np.ndarray) -> bytes:
    """A Lepton 2 frame without telemetry, one packet per row."""
    return b"".join(packet(row, pixels[row]) for row in range(60))


def l3_segment(pixels: np.ndarray, segment: int, ttt: int | None = None) -> bytes:
    """Segment 1-4 of a Lepton 3 frame; ``ttt`` overrides the segment number in packet 20."""
    half_rows = pixels.reshape(240, 80)[(segment - 1) * 60 : segment * 60]
    ttt = segment if ttt is None else ttt
    return b"".join(packet(p | (ttt << 12 if p == 20 else 0), half_rows[p]) for p in range(60))


def frames_of(events) -> list[np.ndarray]:
    return [e.pixels for e in events if isinstance(e, FrameParsed)]


def others(events) -> list:
    return [e for e in events if not isinstance(e, FrameParsed)]


def feed_in_chunks(parser: VospiParser, data: bytes, sizes) -> list:
    events, position = [], 0
    for size in itertools.cycle(sizes):
        if position >= len(data):
            return events
        events += parser.feed(data[position : position + size])
        position += size


def model_of(frame: np.ndarray) -> Model:
    return {(60, 80): L2, (120, 160): L3}[frame.shape]


RAMP_L2 = (np.arange(60 * 80, dtype=np.uint16) + 8000).reshape(60, 80)
RAMP_L3 = (np.arange(120 * 160, dtype=np.uint16) * 3 + 1000).reshape(120, 160)


# --- constants and models ---------------------------------------------------------------


def test_packet_size_and_models():
    """A packet is 164 bytes; models have their rows, cols, segments and packets per segment."""
    assert PACKET_BYTES == 164
    assert (L2.rows, L2.cols, L2.segments) == (60, 80, 1)
    assert (L3.rows, L3.cols, L3.segments) == (120, 160, 4)
    assert [frame_layout(L2, t).packets_per_segment for t in TelemetryLocation] == [60, 63, 63]
    assert [frame_layout(L3, t).packets_per_segment for t in TelemetryLocation] == [60, 61, 61]
    assert [frame_layout(m, OFF).image_packets for m in (L2, L3)] == [60, 240]
    assert [frame_layout(L2, t)[4:] for t in (OFF, HEADER, FOOTER)] == [
        (60, 0, None),
        (60, 3, 0),
        (60, 0, 60),
    ]
    assert [frame_layout(L3, t)[4:] for t in (OFF, HEADER, FOOTER)] == [
        (240, 0, None),
        (240, 4, 0),
        (240, 0, 240),
    ]


# --- hand-built packets --------------------------------------------------------------


def test_hand_built_lepton2_frame():
    """60 hand-built packets with crc_hqx CRCs, between discard packets, give exactly that frame."""
    parser = VospiParser(L2)
    events = parser.feed(DISCARD * 3 + l2_frame(RAMP_L2) + DISCARD)
    assert events == [FrameParsed(RAMP_L2)]
    assert events[0].pixels.dtype == np.uint16 and events[0].telemetry is None
    assert parser.counters == VospiCounters(packets=64, discard_packets=4, frames=1)


def test_hand_built_lepton3_frame():
    """Four hand-built segments (segment number in packet 20) give the 160x120 frame."""
    data = b"".join(l3_segment(RAMP_L3, s) + DISCARD for s in (1, 2, 3, 4))
    parser = VospiParser(L3)
    assert parser.feed(data) == [FrameParsed(RAMP_L3)]
    assert parser.counters.frames == 1 and parser.counters.invalid_segments == 0


def test_corrupted_packet_is_rejected():
    """One flipped payload bit: CRC error counted, SyncLost(CRC_ERROR), no frame."""
    data = bytearray(l2_frame(RAMP_L2))
    data[30 * PACKET_BYTES + 100] ^= 0x04
    parser = VospiParser(L2)
    assert parser.feed(bytes(data)) == [SyncLost(SyncLossReason.CRC_ERROR)]
    assert parser.counters.crc_errors == 1 and parser.counters.frames == 0
    assert parser.counters.sync_losses == 1


def test_recovers_on_next_frame_without_reset():
    """After a CRC error the next clean frame is delivered; SyncLost is reported once."""
    bad = bytearray(l2_frame(RAMP_L2))
    bad[5 * PACKET_BYTES + 2] ^= 0xFF
    other = RAMP_L2 + 1
    parser = VospiParser(L2)
    events = parser.feed(bytes(bad) + DISCARD + l2_frame(other))
    assert events == [SyncLost(SyncLossReason.CRC_ERROR), FrameParsed(other)]


def test_sync_lost_reported_once_until_reset():
    """Errors after a SyncLost are counted, not reported again, until reset()."""
    bad = bytearray(packet(7, range(80)))
    bad[50] ^= 1
    parser = VospiParser(L2)
    assert parser.feed(bytes(bad) * 3) == [SyncLost(SyncLossReason.CRC_ERROR)]
    assert parser.counters.crc_errors == 3 and parser.counters.sync_losses == 1
    parser.reset()
    assert parser.feed(bytes(bad)) == [SyncLost(SyncLossReason.CRC_ERROR)]


def test_packet_out_of_order():
    """A missing packet (29 then 31) drops the partial frame: SyncLost(PACKET_OUT_OF_ORDER)."""
    frame = l2_frame(RAMP_L2)
    data = frame[: 30 * PACKET_BYTES] + frame[31 * PACKET_BYTES :]
    parser = VospiParser(L2)
    assert parser.feed(data) == [SyncLost(SyncLossReason.PACKET_OUT_OF_ORDER)]
    assert parser.counters.frames == 0


def test_packet_zero_restarts_a_frame():
    """Packet 0 arriving mid-frame loses sync, then begins the next frame."""
    frame = l2_frame(RAMP_L2)
    parser = VospiParser(L2)
    events = parser.feed(frame[: 10 * PACKET_BYTES] + frame)
    assert events == [SyncLost(SyncLossReason.PACKET_OUT_OF_ORDER), FrameParsed(RAMP_L2)]


def test_discard_packets_inside_a_frame_are_skipped():
    """Discard packets between the packets of a frame are counted and skipped."""
    packets = [
        l2_frame(RAMP_L2)[k : k + PACKET_BYTES] for k in range(0, 60 * PACKET_BYTES, PACKET_BYTES)
    ]
    data = DISCARD.join(packets)
    parser = VospiParser(L2)
    assert parser.feed(data) == [FrameParsed(RAMP_L2)]
    assert parser.counters.discard_packets == 59


def test_discard_ids():
    """Every ID of the form xFxx is a discard packet, whatever its CRC and payload."""
    parser = VospiParser(L2)
    data = b"".join(
        bytes([hi, lo]) + bytes(162) for hi in (0x0F, 0x1F, 0x2F, 0xFF) for lo in (0, 0x55, 0xFF)
    )
    assert parser.feed(data) == []
    assert parser.counters == VospiCounters(packets=12, discard_packets=12)


def test_only_discards():
    """A stream of discards (or a bus stuck at 0xFF) gives no events, only counts."""
    parser = VospiParser()
    assert parser.feed(DISCARD * 100 + b"\xff" * PACKET_BYTES * 10) == []
    assert parser.counters == VospiCounters(packets=110, discard_packets=110)


# --- Lepton 3 segments --------------------------------------------------------------------


def test_invalid_segments_are_read_and_dropped():
    """Segments with number 0 are dropped and counted; the valid frame after them is delivered."""
    invalid = b"".join(l3_segment(RAMP_L3, s, ttt=0) for s in (1, 2, 3, 4))
    valid = b"".join(l3_segment(RAMP_L3, s) for s in (1, 2, 3, 4))
    parser = VospiParser(L3)
    assert parser.feed(invalid * 2 + valid) == [FrameParsed(RAMP_L3)]
    assert parser.counters.invalid_segments == 8


@pytest.mark.parametrize("ttt", [5, 6, 7])
def test_bad_segment_number(ttt):
    """Segment numbers 5-7 lose sync: SyncLost(BAD_SEGMENT_NUMBER)."""
    parser = VospiParser(L3)
    assert parser.feed(l3_segment(RAMP_L3, 1, ttt=ttt)) == [
        SyncLost(SyncLossReason.BAD_SEGMENT_NUMBER)
    ]


def test_segment_out_of_order():
    """Segment 3 right after segment 1 loses sync and drops the partial frame."""
    data = l3_segment(RAMP_L3, 1) + l3_segment(RAMP_L3, 3) + l3_segment(RAMP_L3, 4)
    parser = VospiParser(L3)
    assert parser.feed(data) == [SyncLost(SyncLossReason.SEGMENT_OUT_OF_ORDER)]
    assert parser.counters.frames == 0


def test_stream_joined_mid_frame():
    """Segments 3 and 4 before any segment 1 are skipped quietly; the next frame arrives."""
    tail = l3_segment(RAMP_L3, 3) + l3_segment(RAMP_L3, 4)
    frame = b"".join(l3_segment(RAMP_L3, s) for s in (1, 2, 3, 4))
    parser = VospiParser(L3)
    assert parser.feed(tail + frame) == [FrameParsed(RAMP_L3)]


def test_decision_at_packet_20():
    """A bad segment number is reported as soon as packet 20 arrives, before the segment ends."""
    parser = VospiParser(L3)
    segment = l3_segment(RAMP_L3, 1, ttt=6)
    assert parser.feed(segment[: 20 * PACKET_BYTES]) == []
    assert parser.feed(segment[20 * PACKET_BYTES : 21 * PACKET_BYTES]) == [
        SyncLost(SyncLossReason.BAD_SEGMENT_NUMBER)
    ]


# --- no signal ------------------------------------------------------------------------------


def test_no_signal_once_per_run():
    """60 zero packets emit one NoSignal; more add none; a new run after a discard emits again."""
    parser = VospiParser(L2)
    assert parser.feed(ZERO_PACKET * (NO_SIGNAL_PACKETS - 1)) == []
    assert parser.feed(ZERO_PACKET) == [NoSignal()]
    assert parser.feed(ZERO_PACKET * 200) == []
    assert parser.feed(DISCARD + ZERO_PACKET * NO_SIGNAL_PACKETS) == [NoSignal()]
    assert parser.counters.no_signal == 2 and parser.counters.frames == 0
    assert parser.counters.crc_errors == 0


def test_no_signal_byte_by_byte():
    """The zero-packet run is counted across feeds of any size."""
    parser = VospiParser(L2)
    events = feed_in_chunks(parser, ZERO_PACKET * NO_SIGNAL_PACKETS, [1])
    assert events == [NoSignal()]


def test_all_zero_packet_never_starts_a_frame():
    """Zeros pass the CRC as packet 0 but never begin a frame; a real frame after them arrives."""
    parser = VospiParser(L2)
    assert parser.feed(ZERO_PACKET * 3 + l2_frame(RAMP_L2)) == [FrameParsed(RAMP_L2)]


def test_zero_packet_inside_a_frame():
    """An all-zero packet inside a frame loses sync: SyncLost(ZERO_PACKET)."""
    frame = l2_frame(RAMP_L2)
    parser = VospiParser(L2)
    events = parser.feed(frame[: 30 * PACKET_BYTES] + ZERO_PACKET * NO_SIGNAL_PACKETS)
    assert events == [SyncLost(SyncLossReason.ZERO_PACKET), NoSignal()]


# --- repeated frames ---------------------------------------------------------------------------


def test_real_repeated_frames_are_dropped(load_data):
    """The real trace (frames 1=2, 3=4=5) gives 3 unique frames; all repeats are counted."""
    stack = load_data("brandoncurtis_LeptonModule__trace_raw00000001-06.stack.npy")
    data = b"".join(VospiSimulator(L2).encode_frame(frame) for frame in stack)
    parser = VospiParser(L2)
    frames = frames_of(parser.feed(data))
    assert [next(i for i, f in enumerate(stack) if np.array_equal(f, g)) for g in frames] == [
        0,
        2,
        5,
    ]
    assert parser.counters.frames == 3 and parser.counters.repeated_frames == 15


def test_repeats_delivered_when_asked(load_data):
    """drop_repeats=False delivers every frame but still counts the repeats."""
    stack = load_data("brandoncurtis_LeptonModule__trace_raw00000001-06.stack.npy")
    data = b"".join(VospiSimulator(L2).encode_frame(frame) for frame in stack)
    parser = VospiParser(L2, drop_repeats=False)
    frames = frames_of(parser.feed(data))
    assert len(frames) == 18 and parser.counters.repeated_frames == 15
    assert all(np.array_equal(f, stack[i // 3]) for i, f in enumerate(frames))


def test_repeats_by_frame_counter(load_data):
    """With telemetry the frame counter tells repeats: same pixels, new counter = new frame."""
    stack = load_data("brandoncurtis_LeptonModule__trace_raw00000001-06.stack.npy")
    simulator = VospiSimulator(L2, FOOTER)
    parser = VospiParser(L2, FOOTER)
    events = parser.feed(b"".join(simulator.encode_frame(frame) for frame in stack))
    assert [e.telemetry.frame_counter for e in events] == [1, 2, 3, 4, 5, 6]
    assert parser.counters.repeated_frames == 12


# --- round trips of every real frame --------------------------------------------------------


@pytest.mark.parametrize("telemetry", list(TelemetryLocation), ids=lambda t: t.value)
def test_round_trip_recorded_frame(recorded_frame, telemetry):
    """Every real frame, encoded by the simulator, parses back bit-identical, whole and chunked."""
    model = model_of(recorded_frame)
    simulator = VospiSimulator(model, telemetry, discard_packets=3)
    data = simulator.encode_frame(recorded_frame)
    for sizes in ([len(data)], [1000, 163, 165, 7, 4096], [PACKET_BYTES * 5 + 1]):
        parser = VospiParser(model, telemetry)
        events = feed_in_chunks(parser, data, sizes)
        assert len(events) == 1
        (frame,) = events
        assert frame.pixels.dtype == np.uint16 and frame.pixels.shape == (model.rows, model.cols)
        assert np.array_equal(frame.pixels, recorded_frame)
        if telemetry is OFF:
            assert frame.telemetry is None and frame.telemetry_rows is None
        else:
            assert frame.telemetry.frame_counter == 1
            assert frame.telemetry.agc_roi == (0, 0, model.cols - 1, model.rows - 1)
            assert frame.telemetry.tlinear_enabled == (
                guess_unit(recorded_frame) is PixelUnit.CENTIKELVIN
            )
            assert parse_telemetry(frame.telemetry_rows) == frame.telemetry
        assert parser.counters.crc_errors == parser.counters.sync_losses == 0


@pytest.mark.parametrize("model", [L2, L3])
@pytest.mark.parametrize("telemetry", list(TelemetryLocation), ids=lambda t: t.value)
def test_byte_by_byte(model, telemetry, load_data):
    """Fed one byte at a time, the stream gives the same frames as fed whole."""
    frame = load_data(
        "brandoncurtis_LeptonModule__raw1.npy"
        if model is L2
        else "Jkillelea_Lepton-3-Module__raw3.npy"
    )
    simulator = VospiSimulator(model, telemetry)
    data = simulator.encode_frame(frame) + simulator.encode_frame(frame + 1)
    whole = VospiParser(model, telemetry).feed(data)
    if model is L3:
        data = data[: len(data) // 3]  # a smaller case: the valid frame and a few invalid segments
        whole = whole[:1]
    assert feed_in_chunks(VospiParser(model, telemetry), data, [1]) == whole
    assert np.array_equal(whole[0].pixels, frame)


def test_partial_packet_kept_and_reset():
    """A partial packet waits for its rest; reset() forgets it so the next bytes start a packet."""
    parser = VospiParser(L2)
    frame = l2_frame(RAMP_L2)
    assert parser.feed(frame[:100]) == []
    assert parser.feed(frame[100:]) == [FrameParsed(RAMP_L2)]
    assert parser.feed(b"\x12" * 50) == []
    parser.reset()
    assert parser.feed(l2_frame(RAMP_L2 + 5)) == [FrameParsed(RAMP_L2 + 5)]
    assert parser.counters.packets == 120


def test_telemetry_header_and_footer_lepton3(load_data, shared_lepton):
    """Real tCam telemetry rows in a Lepton 3 header or footer come back decoded."""
    rows = np.load(shared_lepton("danjulio_tCam__agc_off.telemetry.npy"))
    pixels = np.load(shared_lepton("danjulio_tCam__agc_off.radiometric.npy"))
    for location in (HEADER, FOOTER):
        events = VospiParser(L3, location).feed(
            VospiSimulator(L3, location).encode_frame(pixels, parse_telemetry(rows))
        )
        assert len(events) == 1
        assert np.array_equal(events[0].pixels, pixels)
        assert events[0].telemetry.frame_counter == 59884
        assert np.array_equal(events[0].telemetry_rows, encode_telemetry(parse_telemetry(rows)))


# --- model detection --------------------------------------------------------------------------


def test_detects_lepton3_at_first_valid_segment():
    """A segment number 1-4 in packet 20 means Lepton 3 at once; the same frame is delivered."""
    parser = VospiParser()
    data = VospiSimulator(L3).encode_frame(RAMP_L3)
    assert parser.feed(data) == [ModelDetected(L3), FrameParsed(RAMP_L3)]
    assert parser.model is L3


def test_detects_lepton2_after_sightings():
    """Lepton 2 is decided after AUTODETECT_LEPTON2_SIGHTINGS packet-20 sightings of segment 0."""
    parser = VospiParser()
    simulator = VospiSimulator(L2)
    frames = [RAMP_L2 + k for k in range(6)]  # 18 frames on the wire
    events = parser.feed(b"".join(simulator.encode_frame(f) for f in frames))
    assert AUTODETECT_LEPTON2_SIGHTINGS == 12
    assert events[0] == ModelDetected(L2)
    # the 12th frame on the wire (a repeat of frame 3) completes: frames 3, 4, 5 are delivered
    assert events[1:] == [FrameParsed(frames[3]), FrameParsed(frames[4]), FrameParsed(frames[5])]
    assert parser.model is L2


# --- properties: arbitrary input never crashes or yields a bad frame --------------------------

POISON = 0xFFFE  # payload word of every packet whose CRC is wrong (no simulated frame has it)


SIMULATED = {
    (model, telemetry): VospiSimulator(model, telemetry).encode_frame(ramp)
    + VospiSimulator(model, telemetry).encode_frame(ramp + 1)
    for model, ramp in ((L2, RAMP_L2), (L3, RAMP_L3))
    for telemetry in TelemetryLocation
}


@st.composite
def packet_streams(draw):
    """Streams mixing good packets (any number, segment bits), bad-CRC packets, discards, zeros,
    junk, and runs of real simulated frames (either model, any telemetry placement)."""
    parts = []
    for _ in range(draw(st.integers(0, 120))):
        kind = draw(
            st.sampled_from(["good", "good", "bad", "discard", "zero", "junk", "sim", "sim"])
        )
        if kind == "sim":
            stream = SIMULATED[draw(st.sampled_from(sorted(SIMULATED, key=str)))]
            count = len(stream) // PACKET_BYTES
            start = draw(st.integers(0, count - 1))
            stop = draw(st.integers(start + 1, min(count, start + 800)))
            parts.append(stream[start * PACKET_BYTES : stop * PACKET_BYTES])
        elif kind in ("good", "bad"):
            number = draw(st.integers(0, 64))
            ttt = draw(st.integers(0, 7)) if number == 20 else draw(st.sampled_from([0, 0, 0, 3]))
            value = POISON if kind == "bad" else draw(st.integers(0, POISON - 1))
            data = bytearray(packet(number | ttt << 12, [value] * 80))
            if kind == "bad":
                data[2] ^= 0x01
            parts.append(bytes(data))
        elif kind == "discard":
            parts.append(DISCARD)
        elif kind == "zero":
            parts.append(ZERO_PACKET)
        else:
            parts.append(draw(st.binary(max_size=200)))
    return b"".join(parts)


def check_events(parser: VospiParser, events, model: Model | None) -> None:
    for event in events:
        assert isinstance(event, (FrameParsed, SyncLost, NoSignal, ModelDetected))
        if isinstance(event, FrameParsed):
            shape = (parser.model.rows, parser.model.cols)
            assert parser.model is (model or parser.model)
            assert event.pixels.shape == shape and event.pixels.dtype == np.uint16
            assert not (event.pixels == POISON).any()
            if event.telemetry_rows is not None:
                assert event.telemetry_rows.shape == (3, 80)
                assert not (event.telemetry_rows == POISON).any()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    packet_streams(),
    st.sampled_from([None, L2, L3]),
    st.sampled_from(list(TelemetryLocation)),
    st.lists(st.integers(1, 3000), min_size=1, max_size=5),
)
def test_arbitrary_streams(data, model, telemetry, sizes):
    """Any stream, any chunks: no exception, right shapes, no bad-CRC frame, events as whole."""
    whole_parser = VospiParser(model, telemetry)
    whole = whole_parser.feed(data)
    check_events(whole_parser, whole, model)
    chunked_parser = VospiParser(model, telemetry)
    chunked = feed_in_chunks(chunked_parser, data, sizes)
    assert chunked == whole
    assert chunked_parser.counters == whole_parser.counters
    assert whole_parser.counters.packets == len(data) // PACKET_BYTES


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=5000),
    st.sampled_from([None, L2, L3]),
    st.sampled_from(list(TelemetryLocation)),
)
def test_random_bytes(data, model, telemetry):
    """Random bytes never raise and never produce a frame."""
    parser = VospiParser(model, telemetry)
    events = parser.feed(data)
    assert frames_of(events) == []
    assert parser.counters.packets == len(data) // PACKET_BYTES
