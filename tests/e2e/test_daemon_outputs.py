"""MJPEG, raw snapshots, /metrics, /healthz and systemd notifications, with real clients."""

import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.conftest import ROOT


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def simulated(start_daemon):
    daemon = start_daemon("--source", "simulated")
    daemon.wait_for_frames()
    return daemon


def test_ffmpeg_decodes_mjpeg_stream(simulated):
    """ffmpeg reads at least 20 frames from /stream.mjpg (and from /?action=stream)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed (test.sh installs it)")
    for path in ("/stream.mjpg", "/?action=stream"):
        result = subprocess.run(
            ["timeout", "20", ffmpeg, "-nostdin", "-hide_banner", "-f", "mpjpeg", "-i",
             simulated.http_url + path, "-frames:v", "20", "-f", "null", "-"],
            capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "frame=   20" in result.stderr or "frame=20" in result.stderr.replace(" ", "")


def test_mjpeg_parts_are_whole_jpegs(simulated):
    """/stream.mjpg is multipart/x-mixed-replace with JPEG parts of the stated length."""
    request = urllib.request.urlopen(simulated.http_url + "/stream.mjpg", timeout=5)
    with request:
        assert request.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=thermalframe"
        for _ in range(3):
            assert request.readline() == b"--thermalframe\r\n"
            assert request.readline() == b"Content-Type: image/jpeg\r\n"
            length = int(request.readline().split(b":")[1])
            assert request.readline() == b"\r\n"
            jpeg = request.read(length)
            assert Image.open(io.BytesIO(jpeg)).size == (160, 120)
            assert request.readline() == b"\r\n"


def test_stalled_mjpeg_client_does_not_slow_websocket_clients(simulated):
    """An MJPEG client that never reads costs a WebSocket client nothing."""
    with socket.create_connection(("127.0.0.1", simulated.http_port), timeout=5) as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        with connect(simulated.ws_url + "/stream", open_timeout=5) as ws:
            start, frames = time.monotonic(), 0
            while frames < 20:
                frames += isinstance(ws.recv(timeout=5), bytes)
            rate = 19 / (time.monotonic() - start)
    assert rate > 7.5  # the simulated Lepton's 8.7 Hz


def test_snapshot_and_mjpg_streamer_snapshot(simulated):
    """/snapshot.jpg and /?action=snapshot answer the newest frame as JPEG."""
    for path in ("/snapshot.jpg", "/?action=snapshot"):
        status, headers, body = fetch(simulated.http_url + path)
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(body)).size == (160, 120)
    assert fetch(simulated.http_url + "/?action=other")[0] == 404


def test_raw_snapshots(simulated):
    """/snapshot.raw.png is a 16-bit PNG and /snapshot.npy a uint16 array, both centikelvin."""
    config = json.loads(fetch(simulated.http_url + "/config.json")[2])
    assert config["raw"] is True and config["ffc"] is True
    status, headers, body = fetch(simulated.http_url + "/snapshot.raw.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    png = np.asarray(Image.open(io.BytesIO(body)))
    assert png.shape == (120, 160) and png.dtype in (np.uint16, np.int32)
    status, headers, body = fetch(simulated.http_url + "/snapshot.npy")
    pixels = np.load(io.BytesIO(body))
    assert pixels.dtype == np.uint16 and pixels.shape == (120, 160)
    assert 15 < pixels.min() / 100 - 273.15 < pixels.max() / 100 - 273.15 < 50


def test_raw_snapshot_of_image_source_is_404(start_daemon, tmp_path):
    """An image source has no raw frames: /snapshot.npy says so with 404."""
    image = tmp_path / "thermal.jpg"
    Image.new("RGB", (32, 24), "red").save(image)
    daemon = start_daemon("--source", "file", "--image", str(image))
    daemon.wait_for_frames()
    status, _, body = fetch(daemon.http_url + "/snapshot.npy")
    assert (status, body) == (404, b"this source has no raw frames\n")


def metric_samples(daemon) -> dict:
    status, headers, body = fetch(daemon.http_url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_parse_and_move(simulated):
    """/metrics parses as Prometheus text and its counters move as frames flow."""
    before = metric_samples(simulated)
    with connect(simulated.ws_url + "/stream", open_timeout=5) as ws:
        frames = 0
        while frames < 5:
            frames += isinstance(ws.recv(timeout=5), bytes)
        during = metric_samples(simulated)
    source = (("source", "simulated"),)
    captured = ("thermal_frames_captured_total", source)
    assert during[captured] > before[captured]
    assert during[("thermal_clients", (("protocol", "stream"),))] == 1
    assert during[("thermal_client_frames_sent_total", (("protocol", "stream"),))] >= 5
    assert during[("thermal_bytes_sent_total", (("protocol", "stream"),))] > 5 * 1000
    assert during[("thermal_up", source)] == 1
    packets = ("thermal_source_events_total", (("event", "packets"), ("source", "simulated")))
    assert during[packets] > 0


def test_healthz_lists_clients_and_turns_503_when_stale(start_daemon, tmp_path):
    """/healthz lists each client; with no frame for 5 s it answers 503 "stale"."""
    image = tmp_path / "thermal.jpg"
    Image.new("RGB", (32, 24), "blue").save(image)
    conf = tmp_path / "slow.conf"
    conf.write_text("[Source]\nResend_Interval = 3600\n")
    daemon = start_daemon("-c", str(conf), "--source", "file", "--image", str(image))
    daemon.wait_for_frames()
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        ws.recv(timeout=5)
        health = daemon.health()
        assert health["status"] == "ok" and health["clients"] == {"stream": 1}
        [client] = health["client_list"]
        assert client["protocol"] == "stream" and client["address"].startswith("127.0.0.1:")
        assert set(client) == {"protocol", "address", "frames_sent", "frames_skipped", "bytes_sent"}
        url, deadline = daemon.http_url + "/healthz", time.monotonic() + 10
        while (status := fetch(url))[0] != 503 and time.monotonic() < deadline:
            time.sleep(0.25)
    assert status[0] == 503 and json.loads(status[2])["status"] == "stale"


def test_systemd_ready_and_watchdog_only_while_frames_flow(start_daemon, tmp_path):
    """READY=1 once the ports are bound; WATCHDOG=1 while frames flow, never without frames."""
    def run(*args):
        path = str(tmp_path / f"notify-{len(args)}.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(3)
            daemon = start_daemon(*args, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
            messages = []
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                try:
                    messages.append(sock.recv(4096).decode())
                except TimeoutError:
                    break
            daemon.stop()
            sock.settimeout(0.2)  # it has exited: everything it sent is queued
            for _ in range(100):  # what it sent until it exited; STOPPING=1 comes last
                try:
                    messages.append(sock.recv(4096).decode())
                except TimeoutError:
                    break
        return messages

    flowing = run("--source", "simulated")
    assert flowing[0].startswith("READY=1\nSTATUS=serving http://")
    assert flowing.count("WATCHDOG=1") >= 3 and flowing[-1] == "STOPPING=1"
    stuck = run("--source", "file", "--image", str(tmp_path / "never.jpg"))
    assert stuck[0].startswith("READY=1") and "WATCHDOG=1" not in stuck


def test_systemd_unit_verifies(tmp_path):
    """systemd-analyze verify accepts the unit (paths pointed at this checkout)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not available here")
    unit = (ROOT / "systemd" / "thermal-camera.service").read_text()
    # the installed console script is the checkout's entry point run by this interpreter
    unit = unit.replace("/opt/thermal-camera/.venv/bin/thermal-streamer",
                        f"{sys.executable} {ROOT / 'websocket_http_server.py'}")
    unit = unit.replace("/opt/thermal-camera", str(ROOT))
    path = tmp_path / "thermal-camera.service"
    path.write_text(unit)
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Type=notify" in unit and "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit


def test_nothing_is_rendered_while_nobody_watches(simulated):
    """With no viewer the camera is still read but no frame is rendered; a snapshot renders one."""
    simulated.wait_for_frames(10)
    health = simulated.health()
    assert health["frames_captured"] >= 10 and health["frames_published"] == 0
    status, _, body = fetch(simulated.http_url + "/snapshot.jpg")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (160, 120)
    assert simulated.health()["frames_published"] == 0  # on demand, not published


def test_raw_temperatures_for_thermal_vision(simulated, start_daemon, tmp_path):
    """/raw gives the newest frame's temperatures in degrees C (the HACS Thermal Vision
    integration's poll); a source without temperatures answers 404."""
    status, headers, body = fetch(simulated.http_url + "/raw")
    values = [float(v) for v in json.loads(body)["data"].split(",")]
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert len(values) == 160 * 120 and all(10 < v < 45 for v in values)
    image = tmp_path / "thermal.jpg"
    image.write_bytes((ROOT / "thermal2.jpg").read_bytes())
    file_daemon = start_daemon("--source", "file", "--image", str(image))
    file_daemon.wait_for_frames()
    assert fetch(file_daemon.http_url + "/raw")[0] == 404
