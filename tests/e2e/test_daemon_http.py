"""The daemon's HTTP endpoints over real sockets, and that odd requests are refused."""

import contextlib
import io
import json
import resource
import socket
import time
import urllib.error
import urllib.request

import psutil
import pytest
from PIL import Image

from tests.conftest import ROOT, Daemon, wait_until, with_exif_size
from thermal_streamer.control import render_settings

SAMPLE_FRAME = ROOT / "thermal4.jpg"  # 640x480, see SAMPLE_FRAMES.md
EXIF_SIZE = (4553, 2400)  # what the EXIF segment added to it claims


def get(url: str, method: str = "GET"):
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def raw_request(port: int, data: bytes) -> bytes:
    """Send bytes as they are and return the first response bytes (or b"")."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        try:
            return sock.recv(4096)
        except ConnectionError:
            return b""


@pytest.fixture(scope="module")
def file_daemon(tmp_path_factory):
    """One daemon for the module: the file source on a sample frame with misleading EXIF."""
    image = tmp_path_factory.mktemp("file") / "thermal.jpg"
    image.write_bytes(with_exif_size(SAMPLE_FRAME.read_bytes(), *EXIF_SIZE))
    daemon = Daemon(["--source", "file", "--image", str(image)])
    try:
        daemon.wait_for_frames()
        yield daemon
    finally:
        daemon.stop()


def test_page_config_health_and_snapshot(file_daemon):
    """/, /config.json, /healthz and /snapshot.jpg answer with the right types and sizes."""
    status, headers, body = get(file_daemon.http_url + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body) and b"<" in body
    assert get(file_daemon.http_url + "/index.html")[2] == body

    status, headers, body = get(file_daemon.http_url + "/snapshot.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(body))
    assert image.getexif()[0x0100] == EXIF_SIZE[0]  # the EXIF went through untouched...
    assert image.size == (640, 480)  # ...and the size is the JPEG's own, not the EXIF's

    status, headers, body = get(file_daemon.http_url + "/config.json")
    config = json.loads(body)
    assert headers["Content-Type"] == "application/json"
    assert config == {"version": 1, "ws_port": file_daemon.ws_port, "ws_path": "/stream",
                      "source": "file", "width": 640, "height": 480, "scale": 1,
                      "raw": False, "ffc": False,
                      "render_settings": [f.describe() for f in render_settings.FIELDS]}

    health = json.loads(get(file_daemon.http_url + "/healthz")[2])
    assert health["status"] == "ok" and health["source"] == "file"
    assert health["frames_captured"] >= 1 and health["clients"] == {}
    assert health["seconds_since_last_frame"] < 5


def test_head_has_headers_without_body(file_daemon):
    """HEAD answers like GET without a body."""
    status, headers, body = get(file_daemon.http_url + "/snapshot.jpg", "HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /../server.conf HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"404"),
    (b"GET /%2e%2e/server.conf HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"404"),
    (b"GET /static/%2e%2e/%2e%2e/server.conf HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"404"),
    (b"GET /static/../websocket_http_server.py HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"404"),
    (b"GET /.git/config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"404"),
    (b"GET /server.conf HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"404"),
    (b"GET //etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"404"),
    (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", b"405"),
    (b"DELETE /snapshot.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"405"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"414"),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", b"431"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)) + b"\r\n\r\n", b"400"),
    (b"garbage\r\n\r\n", b"400"),
    (b"GET /snapshot.npy HTTP/1.1\r\nHost: attacker.example\r\n\r\n", b"421"),
])
def test_odd_requests_get_4xx_and_server_keeps_serving(file_daemon, request_bytes, status):
    """Path traversal, other methods, huge lines and TLS bytes get 4xx; then / still works."""
    response = raw_request(file_daemon.http_port, request_bytes)
    assert response.split(b" ", 2)[1] == status, response[:200]
    assert get(file_daemon.http_url + "/healthz")[0] == 200


def test_snapshot_before_first_frame_is_503(start_daemon, tmp_path):
    """/snapshot.jpg is 503 while the source has produced nothing."""
    daemon = start_daemon("--source", "file", "--image", str(tmp_path / "missing.jpg"))
    status, headers, body = get(daemon.http_url + "/snapshot.jpg")
    assert status == 503 and body == b"no frame yet\n"
    assert json.loads(get(daemon.http_url + "/healthz")[2])["status"] == "starting"


def test_colormap_tables_for_the_page(file_daemon):
    """/colormaps.json lists the names; /colormap.json?name= gives the 256-entry RGB table."""
    from thermal_streamer.control import colormaps

    names = json.loads(get(file_daemon.http_url + "/colormaps.json")[2])["names"]
    assert names[:4] == ["ironbow", "rainbow", "white-hot", "black-hot"] and "inferno" in names
    status, headers, body = get(file_daemon.http_url + "/colormap.json?name=ironbow")
    table = json.loads(body)
    assert status == 200 and table["name"] == "ironbow"
    assert bytes.fromhex(table["lut"]) == colormaps.lookup_table("ironbow").tobytes()
    assert get(file_daemon.http_url + "/colormap.json?name=nope")[0] == 404


@contextlib.contextmanager
def fd_limit_raised():
    """This process's soft descriptor limit at its hard limit (for 1000 sockets), restored
    after; daemons started meanwhile inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_out_of_descriptors_the_daemon_backs_off_and_recovers(start_daemon):
    """With a 256-descriptor limit and connections held until its backlog is full, the
    daemon uses <= 30 % of a core, logs it once, and serves a page within 2 s once they close."""
    daemon = start_daemon("--source", "simulated")
    process = psutil.Process(daemon.process.pid)
    resource.prlimit(daemon.process.pid, resource.RLIMIT_NOFILE, (256, 256))
    held: list[socket.socket] = []
    try:
        for i in range(400):  # one by one until a connect waits: the daemon stopped accepting
            try:  # from 8 addresses: one holds at most a quarter of HTTP_Max_Connections
                held.append(socket.create_connection(("127.0.0.1", daemon.http_port), 2,
                                                     source_address=(f"127.0.0.{i % 8 + 1}", 0)))
            except TimeoutError:
                break
        assert process.num_fds() >= 250
        before, started = process.cpu_times(), time.monotonic()
        time.sleep(1.0)  # a measuring window, not synchronisation
        after = process.cpu_times()
        cpu = (after.user + after.system - before.user - before.system) / (
            time.monotonic() - started)
    finally:
        for sock in held:
            sock.close()
    assert cpu <= 0.30
    started = time.monotonic()
    assert get(daemon.http_url + "/healthz")[0] == 200
    assert time.monotonic() - started < 2.0
    assert sum("cannot accept HTTP connections" in line for line in daemon.lines) == 1


def test_sigterm_with_1000_slow_connections_stops_within_2_s(start_daemon):
    """1000 connections each halfway through a request cost no thread each, and SIGTERM
    still stops the daemon within 2 s."""
    with fd_limit_raised():
        daemon = start_daemon("--source", "simulated")
        socks = []
        try:
            for _ in range(1000):
                sock = socket.create_connection(("127.0.0.1", daemon.http_port), timeout=5)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                socks.append(sock)
            process = psutil.Process(daemon.process.pid)
            # from one address it holds a quarter of HTTP_Max_Connections (512 // 4), closing
            # that address's oldest for its newcomers
            assert wait_until(lambda: len(process.net_connections("tcp")) >= 128, 10)
            assert process.num_threads() < 20
            started = time.monotonic()
            assert daemon.stop() == 0
            assert time.monotonic() - started < 2.0
        finally:
            for sock in socks:
                sock.close()
