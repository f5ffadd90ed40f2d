"""thermal_streamer.outputs.http in-process (the loop, the request shell and the routes):
assets from static/, status payloads, snapshots, MJPEG.

Each test builds an HttpServer from a real hub, state, renderer and status on 127.0.0.1
and asks it with urllib or a raw socket; no daemon subprocess.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import logging
import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.thermal_streamer.parts import Parts, http_server
from tests.tls import PASSWORD, USER, client_context, make_certificate
from thermal_streamer.control.render_settings import FIELDS
from thermal_streamer.outputs.http.assets import load_assets
from thermal_streamer.protocols.wire import MJPEG_BOUNDARY
from thermal_streamer.security.auth import ADDRESS_BURST, Authenticator
from thermal_streamer.security.passwords import hash_password
from thermal_streamer.security.tls import tls_context

TIMEOUT_S = 5.0


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET a path: (status, headers, body); 4xx and 5xx answers are returned, not raised."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT_S) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_assets_are_the_js_and_css_files_in_static(tmp_path):
    """A new ES module in static/ is served with no list to edit; other files and folders not."""
    (tmp_path / "index.html").write_text("<!doctype html>")
    static = tmp_path / "static"
    static.mkdir()
    (static / "new-module.js").write_text("export const x = 1;")
    (static / "look.css").write_text("body {}")
    (static / "notes.txt").write_text("private")
    (static / "nested").mkdir()
    (static / "nested" / "deep.js").write_text("")
    assets = load_assets(tmp_path)
    assert sorted(assets) == ["/", "/index.html", "/static/look.css", "/static/new-module.js"]
    assert assets["/static/new-module.js"] == ("text/javascript; charset=utf-8",
                                               b"export const x = 1;")

    with http_server(Parts(), root=tmp_path) as server:
        assert get(server.port, "/static/new-module.js")[0] == 200
        for path in ("/static/notes.txt", "/static/nested/deep.js", "/static/../index.html",
                     "/static/%2e%2e/index.html", "/server.conf"):
            assert get(server.port, path)[0] == 404, path


def test_page_config_describes_the_source_and_every_render_setting():
    """/config.json: sizes from the newest frame, the source's abilities, the settings schema."""
    parts = Parts()
    with http_server(parts) as server:
        status, headers, body = get(server.port, "/config.json")
        config = json.loads(body)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert (config["width"], config["height"]) == (None, None)
        assert config["ws_port"] == 9876 and config["source"] == "simulated"
        assert config["raw"] is True and config["ffc"] is True
        assert [f["name"] for f in config["render_settings"]] == [f.name for f in FIELDS]
        scale = next(f for f in config["render_settings"] if f["name"] == "scale")
        assert scale == {"name": "scale", "kind": "integer", "default": 1, "min": 1, "max": 8,
                         "allowed": "an integer from 1 to 8"}
        parts.publish()
        config = json.loads(get(server.port, "/config.json")[2])
        assert (config["width"], config["height"]) == (160, 120)


def test_health_and_metrics_follow_the_hub():
    """/healthz says starting, then ok once a frame arrived; /metrics counts the frames."""
    parts = Parts()
    with http_server(parts) as server:
        status, _, body = get(server.port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "starting"
        parts.publish()
        health = json.loads(get(server.port, "/healthz")[2])
        assert health["status"] == "ok" and health["frames_captured"] == 1
        assert health["state"]["colormap"] == "inferno"
        _, headers, body = get(server.port, "/metrics")
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert 'thermal_frames_captured_total{source="simulated"} 1\n' in body.decode()


def test_html_answers_say_who_may_frame_them():
    """The page has X-Frame-Options: DENY and frame-ancestors 'none'; with Frame_Ancestors
    only the policy, naming them; other answers carry neither."""
    with http_server(Parts()) as server:
        for path in ("/", "/index.html"):
            _, headers, _ = get(server.port, path)
            assert headers["X-Frame-Options"] == "DENY", path
            assert headers["Content-Security-Policy"] == "frame-ancestors 'none'", path
        _, headers, _ = get(server.port, "/config.json")
        assert "X-Frame-Options" not in headers and "Content-Security-Policy" not in headers
    ancestors = ("https://homeassistant.local:8123", "http://10.0.0.5")
    with http_server(Parts(), frame_ancestors=ancestors) as server:
        _, headers, _ = get(server.port, "/")
        assert "X-Frame-Options" not in headers
        assert headers["Content-Security-Policy"] == (
            "frame-ancestors https://homeassistant.local:8123 http://10.0.0.5")

def test_snapshots_render_the_newest_frame():
    """/snapshot.jpg is 503 before a frame, then the rendered JPEG; .npy gives the pixels."""
    parts = Parts()
    with http_server(parts) as server:
        assert get(server.port, "/snapshot.jpg")[0] == 503
        frame = parts.publish()
        status, headers, body = get(server.port, "/snapshot.jpg")
        assert status == 200 and headers["Content-Type"] == "image/jpeg" and body == frame.jpeg
        status, _, body = get(server.port, "/snapshot.npy")
        pixels = np.load(io.BytesIO(body))
        assert status == 200 and np.array_equal(pixels, frame.source_frame.pixels)  # type: ignore[union-attr]


def test_mjpeg_streams_each_new_frame():
    """/stream.mjpg sends each frame published after the request as one multipart part."""
    parts = Parts()
    with http_server(parts) as server, socket.create_connection(
            ("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, received = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert (f"Content-Type: multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}\r\n".encode()
                in head + b"\r\n")
        sock.settimeout(0.25)
        frames = []
        for _ in range(40):  # the viewer joins in the handler thread: publish until it has two
            frames.append(parts.publish())
            with contextlib.suppress(TimeoutError):
                received += sock.recv(1 << 20)
            if sum(f.mjpeg_part in received for f in frames) >= 2:
                break
        sent = [f for f in frames if f.mjpeg_part in received]
        assert len(sent) >= 2
        positions = [received.index(f.mjpeg_part) for f in sent]
        assert positions == sorted(positions)  # in publishing order
        assert parts.hub.viewer_counts() == {"mjpeg": 1}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_get_405(method):
    """Only GET and HEAD exist; anything else is 405 with Allow."""
    with http_server(Parts()) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        connection.request(method, "/")
        response = connection.getresponse()
        assert response.status == 405 and response.headers["Allow"] == "GET, HEAD"
        connection.close()


def test_stop_ends_an_open_mjpeg_stream():
    """stop() returns with an MJPEG client still connected; the client sees the end."""
    parts = Parts()
    with http_server(parts) as server, socket.create_connection(
            ("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        server.stop()
        while sock.recv(65536):
            pass  # until the server closed the connection


def test_foreign_host_gets_421():
    """DNS rebinding: a Host that is not one of this machine's names gets 421, no content."""
    with http_server(Parts()) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        connection.request("GET", "/snapshot.npy", headers={"Host": "attacker.example"})
        response = connection.getresponse()
        assert response.status == 421
        assert b"add it to [Security] Allowed_Hosts" in response.read()
        connection.close()
        assert get(server.port, "/config.json")[0] == 200  # Host: 127.0.0.1


def read_until_closed(sock: socket.socket, limit_s: float = TIMEOUT_S) -> bytes:
    """Everything the server sends until it closes the connection (at most ``limit_s``)."""
    sock.settimeout(limit_s)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def partial_connections(port: int, count: int) -> dict[socket.socket, float]:
    """``count`` connections that each sent half a request, non-blocking: {socket: when it
    connected (time.monotonic())}."""
    socks = {}
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        socks[sock] = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        sock.setblocking(False)
    return socks


def wait_for(predicate, timeout_s: float = TIMEOUT_S) -> bool:
    """Poll ``predicate`` every 10 ms until true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_keep_alive_and_pipelined_requests_are_answered_in_order():
    """Requests one after another, or sent together, on one connection all get answers."""
    with http_server(Parts()) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        for path in ("/config.json", "/healthz", "/colormaps.json"):
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200 and response.read()
        connection.close()
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                         b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                         b"GET /config.json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Connection: close\r\n\r\n")
            statuses = re.findall(rb"HTTP/1\.1 (\d{3})", read_until_closed(sock))
        assert statuses == [b"200", b"404", b"200"]


@pytest.mark.parametrize("method, header", [
    ("GET", b"Content-Length: 43"), ("HEAD", b"Content-Length: 43"),
    ("GET", b"Transfer-Encoding: chunked"), ("GET", b"Content-Length: x"),
    ("GET", b"Content-Length: 1e400"), ("GET", b"Content-Length: " + b"9" * 5000),
    ("GET", b"Content-Length: \xb2"), ("HEAD", b"Content-Length: " + b"0" * 5000 + b"1")])
def test_get_or_head_with_a_body_gets_400_and_the_connection_closes(method, header):
    """Request smuggling: a body on GET or HEAD is refused, never read as the next request."""
    inner = b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with http_server(Parts()) as server, socket.create_connection(
            ("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(method.encode() + b" /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header
                     + b"\r\n\r\n" + inner)
        received = read_until_closed(sock)
    assert re.findall(rb"HTTP/1\.1 \d{3}", received) == [b"HTTP/1.1 400"]
    assert b"\r\nConnection: close\r\n" in received
    if method == "GET":
        assert received.endswith(b"\r\n\r\na GET or HEAD request must not have a body\n")


def test_trickling_connections_cost_no_thread_and_close_at_the_header_deadline():
    """400 connections trickling a byte each 0.2 s hold no thread and all close at the
    deadline (1 s here, 10 s by default), while a page still loads at once."""
    threads_before = threading.active_count()
    with http_server(Parts(), header_timeout_s=1.0, max_per_address=512) as server:
        socks = partial_connections(server.port, 400)
        closed, most_threads = {}, 0
        try:
            assert get(server.port, "/config.json")[0] == 200
            for _ in range(200):  # 0.02 s each: 4 s at most
                for sock in socks:
                    if sock in closed:
                        continue
                    with contextlib.suppress(BlockingIOError):
                        if not sock.recv(4096):
                            closed[sock] = time.monotonic() - socks[sock]  # its age
                            continue
                    with contextlib.suppress(OSError):
                        sock.send(b"x")
                most_threads = max(most_threads, threading.active_count())
                if len(closed) == len(socks):
                    break
                time.sleep(0.02)
        finally:
            for sock in socks:
                sock.close()
    assert len(closed) == 400
    assert min(closed.values()) > 0.9 and max(closed.values()) < 3.0
    assert most_threads <= threads_before + 3  # the loop, the test's server thread, one request


def test_stop_is_quick_with_many_slow_connections():
    """stop() closes 400 connections waiting for their headers in well under a second."""
    with http_server(Parts(), max_per_address=512) as server:  # (all from one address)
        socks = partial_connections(server.port, 400)
        try:
            assert wait_for(lambda: server.connection_count() == 400)
            started = time.monotonic()
            server.stop()
            took = time.monotonic() - started
            assert server.connection_count() == 0
        finally:
            for sock in socks:
                sock.close()
    assert took < 0.5


def test_at_max_connections_the_oldest_waiting_goes_and_then_newcomers_get_503():
    """At the limit a newcomer replaces the oldest idle connection; when every connection
    is being answered (MJPEG streams), the newcomer gets 503."""
    with http_server(Parts(), max_connections=3, max_per_address=3) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
                for _ in range(3)]
        assert wait_for(lambda: server.connection_count() == 3)
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as new:
            assert read_until_closed(idle[0]) == b""  # the oldest, closed for the newcomer
            new.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert new.recv(4096).startswith(b"HTTP/1.1 200")
        for sock in idle:
            sock.close()
        # all gone first: a kept-alive connection whose answer is still finishing would
        # come back to the waiting set after the first stream, which would then be oldest
        assert wait_for(lambda: server.connection_count() == 0)
        streams = [socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
                   for _ in range(3)]
        try:
            for sock in streams:
                sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as late:
                received = read_until_closed(late)
            assert received.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert received.endswith(b"too many connections (HTTP_Max_Connections = 3)\n")
        finally:
            for sock in streams:
                sock.close()


def connect_from(host: str, port: int) -> socket.socket:
    """A connection to 127.0.0.1:``port`` from the loopback address ``host``."""
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S,
                                    source_address=(host, 0))


def test_one_address_holds_at_most_a_quarter_of_the_connections():
    """Of 8 connections one address holds 2: an idle one of its own is closed for its
    newcomer; its third MJPEG reader gets 503 with Retry-After while another address is
    still served."""
    with http_server(Parts(), max_connections=8) as server:
        idle = [connect_from("127.0.0.3", server.port) for _ in range(2)]
        assert wait_for(lambda: server.connection_count() == 2)
        with connect_from("127.0.0.3", server.port) as new:
            assert read_until_closed(idle[0]) == b""  # its own oldest, closed for it
            new.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert new.recv(4096).startswith(b"HTTP/1.1 200")
        for sock in idle:
            sock.close()
        assert wait_for(lambda: server.connection_count() == 0)
        streams = [connect_from("127.0.0.1", server.port) for _ in range(2)]
        try:
            for sock in streams:
                sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            with connect_from("127.0.0.1", server.port) as late:
                received = read_until_closed(late)
            assert received.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert b"\r\nRetry-After: 5\r\n" in received
            assert received.endswith(b"too many connections from 127.0.0.1 (2, a quarter of "
                                     b"HTTP_Max_Connections = 8)\n")
            with connect_from("127.0.0.2", server.port) as other:
                other.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert other.recv(4096).startswith(b"HTTP/1.1 200")
        finally:
            for sock in streams:
                sock.close()



def test_a_trusted_proxy_is_not_held_to_a_quarter():
    """A Trusted_Proxies peer (nginx in front carries every client) may hold more than a
    quarter of the connections: its third MJPEG reader is served."""
    with http_server(Parts(), max_connections=8, trusted_proxies=("127.0.0.1",)) as server:
        streams = [connect_from("127.0.0.1", server.port) for _ in range(3)]
        try:
            for sock in streams:
                sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        finally:
            for sock in streams:
                sock.close()

def test_oversized_request_line_and_headers_get_414_and_431():
    """Over 16 KiB without the end of the headers: 414 for the request line, else 431."""
    with http_server(Parts()) as server:
        for data, expected in ((b"GET /" + b"a" * 20_000, b"414"),
                               (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 20_000, b"431")):
            with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
                sock.sendall(data)
                assert sock.recv(4096).split(b" ", 2)[1] == expected


def test_stalled_mjpeg_client_is_dropped_within_send_timeout():
    """A /stream.mjpg client that stops reading is dropped within Send_Timeout (2 s here)
    plus 5 s: the small send buffer keeps it from absorbing megabytes first."""
    parts = Parts()
    with http_server(parts) as server, socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(TIMEOUT_S)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert wait_for(lambda: parts.hub.viewer_counts() == {"mjpeg": 1})
        started = time.monotonic()
        for _ in range(1000):  # a frame each 10 ms until dropped: 10 s at most
            parts.publish()
            if not parts.hub.viewer_counts() or time.monotonic() - started > 10:
                break
            time.sleep(0.01)
        took = time.monotonic() - started
    assert parts.hub.viewer_counts() == {} and took < 2.0 + 5.0


def test_reset_connections_log_one_debug_line_and_errors_are_rate_limited(caplog):
    """A reset is a DEBUG line, no traceback; a handler's bug is logged once with its
    traceback, and the same bug again within 30 s is not."""
    caplog.set_level(logging.DEBUG, logger="thermal_streamer.outputs.http")

    def broken() -> dict:
        raise ValueError("a bug")

    with http_server(Parts(), json_routes={"/broken.json": broken}) as server:
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\n")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert wait_for(lambda: server.connection_count() == 0)
        assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []
        assert not any("Traceback" in r.getMessage() for r in caplog.records)
        for _ in range(3):
            with pytest.raises(http.client.RemoteDisconnected):
                urllib.request.urlopen(f"http://127.0.0.1:{server.port}/broken.json",
                                       timeout=TIMEOUT_S)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "Traceback" in errors[0].getMessage() and "ValueError: a bug" in errors[0].getMessage()


def test_json_and_file_routes_of_components(tmp_path):
    """A component's JSON path answers its value (None: 404); its download folder serves
    only the names it resolves, whole or by Range, and 416 past the end."""
    data = bytes(range(256)) * 1000  # 256,000 bytes: several chunks
    (tmp_path / "clip.cptv").write_bytes(data)

    def recording(name: str):
        return tmp_path / name if name == "clip.cptv" else None

    routes = {"/things.json": lambda: {"things": [1, 2]}, "/raw": lambda: None}
    with http_server(Parts(), json_routes=routes,
                     file_routes={"/recordings/": recording}) as server:
        assert get(server.port, "/things.json")[2] == b'{"things": [1, 2]}'
        assert get(server.port, "/raw")[0] == 404
        status, headers, body = get(server.port, "/recordings/clip.cptv")
        assert status == 200 and body == data and headers["Accept-Ranges"] == "bytes"
        assert headers["Content-Disposition"] == 'attachment; filename="clip.cptv"'
        for path in ("/recordings/", "/recordings/../server.conf", "/recordings/other"):
            assert get(server.port, path)[0] == 404, path
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        connection.request("GET", "/recordings/clip.cptv", headers={"Range": "bytes=1000-"})
        response = connection.getresponse()
        assert response.status == 206 and response.read() == data[1000:]
        assert response.headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
        connection.request("GET", "/recordings/clip.cptv", headers={"Range": "bytes=999999-"})
        response = connection.getresponse()
        response.read()
        assert response.status == 416
        assert response.headers["Content-Range"] == f"bytes */{len(data)}"
        connection.close()



def test_oversized_ranges_get_an_answer_and_no_traceback(tmp_path, caplog):
    """Range positions of any length get 206 (clamped) or 416, never a dropped connection
    and a logged ValueError."""
    data = bytes(range(256)) * 4
    (tmp_path / "clip.cptv").write_bytes(data)
    routes = {"/recordings/": lambda name: tmp_path / name if name == "clip.cptv" else None}
    with http_server(Parts(), file_routes=routes) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        for header, status, body in (("bytes=0-99999999999999999999999", 206, data),
                                     ("bytes=0-" + "9" * 5000, 206, data),
                                     ("bytes=-" + "9" * 5000, 206, data),
                                     ("bytes=" + "9" * 5000 + "-", 416, b"")):
            connection.request("GET", "/recordings/clip.cptv", headers={"Range": header})
            response = connection.getresponse()
            assert (response.status, response.read()) == (status, body), header[:20]
        connection.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_data_routes_of_components():
    """A component's data prefix answers (content type, body) for the rest of the path it
    knows, unquoted, with no-store; None, or nothing after the prefix, is 404."""
    def answer(rest: str):
        return ("application/octet-stream", rest.encode()) if rest.startswith("clip") else None

    with http_server(Parts(), data_routes={"/playback/": answer}) as server:
        status, headers, body = get(server.port, "/playback/clip%20a/3")
        assert (status, body) == (200, b"clip a/3")
        assert headers["Content-Type"] == "application/octet-stream"
        assert headers["Cache-Control"] == "no-store"
        for path in ("/playback/", "/playback/other", "/playbackclip"):
            assert get(server.port, path)[0] == 404, path


# -- who may watch: Basic logins (RFC 7617) and the session cookie


CHALLENGE = 'Basic realm="thermal camera", charset="UTF-8"'
PROTECTED = ("/", "/index.html", "/static/main.js", "/config.json", "/colormaps.json",
             "/colormap.json?name=inferno", "/snapshot.jpg", "/snapshot.raw.png",
             "/snapshot.npy", "/stream.mjpg", "/?action=stream", "/?action=snapshot",
             "/metrics", "/nowhere")


@pytest.fixture(scope="module")
def users() -> dict[str, str]:
    """One user with a real scrypt hash (made once: about 0.1 s)."""
    return {USER: hash_password(PASSWORD)}


def basic_header(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def ask(connection: http.client.HTTPConnection, path: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a kept-alive connection: (status, headers, body)."""
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.headers, response.read()


def test_with_a_password_file_every_path_but_healthz_asks_for_a_login(users):
    """Without credentials (or with unreadable ones) every path, existing or not, GET or
    HEAD, is 401 with the Basic challenge; /healthz answers; the connection stays usable."""
    with http_server(Parts(), auth=Authenticator(users)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        for path in PROTECTED:
            for method, headers in (("GET", {}), ("HEAD", {}),
                                    ("GET", {"Authorization": "Basic !!"})):
                status, answer, body = ask(connection, path, headers, method)
                assert (status, answer["WWW-Authenticate"]) == (401, CHALLENGE), (path, method)
                assert answer["Cache-Control"] == "no-store" and "Set-Cookie" not in answer
                assert body == (b"" if method == "HEAD" else
                                b"log in with a user of [Security] Password_File\n")
        assert ask(connection, "/healthz")[0] == 200
        connection.close()


def test_a_login_answers_and_page_loads_get_one_session_cookie(users):
    """With Basic credentials every path answers; /, /index.html and /config.json set a
    session cookie when the request has no live one; other paths never do."""
    checker = Authenticator(users)
    parts = Parts()
    parts.publish()
    with http_server(parts, auth=checker) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        status, headers, _ = ask(connection, "/", basic_header())
        assert status == 200
        cookie = headers["Set-Cookie"]
        assert cookie.endswith("; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict")
        name_value = cookie.split(";")[0]
        assert checker.session_user([name_value]) == USER
        for path in ("/config.json", "/index.html"):  # a live cookie: no new one
            status, headers, _ = ask(connection, path, {**basic_header(), "Cookie": name_value})
            assert status == 200 and "Set-Cookie" not in headers
        for path in ("/snapshot.jpg", "/metrics", "/static/main.js"):
            status, headers, _ = ask(connection, path, basic_header())
            assert status == 200 and "Set-Cookie" not in headers, path
        status, headers, _ = ask(connection, "/config.json", {
            **basic_header(), "Cookie": "thermal_session=expired-or-forged"})
        assert status == 200 and headers["Set-Cookie"].startswith("thermal_session=")
        assert ask(connection, "/nowhere", basic_header())[0] == 404
        assert ask(connection, "/", {"Cookie": name_value})[0] == 401  # HTTP wants Basic
        connection.close()
        assert len(checker.sessions) == 2


def test_wrong_passwords_get_401_then_429_with_retry_after(users):
    """ADDRESS_BURST wrong passwords are each 401; then the address gets 429 and
    Retry-After, even with the right password, without a scrypt check."""
    with http_server(Parts(), auth=Authenticator(users)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        for _ in range(ADDRESS_BURST):
            assert ask(connection, "/", basic_header(password="guess"))[0] == 401
        started = time.monotonic()
        status, headers, body = ask(connection, "/", basic_header())
        assert time.monotonic() - started < 0.05  # no scrypt (about 0.1 s here)
        wait_s = int(headers["Retry-After"])  # 6 s for a token, less the time guessing took
        assert status == 429 and 1 <= wait_s <= 6
        assert body.decode() == f"too many failed logins from this address: try again in " \
                                f"{wait_s} s\n"
        connection.close()


def test_healthz_without_a_login_tells_only_its_status(users):
    """With a password file, /healthz without a login (or with a wrong one) is only
    {"status": ...}; with a login it is the whole payload; /metrics needs the login."""
    parts = Parts()
    parts.publish()
    with http_server(parts, auth=Authenticator(users)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        for headers in ({}, basic_header(password="wrong")):
            status, _, body = ask(connection, "/healthz", headers)
            assert status == 200 and json.loads(body) == {"status": "ok"}
        status, _, body = ask(connection, "/healthz", basic_header())
        full = json.loads(body)
        assert status == 200 and full["status"] == "ok" and "frames_captured" in full
        assert ask(connection, "/metrics")[0] == 401
        connection.close()
    with http_server(Parts()) as server:  # no password file: the whole payload for all
        assert "frames_captured" in json.loads(get(server.port, "/healthz")[2])


def test_behind_a_trusted_proxy_the_login_limit_counts_the_forwarded_client(users):
    """With Trusted_Proxies = 127.0.0.1 a guesser (X-Forwarded-For 192.0.2.1) gets 429 and
    a user at another address (192.0.2.2) still logs in; a header a client adds itself
    (left of the proxy's hop) changes nothing; without the setting the header is ignored."""
    def guessed_out(connection: http.client.HTTPConnection, forwarded: str) -> int:
        for _ in range(ADDRESS_BURST):
            ask(connection, "/", {**basic_header(password="guess"), "X-Forwarded-For": forwarded})
        return ask(connection, "/", {**basic_header(password="guess"),
                                     "X-Forwarded-For": forwarded})[0]

    with http_server(Parts(), auth=Authenticator(users),
                     trusted_proxies=("127.0.0.1",)) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        assert guessed_out(connection, "192.0.2.1") == 429
        assert ask(connection, "/", {**basic_header(), "X-Forwarded-For": "192.0.2.2"})[0] == 200
        spoofed = {**basic_header(password="guess"), "X-Forwarded-For": "192.0.2.2, 192.0.2.1"}
        assert ask(connection, "/", spoofed)[0] == 429  # the proxy's hop is the rightmost
        connection.close()
    with http_server(Parts(), auth=Authenticator(users)) as server:  # not trusted: the peer
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        assert guessed_out(connection, "192.0.2.1") == 429
        assert ask(connection, "/", {**basic_header(), "X-Forwarded-For": "192.0.2.2"})[0] == 429
        connection.close()


def test_behind_a_reverse_proxy_the_page_opens_its_websocket_on_the_page_port():
    """/config.json says ws_port null when the request came through a proxy (it carries
    X-Forwarded-Host), so the page connects through the proxy too."""
    with http_server(Parts()) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
        assert json.loads(ask(connection, "/config.json")[2])["ws_port"] == 9876
        proxied = json.loads(ask(connection, "/config.json",
                                 {"X-Forwarded-Host": "camera.example"})[2])
        assert proxied["ws_port"] is None and proxied["ws_path"] == "/stream"
        connection.close()


# -- TLS: the loop drives handshakes


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def https_connection(port: int, cert: Path) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT_S,
                                       context=client_context(cert))


def test_https_serves_kept_alive_and_pipelined_requests(certificate):
    """Over TLS: requests one after another on one connection, and big requests sent
    together (more decrypted bytes than one read takes: SSLSocket.pending), all answered."""
    cert, key = certificate
    with http_server(Parts(), tls=tls_context(str(cert), str(key))) as server:
        connection = https_connection(server.port, cert)
        for path in ("/config.json", "/healthz", "/colormaps.json"):
            assert ask(connection, path)[0] == 200
        connection.close()
        padding = b"X-Pad: " + b"p" * 11_000 + b"\r\n"  # each head about 11 KiB
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + padding + b"\r\n"
        last = b"GET /config.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as raw, \
                client_context(cert).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(request * 4 + last)
            statuses = re.findall(rb"HTTP/1\.1 (\d{3})", read_until_closed(sock))
        assert statuses == [b"200"] * 5


def test_slow_tls_handshakes_cost_no_thread_and_end_at_the_header_deadline(certificate):
    """Connections that send nothing, or half a ClientHello, hold no thread while an https
    request is answered at once, and are closed at the header deadline (1 s here); stop()
    is quick with them open."""
    cert, key = certificate
    threads_before = threading.active_count()
    half_hello = bytes.fromhex("160301020001") + b"\x00" * 20  # a record of 512, 26 bytes sent
    with http_server(Parts(), tls=tls_context(str(cert), str(key)), header_timeout_s=1.0) as server:
        socks = {}
        for i in range(100):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
            if i % 2:
                sock.sendall(half_hello)
            socks[sock] = time.monotonic()
        try:
            assert wait_for(lambda: server.connection_count() == 100)
            most_threads = threading.active_count()
            connection = https_connection(server.port, cert)
            assert ask(connection, "/healthz")[0] == 200
            connection.close()
            ages = []
            for sock, opened in socks.items():
                assert read_until_closed(sock) == b""
                ages.append(time.monotonic() - opened)
            assert min(ages) > 0.9 and max(ages) < 3.0
            assert most_threads <= threads_before + 2  # the loop and the test's server thread
            for _ in range(50):
                socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S).close()
            late = [socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
                    for _ in range(50)]
            assert wait_for(lambda: server.connection_count() == 50)
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 0.5
        finally:
            for sock in [*socks, *late]:
                sock.close()


def test_https_answers_carry_strict_transport_security(certificate, users):
    """Over TLS every answer (200, 401, 404) has Strict-Transport-Security; plain http none."""
    cert, key = certificate
    with http_server(Parts(), tls=tls_context(str(cert), str(key)),
                     auth=Authenticator(users)) as server:
        connection = https_connection(server.port, cert)
        for path, headers, expected in (("/healthz", {}, 200), ("/", {}, 401),
                                        ("/nowhere", basic_header(), 404)):
            status, answer, _ = ask(connection, path, headers)
            assert (status, answer["Strict-Transport-Security"]) == (expected, "max-age=31536000")
        connection.close()
    with http_server(Parts()) as server:
        assert "Strict-Transport-Security" not in get(server.port, "/healthz")[1]


def test_plain_http_on_the_tls_port_is_told_to_use_https(certificate):
    """http:// typed for an https port gets a plain 400 that says so, then the close."""
    cert, key = certificate
    with http_server(Parts(), tls=tls_context(str(cert), str(key))) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(b"\r\n\r\nthis port speaks https: use https://\n")


def test_mjpeg_over_https_with_a_login(certificate, users):
    """An MJPEG client with Basic credentials over TLS gets new frames as whole parts."""
    cert, key = certificate
    parts = Parts()
    done = threading.Event()

    def publish() -> None:  # as a source would: a frame every 20 ms (10 s at most)
        for _ in range(500):
            parts.publish()
            if done.wait(0.02):
                return

    with http_server(parts, tls=tls_context(str(cert), str(key)),
                     auth=Authenticator(users)) as server:
        connection = https_connection(server.port, cert)
        connection.request("GET", "/stream.mjpg", headers=basic_header())
        response = connection.getresponse()
        assert response.status == 200
        publisher = threading.Thread(target=publish, name="publisher")
        publisher.start()
        try:
            for _ in range(3):  # one part: boundary, two headers, blank line, the JPEG
                assert response.readline() == f"--{MJPEG_BOUNDARY}\r\n".encode()
                assert response.readline() == b"Content-Type: image/jpeg\r\n"
                length = int(response.readline().split(b":")[1])
                assert response.readline() == b"\r\n"
                jpeg = response.read(length)  # whole: SOI to EOI
                assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
                assert response.readline() == b"\r\n"
        finally:
            done.set()
            publisher.join(TIMEOUT_S)
            connection.close()
