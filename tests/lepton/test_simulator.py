"""lepton.simulator: the bytes a real Lepton would send (docs/vospi.md §3-§8)."""

from __future__ import annotations

import binascii

import numpy as np
import pytest

from lepton.errors import LeptonError
from lepton.models import Model, TelemetryLocation
from lepton.simulator import DISCARD_PREFIX, FaultConfig, FaultKind, VospiSimulator
from lepton.telemetry import encode_telemetry, parse_telemetry
from lepton.vospi import PACKET_BYTES, VospiParser

L2, L3 = Model.LEPTON2, Model.LEPTON3
OFF, HEADER, FOOTER = TelemetryLocation.OFF, TelemetryLocation.HEADER, TelemetryLocation.FOOTER


def packets_of(data: bytes) -> np.ndarray:
    assert len(data) % PACKET_BYTES == 0
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKET_BYTES)


def ids(packets: np.ndarray) -> list[int]:
    return (packets[:, 0].astype(int) << 8 | packets[:, 1]).tolist()


def crc_ok(row: np.ndarray) -> bool:
    data = row.tobytes()
    return binascii.crc_hqx(
        bytes([data[0] & 0x0F]) + data[1:2] + b"\0\0" + data[4:], 0
    ) == int.from_bytes(data[2:4], "big")


def is_discard(row: np.ndarray) -> bool:
    return row[0] & 0x0F == 0x0F


def test_lepton2_stream_layout(load_data):
    """Lepton 2: the frame 3 times, rows 0-59 big-endian with valid CRCs, 2 discards after each."""
    frame = load_data("brandoncurtis_LeptonModule__raw1.npy")
    packets = packets_of(VospiSimulator(L2).encode_frame(frame))
    assert len(packets) == 3 * (60 + 2)
    video = np.array([p for p in packets if not is_discard(p)])
    assert ids(video) == list(range(60)) * 3
    assert all(crc_ok(p) for p in video)
    assert np.array_equal(video[:60, 4:].copy().view(">u2"), frame)


def test_discard_packets_look_real():
    """Discard packets have ID xFFF, CRC field FFFF and the payload start seen on real hardware."""
    packets = packets_of(
        VospiSimulator(L2, discard_packets=5).encode_frame(np.zeros((60, 80), np.uint16))
    )
    discards = [p for p in packets if is_discard(p)]
    assert len(discards) == 15
    for p in discards:
        assert ids(p[None])[0] in (0x0FFF, 0x1FFF, 0x2FFF)
        assert p[2:4].tolist() == [0xFF, 0xFF]
        assert p[4:10].tobytes() == DISCARD_PREFIX


def test_lepton3_segments_and_invalid_frames(load_data):
    """Lepton 3: segments 1-4 then 8 invalid segments, the number only in packet 20, CRCs valid."""
    frame = load_data("Jkillelea_Lepton-3-Module__raw1.npy")
    packets = packets_of(VospiSimulator(L3, discard_packets=0).encode_frame(frame))
    assert len(packets) == 12 * 60
    segments = packets.reshape(12, 60, PACKET_BYTES)
    assert [int(s[20, 0]) >> 4 for s in segments] == [1, 2, 3, 4] + [0] * 8
    assert all(int(s[p, 0]) >> 4 == 0 for s in segments for p in range(60) if p != 20)
    assert all(crc_ok(p) for p in packets)
    image = segments[:4, :, 4:].copy().view(">u2").reshape(120, 160)
    assert np.array_equal(image, frame)


@pytest.mark.parametrize(
    "model, location, positions",
    [
        (L2, HEADER, [0, 1, 2]),
        (L2, FOOTER, [60, 61, 62]),
        (L3, HEADER, [0, 1, 2]),
        (L3, FOOTER, [3 * 61 + 57, 3 * 61 + 58, 3 * 61 + 59]),
    ],
)
def test_telemetry_rows_placement(model, location, positions):
    """Telemetry rows A-C sit where the datasheet puts them (docs/vospi.md §7.1)."""
    simulator = VospiSimulator(model, location, discard_packets=0)
    frame = np.full((model.rows, model.cols), 30000, np.uint16)
    telemetry = simulator.make_telemetry(frame)
    packets = packets_of(simulator.encode_frame(frame, telemetry))
    rows = packets[positions, 4:].copy().view(">u2")
    assert np.array_equal(rows, encode_telemetry(telemetry))
    assert parse_telemetry(rows).tlinear_enabled


def test_frame_counter_increments_per_unique_frame():
    """The telemetry frame counter goes up by one per unique frame, not per repeat."""
    simulator = VospiSimulator(L2, FOOTER)
    frame = np.full((60, 80), 8000, np.uint16)
    parser = VospiParser(L2, FOOTER, drop_repeats=False)
    events = parser.feed(simulator.encode_frame(frame) + simulator.encode_frame(frame))
    assert [e.telemetry.frame_counter for e in events] == [1, 1, 1, 2, 2, 2]


def test_same_seed_same_stream():
    """The stream, faults included, is a function of the seed."""
    frames = [np.full((60, 80), v, np.uint16) for v in range(8000, 8010)]
    config = FaultConfig(0.05)
    one = b"".join(VospiSimulator(L2, faults=config, seed=4).stream(frames))
    two = b"".join(VospiSimulator(L2, faults=config, seed=4).stream(frames))
    three = b"".join(VospiSimulator(L2, faults=config, seed=5).stream(frames))
    assert one == two != three


def test_no_faults_stream_equals_encode_frame():
    """Without faults, stream() is encode_frame() of each frame in turn."""
    frames = [np.full((120, 160), v, np.uint16) for v in (1, 2, 3)]
    streamed = b"".join(VospiSimulator(L3, seed=1).stream(frames))
    encoder = VospiSimulator(L3, seed=1)
    assert streamed == b"".join(encoder.encode_frame(f) for f in frames)


def test_bit_flips():
    """Bit-flip faults invert exactly one bit per faulted packet."""
    frame = np.full((60, 80), 8000, np.uint16)
    clean = VospiSimulator(L2).encode_frame(frame)
    simulator = VospiSimulator(L2, faults=FaultConfig(1.0, (FaultKind.BIT_FLIP,)))
    flipped = b"".join(simulator.stream([frame]))
    assert len(flipped) == len(clean)
    diff = np.frombuffer(clean, np.uint8) ^ np.frombuffer(flipped, np.uint8)
    per_packet = np.unpackbits(diff.reshape(-1, PACKET_BYTES), axis=1).sum(axis=1)
    assert per_packet.tolist() == [1] * len(per_packet)
    assert simulator.injected[FaultKind.BIT_FLIP] == len(per_packet)


def test_drops_and_truncation():
    """Dropped packets shorten the stream by whole packets; truncation leaves it misaligned."""
    frame = np.full((60, 80), 8000, np.uint16)
    clean_length = len(VospiSimulator(L2).encode_frame(frame))
    dropper = VospiSimulator(L2, faults=FaultConfig(0.1, (FaultKind.DROP,)), seed=2)
    dropped = b"".join(dropper.stream([frame]))
    assert len(dropped) == clean_length - dropper.injected[FaultKind.DROP] * PACKET_BYTES > 0
    truncater = VospiSimulator(L2, faults=FaultConfig(0.02, (FaultKind.TRUNCATE,)), seed=2)
    truncated = b"".join(truncater.stream([frame]))
    assert truncater.injected[FaultKind.TRUNCATE] >= 1
    assert len(truncated) < clean_length


@pytest.mark.parametrize("model, skipped", [(L2, 5), (L3, 20)])
def test_resync_skips_the_pause(model, skipped):
    """resync() skips the units sent during 185 ms: 5 Lepton 2 frames or 20 Lepton 3 segments."""
    frames = [np.full((model.rows, model.cols), v, np.uint16) for v in range(10)]
    simulator = VospiSimulator(model)
    units = simulator.units(frames)
    assert next(units)[0] == 0
    simulator.resync()
    per_unique = 3 * model.segments
    index, _ = next(units)
    assert index == (1 + skipped) // per_unique


def test_bad_arguments():
    """Wrong frame shapes and bad fault rates raise errors that say what was wrong."""
    with pytest.raises(ValueError) as caught:
        VospiSimulator(L3).encode_frame(np.zeros((60, 80), np.uint16))
    assert str(caught.value) == "pixels must be (120, 160) uint16, got (60, 80) uint16"
    with pytest.raises(ValueError) as caught:
        VospiSimulator(L2).encode_frame(np.zeros((60, 80), np.int32))
    assert str(caught.value) == "pixels must be (60, 80) uint16, got (60, 80) int32"
    with pytest.raises(LeptonError) as caught:
        FaultConfig(1.5)
    assert str(caught.value) == "rate must be 0.0..1.0, got 1.5"
    with pytest.raises(LeptonError) as caught:
        VospiSimulator(L2, discard_packets=-1)
    assert str(caught.value) == "discard_packets must be >= 0, got -1"
