"""server.http_server in-process: assets from static/, status payloads, snapshots, MJPEG.

Each test builds an HttpServer from a real hub, state, renderer and status on 127.0.0.1
and asks it with urllib or a raw socket; no daemon subprocess.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

from server.http_server import load_assets
from server.render_settings import FIELDS
from server.wire import MJPEG_BOUNDARY
from tests.server.outputs import Parts, http_server

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
