"""Who may watch, and TLS, in real Chromium against a real daemon (simulated Lepton).

With ``[Security] Password_File`` the page asks for a login (401), then streams with
Playwright's http_credentials: the page's unchanged JS opens its WebSocket on the other
port carrying the session cookie. Without credentials every path but /healthz is 401
and the WebSocket handshake is refused. With ``TLS_Cert``/``TLS_Key`` (a certificate the
test makes) the page streams over https and wss.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Error as PlaywrightError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ROOT, wait_until
from tests.tls import PASSWORD, USER, make_certificate, make_password_file

FRAME_WAIT_MS = 10_000
CHALLENGE = 'Basic realm="thermal camera", charset="UTF-8"'
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
PROTECTED = ("/", "/index.html", "/static/main.js", "/static/connection.js", "/config.json",
             "/colormaps.json", "/snapshot.jpg", "/stream.mjpg", "/?action=snapshot",
             "/metrics", "/nowhere")
# an init script: window.socketUrls lists every WebSocket the page opens
RECORD_SOCKETS = """
    window.socketUrls = [];
    const NativeWebSocket = window.WebSocket;
    window.WebSocket = class extends NativeWebSocket {
        constructor(url, protocols) { super(url, protocols); window.socketUrls.push(this.url); }
    };
"""
# opens a WebSocket and says whether it opened or was refused (closed before opening)
TRY_WEBSOCKET = """(url) => new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve("open"); };
    socket.onclose = () => resolve("refused");
})"""


def write_config(folder, tls: bool = False, password: bool = True) -> str:
    """A server.conf in ``folder`` with a password file and/or a certificate made there."""
    lines = ["[Security]"]
    if password:
        make_password_file(folder)
        lines.append("Password_File = users")
    if tls:
        make_certificate(folder)
        lines += ["TLS_Cert = cert.pem", "TLS_Key = key.pem"]
    (folder / "server.conf").write_text("\n".join(lines) + "\n")
    return str(folder / "server.conf")


def watch(new_page, url: str, **options):
    """Open the page with ``options`` (credentials, ...) and wait for five frames on screen."""
    page = new_page(**options)
    page.add_init_script(RECORD_SOCKETS)
    response = page.goto(url)
    assert response is not None and response.status == 200
    page.wait_for_function("window.viewerStats && viewerStats.framesShown >= 5",
                           timeout=FRAME_WAIT_MS)
    return page


def session_cookie(page, http_port: int) -> dict:
    """The page's session cookie: named after the daemon's HTTP port (another daemon or
    application on another port of this host keeps its own)."""
    (cookie,) = [c for c in page.context.cookies() if c["name"].startswith("thermal_session")]
    assert cookie["name"] == f"thermal_session_{http_port}"
    return cookie


def test_the_page_asks_for_a_login_then_streams(new_page, start_daemon, tmp_path):
    """Without credentials the page is 401 with the Basic challenge; with them it streams,
    its WebSocket on the other port carrying the HttpOnly, SameSite=Strict cookie."""
    daemon = start_daemon("-c", write_config(tmp_path), "--source", "simulated")
    asking = new_page()
    answers: list[tuple[int, str | None]] = []
    asking.on("response", lambda r: answers.append((r.status, r.headers.get("www-authenticate"))))
    with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
        asking.goto(daemon.http_url + "/")  # Chromium asks; no one answers the prompt here
    assert answers == [(401, CHALLENGE)]
    page = watch(new_page, daemon.http_url + "/",
                 http_credentials={"username": USER, "password": PASSWORD})
    assert page.evaluate("window.socketUrls") == [f"ws://127.0.0.1:{daemon.ws_port}/stream?raw=1"]
    assert page.text_content("#status") == "connected"
    cookie = session_cookie(page, daemon.http_port)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Strict", False)
    assert cookie["domain"] == "127.0.0.1" and cookie["path"] == "/"


def test_without_credentials_only_healthz_answers_and_the_websocket_is_refused(
        new_page, start_daemon, tmp_path):
    """Every path but /healthz is 401; the browser's WebSocket (no cookie) and a client's
    handshake without credentials are refused; Basic credentials open the handshake."""
    daemon = start_daemon("-c", write_config(tmp_path), "--source", "simulated")
    for path in PROTECTED:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(daemon.http_url + path, timeout=5)
        assert refused.value.code == 401, path
        assert refused.value.headers["WWW-Authenticate"] == CHALLENGE
    assert daemon.health()["status"] in ("starting", "ok")
    page = new_page()
    assert page.goto(daemon.http_url + "/healthz").status in (200, 503)
    assert page.evaluate(TRY_WEBSOCKET, f"ws://127.0.0.1:{daemon.ws_port}/stream") == "refused"
    with pytest.raises(InvalidStatus) as refused_ws:
        connect(daemon.ws_url + "/stream", open_timeout=5)
    assert refused_ws.value.response.status_code == 401
    with connect(daemon.ws_url + "/stream", open_timeout=5,
                 additional_headers={"Authorization": BASIC}) as ws:  # a non-browser client
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"


def test_the_page_streams_over_https_and_wss(new_page, start_daemon, tmp_path):
    """With a certificate the page loads over https, logs in and streams over wss; the
    session cookie is Secure."""
    daemon = start_daemon("-c", write_config(tmp_path, tls=True), "--source", "simulated")
    url = f"https://127.0.0.1:{daemon.http_port}/"
    page = watch(new_page, url, ignore_https_errors=True,
                 http_credentials={"username": USER, "password": PASSWORD})
    assert page.evaluate("window.socketUrls") == [
        f"wss://127.0.0.1:{daemon.ws_port}/stream?raw=1"]
    assert session_cookie(page, daemon.http_port)["secure"] is True


def test_the_page_streams_over_https_without_a_password(new_page, start_daemon, tmp_path):
    """TLS alone: https and wss, no login asked."""
    daemon = start_daemon("-c", write_config(tmp_path, tls=True, password=False),
                          "--source", "simulated")
    page = watch(new_page, f"https://127.0.0.1:{daemon.http_port}/", ignore_https_errors=True)
    assert page.evaluate("window.socketUrls") == [
        f"wss://127.0.0.1:{daemon.ws_port}/stream?raw=1"]


@pytest.mark.parametrize(("lines", "expected"), [
    ("Password_File = missing", "[Security] Password_File = "),
    ("TLS_Cert = server.conf\nTLS_Key = server.conf", "[Security] TLS_Cert = "),
])
def test_unusable_security_files_stop_the_daemon_with_status_2(tmp_path, lines, expected):
    """A missing password file or a certificate that is not one: exit 2 naming the key."""
    (tmp_path / "server.conf").write_text(f"[Security]\n{lines}\n")
    result = subprocess.run([sys.executable, str(ROOT / "websocket_http_server.py"), "-c",
                             str(tmp_path / "server.conf"), "--http-port", "0", "--ws-port",
                             "0", "--http-host", "127.0.0.1", "--ws-host", "127.0.0.1",
                             "--source", "simulated"],
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert f"configuration error: {tmp_path / 'server.conf'} {expected}" in result.stderr


FRAMING_PAGE = ('<!doctype html><title>decoy</title>'
                '<iframe id="viewer" src="{url}" width="800" height="600"></iframe>')


@pytest.fixture
def framer(tmp_path):
    """Another origin on this machine: ``python -m http.server`` on 127.0.0.1 (another
    port), serving ``frame.html`` written by the test; yields (its origin, its folder).
    (A page Playwright fulfils has no address: Chromium's local network checks would
    refuse its frame of 127.0.0.1 whatever the daemon says.)"""
    folder = tmp_path / "framer"
    folder.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                "--directory", str(folder), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _listening(port), 10)
        yield f"http://127.0.0.1:{port}", folder
    finally:
        process.terminate()
        process.wait(5)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def framed_viewer(new_page, framer, url: str):
    """The framer's page framing ``url``: the frame, once it loaded or was refused."""
    origin, folder = framer
    (folder / "frame.html").write_text(FRAMING_PAGE.format(url=url))
    page = new_page()
    page.goto(origin + "/frame.html")
    page.wait_for_timeout(500)  # (a refused frame fires no load event to wait for)
    (frame,) = page.main_frame.child_frames
    return frame


def test_a_page_elsewhere_cannot_frame_the_viewer(new_page, start_daemon, tmp_path, framer):
    """Clickjacking: a page of another origin framing the viewer gets Chromium's refusal
    (X-Frame-Options: DENY, frame-ancestors 'none'), not the viewer."""
    (tmp_path / "server.conf").write_text("[Security]\n")
    daemon = start_daemon("-c", str(tmp_path / "server.conf"), "--source", "simulated")
    frame = framed_viewer(new_page, framer, daemon.http_url + "/")
    assert frame.url.startswith("chrome-error://")
    assert frame.query_selector("#status") is None


def test_frame_ancestors_lets_its_origins_frame_the_viewer(new_page, start_daemon, tmp_path,
                                                          framer):
    """With Frame_Ancestors naming the framing page's origin (a Home Assistant panel) the
    viewer loads in the frame and streams."""
    (tmp_path / "server.conf").write_text(f"[Security]\nFrame_Ancestors = {framer[0]}\n")
    daemon = start_daemon("-c", str(tmp_path / "server.conf"), "--source", "simulated")
    frame = framed_viewer(new_page, framer, daemon.http_url + "/")
    assert frame.url == daemon.http_url + "/"
    frame.wait_for_function("window.viewerStats && viewerStats.framesShown >= 3",
                            timeout=FRAME_WAIT_MS)
    assert frame.text_content("#status") == "connected"
