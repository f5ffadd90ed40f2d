"""lepton.camera: the read loop over a simulated transport (pylepton API and the richer one)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lepton.camera import CaptureCounters, Lepton, LinkStatus
from lepton.cci import Cci
from lepton.cci_simulator import SimulatedCciDevice
from lepton.errors import LeptonError
from lepton.models import Model, TelemetryLocation
from lepton.simulator import FaultConfig, VospiSimulator
from lepton.transport import SimulatedTransport
from lepton.vospi import PACKET_BYTES

L2, L3 = Model.LEPTON2, Model.LEPTON3
CPTV_STACK = np.load(
    Path(__file__).parents[1]
    / "data"
    / "TheCacophonyProject_python-cptv__v1.frames000-008.stack.npy"
)


class Ticker:
    """A clock that advances by ``step`` seconds every time it is read."""

    def __init__(self, step: float = 0.001) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class ZeroBus:
    """A transport whose bus reads all zeros: a camera without power."""

    max_read_bytes = 24 * PACKET_BYTES

    def __init__(self) -> None:
        self.resyncs = 0
        self.closed = False

    def read(self, n_bytes: int) -> bytes:
        return bytes(n_bytes)

    def resync(self) -> None:
        self.resyncs += 1

    def close(self) -> None:
        self.closed = True


def simulated_lepton(
    frames, model=L2, telemetry=TelemetryLocation.OFF, faults=None, seed=0, detect=False, **kwargs
):
    """A Lepton over a SimulatedTransport of ``frames``; ``detect``: the model is auto-detected."""
    simulator = VospiSimulator(model, telemetry, faults=faults, seed=seed)
    transport = SimulatedTransport(simulator, frames)
    camera = Lepton(
        transport=transport,
        model=None if detect else model,
        telemetry=telemetry,
        resync_pause_s=0,
        **kwargs,
    )
    return camera, transport


def test_capture_is_pylepton_compatible(load_data):
    """capture() returns ((60, 80, 1) uint16, pixel sum) and fills a given buffer."""
    frames = [
        load_data("brandoncurtis_LeptonModule__raw1.npy"),
        load_data("brandoncurtis_LeptonModule__raw2.npy"),
    ]
    camera, _ = simulated_lepton(frames)
    with camera:
        image, frame_id = camera.capture()
        assert image.shape == (60, 80, 1) and image.dtype == np.uint16
        assert np.array_equal(image[:, :, 0], frames[0])
        assert frame_id == int(frames[0].astype(np.int64).sum())
        buffer = np.zeros((60, 80, 1), np.uint16)
        image, frame_id = camera.capture(buffer)
        assert image is buffer and np.array_equal(buffer[:, :, 0], frames[1])
        with pytest.raises(LeptonError) as caught:
            camera.capture()
        assert str(caught.value) == "the VoSPI stream ended after 2 unique frames"


@pytest.mark.parametrize("buffer", [np.zeros((60, 80), np.int16), np.zeros((80, 60, 1), np.int32)])
def test_capture_rejects_a_wrong_buffer(load_data, buffer):
    """A data_buffer of the wrong shape, or too narrow for uint16, is a ShapeError naming both."""
    camera, _ = simulated_lepton([load_data("brandoncurtis_LeptonModule__raw1.npy")])
    with pytest.raises(ValueError) as caught:
        camera.capture(buffer)
    assert str(caught.value) == (
        "data_buffer must be (60, 80, 1) or (60, 80) of a dtype that holds uint16 "
        f"(uint16, int32, float32, ...), got {buffer.shape} {buffer.dtype}")


def test_next_frame_fields(load_data):
    """next_frame: numbered frames, wall-clock timestamps, decoded telemetry; status and model."""
    frames = [load_data(f"Jkillelea_Lepton-3-Module__raw{k}.npy") for k in (1, 3, 6)]
    camera, _ = simulated_lepton(
        frames,
        model=L3,
        telemetry=TelemetryLocation.HEADER,
        detect=True,
        wall_clock=lambda: 1700000000.5,
    )
    assert camera.status is LinkStatus.SYNCING and camera.model is None
    got = [camera.next_frame(1.0) for _ in range(3)]
    assert [f.frame_number for f in got] == [1, 2, 3]
    assert all(np.array_equal(f.pixels, s) for f, s in zip(got, frames, strict=True))
    assert {f.timestamp for f in got} == {1700000000.5}
    assert [f.telemetry.frame_counter for f in got] == [1, 2, 3]
    assert got[0].telemetry.tlinear_enabled
    assert camera.status is LinkStatus.STREAMING and camera.model is L3
    assert camera.next_frame(1.0) is None  # the stream has ended
    assert camera.counters.invalid_segments == 24


def test_frames_iterates_unique_frames(load_data):
    """frames() yields each unique frame once (repeats dropped) and stops at a finite end."""
    stack = load_data("brandoncurtis_LeptonModule__trace_raw00000001-06.stack.npy")
    camera, _ = simulated_lepton(list(stack))
    got = [f.pixels for f in camera.frames()]
    assert len(got) == 3
    assert all(np.array_equal(g, stack[i]) for g, i in zip(got, (0, 2, 5), strict=True))
    counters = camera.counters
    assert isinstance(counters, CaptureCounters)
    assert (counters.frames, counters.repeated_frames, counters.resyncs) == (3, 15, 0)


def test_next_frame_times_out():
    """With only zeros on the bus next_frame returns None after timeout_s; status NO_SIGNAL."""
    clock = Ticker(0.01)
    bus = ZeroBus()
    camera = Lepton(transport=bus, clock=clock, resync_pause_s=0)
    assert camera.next_frame(0.5) is None
    assert 0.5 <= clock.now <= 0.6
    assert camera.status is LinkStatus.NO_SIGNAL
    assert camera.counters.no_signal == 1 and bus.resyncs == 0
    camera.close()
    assert bus.closed


def test_resync_pause_is_topped_up():
    """When the transport's resync() did not wait, the Lepton sleeps the rest of resync_pause_s."""
    sleeps = []
    frame = np.full((60, 80), 8000, np.uint16)
    garbage = np.full((60, 80), 8100, np.uint16)
    simulator = VospiSimulator(L2)
    stream = simulator.encode_frame(frame)
    bad = bytearray(stream)
    bad[10 * PACKET_BYTES + 50] ^= 1  # a CRC error in the first frame

    class OneShot:
        max_read_bytes = len(stream)

        def __init__(self):
            self.chunks = [bytes(bad), simulator.encode_frame(garbage)]

        def read(self, n_bytes):
            return self.chunks.pop(0) if self.chunks else b""

        def resync(self):
            pass

        def close(self):
            pass

    camera = Lepton(transport=OneShot(), model=L2, clock=lambda: 7.0, sleep=sleeps.append)
    got = camera.next_frame(1.0)
    assert sleeps == [0.185]
    assert camera.counters.resyncs == 1 and camera.counters.crc_errors == 1
    assert np.array_equal(got.pixels, frame)  # a later copy of the frame, after the bad one
    assert camera.status is LinkStatus.STREAMING


def test_bad_resync_pause():
    """A negative resync_pause_s is refused with its name and range."""
    with pytest.raises(ValueError) as caught:
        Lepton(transport=ZeroBus(), resync_pause_s=-1)
    assert str(caught.value) == "resync_pause_s must be >= 0, got -1"


def test_default_transport_is_spidev(tmp_path):
    """Without a transport the Lepton opens a SpidevTransport, whose error is a LeptonError."""
    with pytest.raises(LeptonError) as caught:
        Lepton(str(tmp_path / "spidev9.9"))
    assert "spidev9.9" in str(caught.value)


def test_cci_is_kept():
    """The cci object passed in is handed back as is."""
    cci = Cci(SimulatedCciDevice())
    assert Lepton(transport=ZeroBus(), cci=cci).cci is cci


def assert_all_from(frames, source) -> None:
    for frame in frames:
        assert any(np.array_equal(frame.pixels, s) for s in source)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(list(TelemetryLocation)))
def test_lepton2_recovers_from_one_percent_faults(seed, telemetry):
    """With 1% faulty packets (flips, drops, truncations) a Lepton 2 resyncs; frames are right."""
    source = [(np.arange(4800, dtype=np.uint16).reshape(60, 80) + 100 * k) for k in range(7)]
    camera, transport = simulated_lepton(
        itertools.cycle(source),
        telemetry=telemetry,
        faults=FaultConfig(0.01),
        seed=seed,
        clock=Ticker(),
    )
    got = [camera.next_frame(60.0) for _ in range(30)]
    assert None not in got
    assert_all_from(got, source)
    assert [f.frame_number for f in got] == list(range(1, 31))
    assert camera.counters.resyncs == transport.resyncs == camera.counters.sync_losses


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from([L2, L3]))
def test_detection_under_faults(seed, model):
    """With 0.1% faults and resyncs that skip segments, auto-detection names the right model."""
    source = [np.full((model.rows, model.cols), 8000 + k, np.uint16) for k in range(5)]
    camera, _ = simulated_lepton(
        itertools.cycle(source),
        model=model,
        faults=FaultConfig(0.001),
        seed=seed,
        detect=True,
        clock=Ticker(),
    )
    got = [camera.next_frame(60.0) for _ in range(3)]
    assert None not in got
    assert_all_from(got, source)
    assert camera.model is model


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rate=st.sampled_from([0.001, 0.01]))
def test_lepton3_recovers_from_faults(seed, rate):
    """A faulty Lepton 3 stream resyncs and delivers only correct frames (~800 packets a frame)."""
    source = list(CPTV_STACK)
    camera, transport = simulated_lepton(
        itertools.cycle(source),
        model=L3,
        faults=FaultConfig(rate),
        seed=seed,
        detect=True,
        clock=Ticker(),
    )
    wanted = 5 if rate < 0.005 else 1
    got = [camera.next_frame(600.0) for _ in range(wanted)]
    assert None not in got
    assert_all_from(got, source)
    assert camera.counters.resyncs == transport.resyncs >= 0
