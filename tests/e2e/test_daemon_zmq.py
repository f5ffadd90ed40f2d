"""--source zmq: tools/bsread_generator.py's bsread stream reaches WebSocket clients."""

import subprocess
import sys
import time

import numpy as np
import pytest
from websockets.sync.client import connect

from tests.conftest import ROOT, stop_process, wait_until
from thermal_streamer.protocols.wire import parse_frame_message

GENERATOR = ROOT / "tools" / "bsread_generator.py"
GENERATOR_SECONDS = 30  # every generator run is bounded; the tests stop it sooner


@pytest.fixture
def generator():
    """Start ``tools/bsread_generator.py`` on a free port: ``generator(*args)`` -> endpoint."""
    processes = []

    def start(*args: str) -> str:
        process = subprocess.Popen(
            [sys.executable, str(GENERATOR), "--address", "tcp://127.0.0.1:*",
             "--seconds", str(GENERATOR_SECONDS), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(process)
        line = process.stdout.readline()  # "bound tcp://127.0.0.1:PORT", or EOF if it failed
        assert line.startswith("bound tcp://"), process.stderr.read()
        return line.split()[1]

    yield start
    for process in processes:
        stop_process(process)
        process.stdout.close()
        process.stderr.close()


def start_zmq(start_daemon, tmp_path, endpoint: str, socket_type: str = "pull"):
    conf = tmp_path / "zmq.conf"
    conf.write_text(f"[Source]\nSource = zmq\nZMQ_Address = {endpoint}\n"
                    f"ZMQ_Socket = {socket_type}\n")
    return start_daemon("-c", str(conf))


def receive_frames(daemon, count: int, timeout_s: float = 10.0) -> list[tuple[dict, np.ndarray]]:
    """``count`` frames from /stream?raw=1: (header, raw pixels (rows, cols) uint16)."""
    frames = []
    deadline = time.monotonic() + timeout_s
    with connect(daemon.ws_url + "/stream?raw=1", open_timeout=5, close_timeout=2) as ws:
        while len(frames) < count:
            message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(message, bytes):
                header, _, raw = parse_frame_message(message)
                rows, cols = header["raw"]["rows"], header["raw"]["cols"]
                frames.append((header, np.frombuffer(raw, "<u2").reshape(rows, cols)))
    return frames


def check_generator_frames(frames) -> None:
    """The generator's picture and scalars, pulse ids increasing."""
    pulse_ids = [header["meta"]["pulse_id"] for header, _ in frames]
    assert pulse_ids == sorted(pulse_ids) and len(set(pulse_ids)) == len(pulse_ids)
    for header, pixels in frames:
        assert (header["source"], header["width"], header["height"]) == ("zmq", 640, 480)
        assert header["unit"] == "counts" and header["raw"]["unit"] == "counts"
        meta = header["meta"]
        assert meta["repetition_rate"] == 100
        assert meta["beam_energy"] == pytest.approx(5 + 0.5 * np.sin(meta["pulse_id"] / 10))
        assert "rescaled_low" not in meta  # uint16 counts are kept as they are
        assert 1000 <= pixels.min() < 1050 and pixels.max() > 30000
        assert header["stats"]["max"] == pixels.max()


@pytest.mark.parametrize("socket_type", ["pull", "sub"])
def test_generator_stream_reaches_clients(start_daemon, tmp_path, generator, socket_type):
    """PUSH->PULL and PUB->SUB: 640x480 frames with beam_energy, repetition_rate, pulse_id."""
    endpoint = generator(*(["--pub"] if socket_type == "sub" else []))
    daemon = start_zmq(start_daemon, tmp_path, endpoint, socket_type)
    check_generator_frames(receive_frames(daemon, 3))
    status = daemon.health()["source_status"]
    assert status["socket"] == socket_type and status["skipped"] == 0
    assert status["frames"] >= 3 and status["last_pulse_id"] >= 2


def test_compressed_data_header_and_image(start_daemon, tmp_path, generator):
    """--compress bitshuffle_lz4 (data header and image) decodes to the same frames."""
    daemon = start_zmq(start_daemon, tmp_path, generator("--compress", "bitshuffle_lz4"))
    check_generator_frames(receive_frames(daemon, 3))


def test_bad_message_is_skipped_and_counted(start_daemon, tmp_path, generator):
    """A message whose data header does not match its parts is skipped, counted in
    /healthz source_status and logged; the good ones still arrive."""
    daemon = start_zmq(start_daemon, tmp_path, generator("--bad-every", "2"))
    frames = receive_frames(daemon, 2)
    assert all(header["meta"]["pulse_id"] % 2 == 0 for header, _ in frames)
    assert wait_until(lambda: daemon.health()["source_status"]["skipped"] >= 1, 5)
    status = daemon.health()["source_status"]
    assert status["last_error"] == ("data header lists 3 channels, so the message needs 8 "
                                    "parts, not 7")
    assert ("zmq source: skipped a message: data header lists 3 channels, so the message needs "
            "8 parts, not 7 (1 skipped so far)") in daemon.log()
