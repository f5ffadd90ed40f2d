"""lepton.transport: the simulated transport's reads, pacing and resync."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lepton.models import Model
from lepton.simulator import FaultConfig, FaultKind, VospiSimulator
from lepton.transport import MAX_SLEEP_PER_READ_S, SimulatedTransport, Transport
from lepton.vospi import PACKET_BYTES, UNIQUE_FRAME_RATE_HZ, FrameParsed, VospiParser


class FakeTime:
    """A clock that only moves when slept on; records the sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def frames_l2(count: int) -> list[np.ndarray]:
    return [np.full((60, 80), 8000 + k, np.uint16) for k in range(count)]


def test_is_a_transport():
    """SimulatedTransport satisfies the Transport protocol."""
    assert isinstance(SimulatedTransport(VospiSimulator(Model.LEPTON2), []), Transport)


def test_reads_whole_packets_then_ends():
    """Reads return whole packets, the whole stream in order, then b"" at the end."""
    simulator = VospiSimulator(Model.LEPTON2, seed=1)
    expected = b"".join(VospiSimulator(Model.LEPTON2, seed=1).stream(frames_l2(2)))
    transport = SimulatedTransport(simulator, frames_l2(2))
    chunks = list(iter(lambda: transport.read(1000), b""))
    assert all(len(c) % PACKET_BYTES == 0 and 0 < len(c) <= 984 for c in chunks)
    assert b"".join(chunks) == expected
    assert transport.read(PACKET_BYTES) == b""


def test_read_smaller_than_a_packet():
    """A read of less than one packet is an error naming the limit."""
    transport = SimulatedTransport(VospiSimulator(Model.LEPTON2), frames_l2(1))
    with pytest.raises(ValueError) as caught:
        transport.read(100)
    assert str(caught.value) == "n_bytes must be >= 164 (one packet), got 100"


def test_max_read_bytes_rounded_to_packets():
    """max_read_bytes defaults to spidev's 4096 rounded down to 24 packets."""
    assert SimulatedTransport(VospiSimulator(Model.LEPTON2), []).max_read_bytes == 3936
    assert (
        SimulatedTransport(VospiSimulator(Model.LEPTON2), [], max_read_bytes=500).max_read_bytes
        == 492
    )


def test_realtime_pacing():
    """In realtime unique frames come at 8.7 Hz, no read sleeps over 0.2 s, idle reads discard."""
    fake = FakeTime()
    transport = SimulatedTransport(
        VospiSimulator(Model.LEPTON2),
        frames_l2(5),
        realtime=True,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    parser = VospiParser(Model.LEPTON2)
    arrivals = []
    while data := transport.read(transport.max_read_bytes):
        arrivals += [fake.now for e in parser.feed(data) if isinstance(e, FrameParsed)]
    assert len(arrivals) == 5
    assert np.diff(arrivals) == pytest.approx([1 / UNIQUE_FRAME_RATE_HZ] * 4)
    assert max(fake.sleeps) <= MAX_SLEEP_PER_READ_S


def test_read_ahead_of_the_camera_returns_discards():
    """A realtime read before the next frame is due sleeps at most 0.2 s, then returns discards."""
    sleeps = []
    transport = SimulatedTransport(
        VospiSimulator(Model.LEPTON2),
        frames_l2(3),
        realtime=True,
        sleep=sleeps.append,
        clock=lambda: 5.0,
    )
    first = transport.read(transport.max_read_bytes)  # frame 0 is due at once
    assert first and sleeps == []
    while not sleeps:  # the rest of frame 0 (three copies), then a read that has to wait
        assert transport.read(transport.max_read_bytes)
    packets = np.frombuffer(transport.read(transport.max_read_bytes), np.uint8).reshape(
        -1, PACKET_BYTES
    )
    assert len(packets) == 24 and ((packets[:, 0] & 0x0F) == 0x0F).all()
    assert sleeps == [pytest.approx(1 / UNIQUE_FRAME_RATE_HZ)] * 2


def test_resync_realigns_after_truncation():
    """A truncated packet misaligns the stream until resync(), which realigns it and sleeps."""
    fake = FakeTime()
    simulator = VospiSimulator(
        Model.LEPTON2, faults=FaultConfig(0.01, (FaultKind.TRUNCATE,)), seed=3
    )
    transport = SimulatedTransport(
        simulator, itertools.cycle(frames_l2(4)), realtime=True, sleep=fake.sleep, clock=fake.clock
    )
    parser = VospiParser(Model.LEPTON2)
    delivered = 0
    for _ in range(2000):
        events = parser.feed(transport.read(transport.max_read_bytes))
        delivered += sum(isinstance(e, FrameParsed) for e in events)
        if any(not isinstance(e, FrameParsed) for e in events):
            transport.resync()
            parser.reset()
    assert simulator.injected[FaultKind.TRUNCATE] > 0 and transport.resyncs > 0
    assert delivered > 20
    assert fake.sleeps.count(0.185) == transport.resyncs


def test_close():
    """After close() reads return b"" and close() may be called again."""
    transport = SimulatedTransport(VospiSimulator(Model.LEPTON2), itertools.cycle(frames_l2(1)))
    assert transport.read(PACKET_BYTES)
    transport.close()
    transport.close()
    assert transport.read(PACKET_BYTES) == b""
