"""The reverse-proxy recipe, systemd/nginx-thermal.conf, with Debian's nginx in front of a real
daemon: the page, its WebSocket and MJPEG on nginx's one port, MJPEG not buffered, and a
guesser behind nginx that cannot lock out the other clients (Trusted_Proxies).

nginx runs in the foreground (``-g 'daemon off;'``) from a generated main file whose
``http`` block includes the recipe with only its ports changed; pid, logs and every
temporary folder are in the test's own folder; it is stopped by its PID.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import ROOT, wait_until
from tests.e2e.test_browser import free_ports
from tests.e2e.test_browser_security import BASIC, RECORD_SOCKETS, write_config
from tests.e2e.test_daemon_tcp import picture, producer, push, start_tcp
from thermal_streamer.protocols.wire import MJPEG_BOUNDARY, parse_frame_message

NGINX = Path("/usr/sbin/nginx")
RECIPE = ROOT / "systemd" / "nginx-thermal.conf"
TIMEOUT_S = 5.0
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def site(http_port: int, ws_port: int, listen_port: int) -> str:
    """The recipe with the daemon's ports and a loopback listen port (each line exactly once)."""
    text = RECIPE.read_text()
    for old, new in (("server 127.0.0.1:8080;", f"server 127.0.0.1:{http_port};"),
                     ("server 127.0.0.1:9876;", f"server 127.0.0.1:{ws_port};"),
                     ("listen 80;", f"listen 127.0.0.1:{listen_port};")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@contextlib.contextmanager
def running_nginx(folder: Path, http_port: int, ws_port: int) -> Iterator[int]:
    """Debian's nginx with the recipe in front of the daemon's ports; yields its port."""
    if not NGINX.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{NGINX} is missing (required on CI)")
        pytest.skip(f"{NGINX} is missing: apt-get install nginx")
    folder.chmod(0o755)  # nginx's workers run as nobody when the tests run as root
    (port,) = free_ports(1)
    (folder / "site.conf").write_text(site(http_port, ws_port, port))
    temp = "\n".join(f"    {name}_temp_path {folder / name};" for name in TEMP_PATHS)
    (folder / "nginx.conf").write_text(f"""
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} info;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
    access_log {folder / 'access.log'};
{temp}
    include {folder / 'site.conf'};
}}
""")
    process = subprocess.Popen([str(NGINX), "-c", str(folder / "nginx.conf"), "-p", str(folder),
                                "-e", str(folder / "error.log"), "-g", "daemon off;"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        def accepting() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"nginx exited: {process.stderr.read()}")  # type: ignore[union-attr]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return True
            return False

        assert wait_until(accepting, TIMEOUT_S), "nginx did not listen"
        yield port
    finally:
        process.send_signal(signal.SIGTERM)  # the master, by its PID: its workers follow
        try:
            process.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()  # type: ignore[union-attr]


def test_page_config_and_websocket_frames_through_nginx(start_daemon, tmp_path):
    """Through nginx: the page, /config.json saying ws_port null (a proxy is in front),
    /stream frames and the original / protocol's base64 frames on nginx's port."""
    daemon = start_daemon("--source", "simulated")
    with running_nginx(tmp_path, daemon.http_port, daemon.ws_port) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and b"<html" in response.read().lower()
        connection.request("GET", "/config.json")
        config = json.loads(connection.getresponse().read())
        assert config["ws_port"] is None and config["ws_path"] == "/stream"
        connection.close()
        origin = f"http://127.0.0.1:{port}"  # what the page at nginx's address sends
        with connect(f"ws://127.0.0.1:{port}/stream", open_timeout=TIMEOUT_S,
                     origin=origin) as ws:  # type: ignore[arg-type]
            assert json.loads(ws.recv(timeout=TIMEOUT_S))["type"] == "hello"
            seqs = []
            while len(seqs) < 5:
                message = ws.recv(timeout=TIMEOUT_S)
                if isinstance(message, bytes):
                    seqs.append(parse_frame_message(message)[0]["seq"])
            assert seqs == sorted(set(seqs))
        with connect(f"ws://127.0.0.1:{port}/", open_timeout=TIMEOUT_S) as ws:
            assert base64.b64decode(ws.recv(timeout=TIMEOUT_S))[:2] == b"\xff\xd8"


def read_part(response: http.client.HTTPResponse) -> bytes:
    """One multipart part's JPEG (boundary, headers, blank line, body, CRLF)."""
    assert response.readline() == f"--{MJPEG_BOUNDARY}\r\n".encode()
    assert response.readline() == b"Content-Type: image/jpeg\r\n"
    length = int(response.readline().split(b":")[1])
    assert response.readline() == b"\r\n"
    jpeg = response.read(length)
    assert response.readline() == b"\r\n"
    return jpeg


def test_mjpeg_through_nginx_is_not_buffered(start_daemon, tmp_path):
    """Each small JPEG pushed to the tcp source arrives through nginx before the next one
    is sent: nginx passes every part on as it comes (proxy_buffering off)."""
    daemon, tcp_port = start_tcp(start_daemon)
    with running_nginx(tmp_path, daemon.http_port, daemon.ws_port) as port, \
            producer(tcp_port) as source:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        connection.request("GET", "/stream.mjpg")
        response = connection.getresponse()
        assert response.status == 200
        assert wait_until(lambda: daemon.health()["clients"].get("mjpeg") == 1, TIMEOUT_S)
        for shade in range(0, 250, 25):  # 10 frames of about 700 bytes, in lockstep
            jpeg = picture(16, 16, shade=shade)
            push(source, jpeg)
            assert read_part(response) == jpeg  # within TIMEOUT_S, or the socket times out
        connection.close()


def test_the_page_streams_through_nginx(new_page, start_daemon, tmp_path):
    """In Chromium, the page at nginx's address (its JS unchanged) opens its WebSocket on
    nginx's port and shows frames."""
    daemon = start_daemon("--source", "simulated")
    with running_nginx(tmp_path, daemon.http_port, daemon.ws_port) as port:
        page = new_page()
        page.add_init_script(RECORD_SOCKETS)
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("window.viewerStats && viewerStats.framesShown >= 5",
                               timeout=10_000)
        assert page.evaluate("window.socketUrls") == [f"ws://127.0.0.1:{port}/stream?raw=1"]


def from_address(source: str, port: int) -> socket.socket:
    """A TCP connection to nginx's port from ``source``, another loopback address (Linux
    answers all of 127.0.0.0/8): what two machines on the LAN would look like to nginx."""
    return socket.create_connection(("127.0.0.1", port), TIMEOUT_S, source_address=(source, 0))


def test_a_guesser_behind_nginx_does_not_lock_out_the_real_user(start_daemon, tmp_path):
    """With Trusted_Proxies = 127.0.0.1 the daemon counts the client nginx names: a guesser
    at 127.0.0.2 gets 429 for its logins and a wait for its tokens (whatever
    X-Forwarded-For it sends itself), while the user at 127.0.0.3 logs in and commands."""
    token = "token-of-16-chars"
    folder = tmp_path / "daemon"
    folder.mkdir()
    conf = Path(write_config(folder))
    conf.write_text(conf.read_text() + f"Trusted_Proxies = 127.0.0.1\nControl_Token = {token}\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    wrong = "Basic " + base64.b64encode(b"admin:guess").decode()
    with running_nginx(tmp_path, daemon.http_port, daemon.ws_port) as port:
        def login(source: str, authorization: str, forwarded: str = "") -> int:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
            connection.sock = from_address(source, port)
            headers = {"Authorization": authorization}
            if forwarded:
                headers["X-Forwarded-For"] = forwarded
            connection.request("GET", "/snapshot.jpg", headers=headers)
            status = connection.getresponse().status
            connection.close()
            return status

        statuses = [login("127.0.0.2", wrong, "127.0.0.3") for _ in range(12)]
        assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
        assert login("127.0.0.3", BASIC) == 200

        def command(source: str, given: str) -> dict:
            with connect(f"ws://127.0.0.1:{port}/stream", open_timeout=TIMEOUT_S,
                         sock=from_address(source, port),
                         additional_headers={"Authorization": BASIC}) as ws:
                assert json.loads(ws.recv(timeout=TIMEOUT_S))["type"] == "hello"
                ws.send(json.dumps({"cmd": "set", "scale": 2, "token": given}))
                for _ in range(200):  # frames and viewer counts come between (bounded)
                    message = ws.recv(timeout=TIMEOUT_S)
                    reply = json.loads(message) if isinstance(message, str) else {}
                    if reply.get("type") == "error" or reply.get("scale") == 2:
                        return reply
                raise AssertionError("no answer to the command")

        for guess in range(5):  # a connection per guess: reconnecting does not help
            assert command("127.0.0.2", f"guess-{guess:012d}")["type"] == "error"
        assert command("127.0.0.2", token)["error"].startswith(
            "too many wrong control tokens from this address")
        assert command("127.0.0.3", token)["type"] == "state"
