"""The HTTP side: the viewer page, its assets, snapshots, MJPEG, health and metrics.

Built on :class:`http.server.ThreadingHTTPServer`. Only the paths listed in
docs/protocol.md and the page's assets exist (``index.html`` and the ``.js`` and
``.css`` files directly in ``static/``, read once at start-up); everything else is
404, whatever its encoding. Only GET and HEAD; other methods get 405; a GET or HEAD
with a body (``Content-Length`` > 0 or any ``Transfer-Encoding``) gets 400 and the
connection closes, so a body is never read as the next request.

Connections cost no thread while they wait: one loop (the thread that runs
:meth:`HttpServer.serve_forever`) accepts them and reads each request's line and
headers with a selector, and only a complete request is handed to a thread of its own,
which answers it and gives the connection back to the loop (keep-alive). A request
whose line and headers do not arrive within ``header_timeout_s`` of the connection (or
of the previous answer) is closed; over MAX_HEAD_BYTES they get 414 (the request line
alone) or 431. At ``max_connections`` the oldest waiting connection is closed for a
newcomer, or the newcomer gets 503 when every one is being answered. Out of file
descriptors, the loop logs once and stops accepting for ACCEPT_BACKOFF_S.

With TLS (``tls``, ``[Security] TLS_Cert``/``TLS_Key``) the loop also drives each
connection's TLS handshake, non-blocking (``do_handshake`` until it stops raising
SSLWantReadError/SSLWantWriteError), within the same deadline as the headers: a slow or
silent client costs no thread there either. A client that does not speak TLS is closed
(one rate-limited INFO line); plain HTTP gets a plain 400 that says to use https.
Decrypted bytes the TLS layer still holds when a kept-alive connection comes back
(``SSLSocket.pending``: pipelined requests) are read at once, as no selector sees them.

With a password file (``auth``, :mod:`thermal_streamer.security.auth`) every path but ``/healthz``
needs Basic credentials (RFC 7617): 401 with a ``WWW-Authenticate`` challenge without them,
429 or 503 with ``Retry-After`` while logins are rate-limited; the page and
``/config.json`` also set the session cookie the WebSocket handshake accepts.

Loop::

    accept -> [TLS handshake] -> waiting (selector, deadline) -> head complete -> http-<peer>
                                     ^                                             |
                                     +-------- keep-alive: back to waiting --------+
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import re
import selectors
import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
from PIL import Image

from thermal_streamer.control import colormaps
from thermal_streamer.core.frames import EncodedFrame, RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.core.ratelimit import RateLimitedLog
from thermal_streamer.outputs import metrics
from thermal_streamer.outputs.reports import Status
from thermal_streamer.protocols import wire
from thermal_streamer.protocols.byte_ranges import RangeNotSatisfiable, parse_range
from thermal_streamer.security.auth import Authenticator, Verdict
from thermal_streamer.security.hosts import HostPolicy

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1] / "page"  # the viewer page: package data
ASSET_TYPES = {  # the only files on disk the server sends: static/*.js and static/*.css
    ".js": "text/javascript; charset=utf-8",  # the viewer page's ES modules
    ".css": "text/css; charset=utf-8",
}
REQUEST_TIMEOUT_S = 10.0  # sending an answer (other than MJPEG) may take this long
HEADER_TIMEOUT_S = 10.0  # a request's line and headers must all arrive within this
MAX_HEAD_BYTES = 16 * 1024  # a request's line and headers together
SEND_BUFFER_BYTES = 64 * 1024  # kernel send buffer per connection: what a stalled peer absorbs
FILE_CHUNK_BYTES = 64 * 1024  # a download is read and sent this much at a time
MAX_CONNECTIONS = 512
ACCEPT_BACKOFF_S = 0.25  # out of file descriptors: accept again after this long
ACCEPT_BATCH = 64  # connections accepted per loop pass at most
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
QUIET_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError,
                ssl.SSLError)  # a peer that went away in the middle of a TLS record
HEAD_END = re.compile(rb"\A\r?\n|\n\r?\n")  # the empty line after the headers
ERROR_LOG_INTERVAL_S = 30.0
MJPEG_POLL_S = 0.5  # how often an idle MJPEG stream looks at the stop flag
MJPG_STREAMER_ACTIONS = {"stream": "/stream.mjpg", "snapshot": "/snapshot.jpg"}
OPEN_PATHS = ("/healthz",)  # answered without a login: monitors and the systemd unit
SESSION_PATHS = ("/", "/index.html", "/config.json")  # a login here also gets a session
# cookie: the page loads these before it opens its WebSocket (static/connection.js)


def encode_png16(pixels: np.ndarray) -> bytes:
    """ndarray uint16 (rows, cols) as a 16-bit greyscale PNG."""
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint16, copy=False)).save(out, "PNG")
    return out.getvalue()


def encode_npy(pixels: np.ndarray) -> bytes:
    """ndarray uint16 (rows, cols) in numpy's .npy format."""
    out = io.BytesIO()
    np.save(out, pixels)
    return out.getvalue()


RAW_SNAPSHOTS = {"/snapshot.raw.png": ("image/png", encode_png16),
                 "/snapshot.npy": ("application/octet-stream", encode_npy)}


def load_assets(root: Path = ROOT) -> dict[str, tuple[str, bytes]]:
    """Read the page and its assets once: {url path: (content type, body)}.

    The assets are the files directly in ``root/static`` whose suffix is in ASSET_TYPES
    (a new ES module needs no list to be edited); nothing else on disk is reachable.
    """
    assets = {"/": ("text/html; charset=utf-8", (root / "index.html").read_bytes())}
    assets["/index.html"] = assets["/"]
    for path in sorted((root / "static").iterdir()):
        content_type = ASSET_TYPES.get(path.suffix)
        if content_type and path.is_file():
            assets[f"/static/{path.name}"] = (content_type, path.read_bytes())
    return assets


@dataclass(eq=False)
class Connection:
    """One client connection as the loop holds it.

    Attributes:
        sock: the connected socket (non-blocking while waiting).
        address: the peer's (host, port).
        buffer: bytes received and not yet handed to a handler (at most MAX_HEAD_BYTES).
        head: the request line and headers being answered.
        deadline: time.monotonic() by which the head must be complete, s.
        handshaking: its TLS handshake is not finished (an ``ssl.SSLSocket``).
    """

    sock: socket.socket
    address: tuple[str, int]
    buffer: bytearray = field(default_factory=bytearray)
    head: bytes = b""
    deadline: float = 0.0
    handshaking: bool = False


class RequestHandler(BaseHTTPRequestHandler):
    """Answers one request, whose line and headers the loop has read, on its connection.

    ``close_connection`` afterwards says whether the connection may serve another.
    """

    server: HttpServer
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even a garbled request gets a status line
    timeout = REQUEST_TIMEOUT_S
    server_version = "thermal-camera"
    sys_version = ""

    def __init__(self, connection: Connection, client_address: tuple[str, int],
                 server: HttpServer):
        self.head = connection.head
        super().__init__(connection.sock, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # its reference would keep the socket open after close()
        self.rfile = io.BytesIO(self.head)  # the whole request: GET and HEAD have no body
        self.extra_headers: dict[str, str] = {}  # sent by _send: a challenge, a cookie

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: 405, not the stdlib's 501
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        self.close_connection = True  # a body we did not read may follow
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self._finish_headers("text/plain; charset=utf-8", b"405 method not allowed\n", True)

    def _has_body(self) -> bool:
        """True if the request announces a body (Content-Length other than 0, any
        Transfer-Encoding): RFC 9110 section 9.3.1 gives a GET body no meaning."""
        lengths = self.headers.get_all("Content-Length", [])
        return ("Transfer-Encoding" in self.headers
                or any(not v.strip().isdigit() or int(v) > 0 for v in lengths))

    def _dispatch(self, send_body: bool) -> None:
        if self._has_body():  # behind a proxy, the body would be smuggled in as a request
            self.close_connection = True
            self._send_text(HTTPStatus.BAD_REQUEST, "a GET or HEAD request must not have a body",
                            send_body)
            return
        url = urlsplit(self.path)
        path, server = url.path, self.server
        host = self.headers.get("Host")
        if not server.hosts.allows(host):  # DNS rebinding: another site's name for our address
            self.close_connection = True
            self._send_text(HTTPStatus.MISDIRECTED_REQUEST, f"host {host!r} is not one of this "
                            "machine's names: add it to [Security] Allowed_Hosts", send_body)
            return
        action = parse_qs(url.query).get("action", [None])[0] if path == "/" else None
        if action is not None:  # mjpg-streamer's URLs, as OctoPrint and dashboards expect
            path = MJPG_STREAMER_ACTIONS.get(action, "/?action=unknown")
        if server.auth is not None and path not in OPEN_PATHS and not self._log_in(
                server.auth, path, send_body):
            return
        if path in server.assets:
            content_type, body = server.assets[path]
            self._send(HTTPStatus.OK, content_type, body, send_body, cache="no-cache")
        elif path == "/config.json":
            config = server.status.page_config()
            if "X-Forwarded-Host" in self.headers:  # behind a reverse proxy (nginx, Caddy):
                config["ws_port"] = None  # the page opens its WebSocket through it too
            self._send_json(HTTPStatus.OK, config, send_body)
        elif path == "/healthz":
            health = server.status.health()
            stale = health["status"] == "stale"
            self._send_json(HTTPStatus.SERVICE_UNAVAILABLE if stale else HTTPStatus.OK, health,
                            send_body)
        elif path == "/metrics":
            self._send(HTTPStatus.OK, metrics.CONTENT_TYPE,
                       metrics.render_metrics(server.status.health(), server.hub.totals()).encode(),
                       send_body)
        elif path == "/snapshot.jpg":
            frame = server.snapshot()
            if frame is None:
                self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet", send_body)
            else:
                self._send(HTTPStatus.OK, "image/jpeg", frame.jpeg, send_body)
        elif path in RAW_SNAPSHOTS:
            self._send_raw_snapshot(path, send_body)
        elif path == "/stream.mjpg":
            self._send_mjpeg(send_body)
        elif path == "/colormaps.json":
            self._send_json(HTTPStatus.OK, {"names": colormaps.names()}, send_body)
        elif path == "/colormap.json":
            self._send_colormap(parse_qs(url.query).get("name", [""])[0], send_body)
        elif path in server.json_routes:
            value = server.json_routes[path]()
            if value is None:
                self._send_text(HTTPStatus.NOT_FOUND, "not available here", send_body)
            else:
                self._send_json(HTTPStatus.OK, value, send_body)
        elif (prefix := route_prefix(path, server.file_routes)) is not None:
            found = server.file_routes[prefix](unquote(path[len(prefix):]))
            if found is None:
                self._send_text(HTTPStatus.NOT_FOUND, "404 not found", send_body)
            else:
                self._send_file(found, send_body)
        elif (prefix := route_prefix(path, server.data_routes)) is not None:
            answer = server.data_routes[prefix](unquote(path[len(prefix):]))
            if answer is None:
                self._send_text(HTTPStatus.NOT_FOUND, "404 not found", send_body)
            else:
                self._send(HTTPStatus.OK, *answer, send_body)
        else:
            self._send_text(HTTPStatus.NOT_FOUND, "404 not found", send_body)

    def _send_file(self, path: Path, send_body: bool) -> None:
        """A file as a download, whole or the one byte range asked for (RFC 9110 §14),
        read and sent in FILE_CHUNK_BYTES pieces (never whole in memory)."""
        try:
            file = path.open("rb")  # closed by the with below
        except OSError:
            self._send_text(HTTPStatus.NOT_FOUND, "404 not found", send_body)
            return
        with file:
            size = os.fstat(file.fileno()).st_size
            try:
                span = parse_range(self.headers.get("Range"), size)
            except RangeNotSatisfiable:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self._finish_headers("text/plain; charset=utf-8", b"", send_body)
                return
            first, last = span if span is not None else (0, size - 1)
            self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
            if span:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Disposition", f'attachment; filename="{path.name}"')
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(last - first + 1))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if not send_body:
                return
            file.seek(first)
            left = last - first + 1
            while left > 0 and (chunk := file.read(min(FILE_CHUNK_BYTES, left))):
                self.wfile.write(chunk)
                left -= len(chunk)

    def _log_in(self, auth: Authenticator, path: str, send_body: bool) -> bool:
        """Check the request's Basic credentials; False once it was refused (answered).

        Refused: 401 with the challenge (none or wrong), 429 (this address failed too
        often) or 503 (too many logins at once), the last two with ``Retry-After``
        (:meth:`thermal_streamer.security.auth.Login.refusal`). May block for one scrypt check,
        50-100 ms, when the credentials are not cached. A login on a SESSION_PATHS path without a
        live session cookie also gets a new one (``Set-Cookie``, RFC 6265 §4.1).
        """
        login = auth.check(self.headers.get("Authorization"), self.client_address[0])
        if login.verdict is not Verdict.ACCEPTED:
            refusal = login.refusal()
            self.extra_headers.update(refusal.headers)
            self._send_text(refusal.status, refusal.text, send_body)
            return False
        if path in SESSION_PATHS and login.user and auth.session_user(
                self.headers.get_all("Cookie", [])) is None:
            self.extra_headers["Set-Cookie"] = auth.open_session(login.user)
        return True

    def _send_raw_snapshot(self, path: str, send_body: bool) -> None:
        """The newest raw frame as 16-bit greyscale PNG or .npy (uint16 (rows, cols))."""
        _, frame = self.server.hub.raw.latest()
        if frame is None:
            self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet", send_body)
        elif not isinstance(frame, RawFrame):
            self._send_text(HTTPStatus.NOT_FOUND, "this source has no raw frames", send_body)
        else:
            content_type, encode = RAW_SNAPSHOTS[path]
            self._send(HTTPStatus.OK, content_type, encode(frame.pixels), send_body)

    def _send_colormap(self, name: str, send_body: bool) -> None:
        """A colormap's 256 RGB entries as 1536 hex digits, for the page's colour bar."""
        if not colormaps.is_known(name):
            self._send_text(HTTPStatus.NOT_FOUND, f"unknown colormap {name!r}", send_body)
            return
        lut = colormaps.palette_bytes(name).hex()
        self._send(HTTPStatus.OK, "application/json",
                   json.dumps({"name": name, "lut": lut}).encode(), send_body, cache="max-age=3600")

    def _send_mjpeg(self, send_body: bool) -> None:
        """Stream every new frame as multipart/x-mixed-replace until the client goes.

        A client slower than the source skips frames (it always gets the newest); one
        that cannot take a frame for Send_Timeout is dropped. Only this thread waits.
        """
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type",
                         f"multipart/x-mixed-replace; boundary={wire.MJPEG_BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if not send_body:
            return
        server = self.server
        self.connection.settimeout(server.send_timeout_s)
        host, port = self.client_address[:2]
        viewer = server.hub.join("mjpeg", f"{host}:{port}")
        log.info("client connected: %s /stream.mjpg", viewer.address)
        seq = server.hub.encoded.latest()[0]
        try:
            while not server.stopping.is_set():
                item = server.hub.encoded.wait_newer(seq, MJPEG_POLL_S)
                if item is None:
                    continue
                new_seq, frame = item
                viewer.frames_skipped += max(new_seq - seq - 1, 0) if seq else 0
                seq = new_seq
                self.wfile.write(frame.mjpeg_part)
                viewer.count_sent(len(frame.mjpeg_part))
        except OSError as exc:  # gone, or stalled past Send_Timeout
            log.info("client disconnected: %s /stream.mjpg (%s)", viewer.address,
                     "timed out" if isinstance(exc, TimeoutError) else "closed")
        finally:
            server.hub.leave(viewer)

    def _send_json(self, status: HTTPStatus, value: Any, send_body: bool) -> None:
        self._send(status, "application/json", json.dumps(value).encode(), send_body)

    def _send_text(self, status: HTTPStatus, text: str, send_body: bool) -> None:
        self._send(status, "text/plain; charset=utf-8", f"{text}\n".encode(), send_body)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, send_body: bool,
              cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Cache-Control", cache)
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        self._finish_headers(content_type, body, send_body)

    def _finish_headers(self, content_type: str, body: bytes, send_body: bool) -> None:
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:
        """Refusals (400, 414, 431, ...) at INFO, rate-limited; timeouts one DEBUG line."""
        if format.startswith("Request timed out"):
            log.debug("%s %s", self.address_string(), format % args)
        else:
            self.server.log_limited(logging.INFO, "refusal", "%s %s", self.address_string(),
                                    format % args)


class HttpServer(ThreadingHTTPServer):
    """The HTTP side: one loop thread for every waiting connection, one thread per request.

    Run :meth:`serve_forever` in a thread; :meth:`stop` (from any other thread) ends it,
    closes every connection and joins every thread. Threads: the loop, plus one named
    ``http-<peer>`` thread per request being answered (an MJPEG stream keeps its
    thread), so at most ``max_connections`` + 1.

    Args:
        sock: a bound, listening socket (bound by the caller so errors are reported early).
        hub: frames for snapshots and MJPEG, viewers and their totals for /metrics.
        status: the /config.json and /healthz payloads.
        snapshot: returns the newest frame rendered (None before the first).
        send_timeout_s: drop an MJPEG client that could not take a frame for this long.
        hosts: which Host names are answered (others get 421: DNS rebinding).
        root: the folder holding ``index.html`` and ``static/``.
        json_routes: more JSON paths a component serves: path -> callable returning the
            JSON value now, or None for 404 (e.g. ``/raw`` for a source without
            temperatures).
        file_routes: download folders a component serves: path prefix (ending in
            ``/``) -> callable taking the rest of the path and returning the file, or
            None for 404 (the component checks the name against its own listing, so
            nothing else on disk is reachable); sent in chunks, with ``Range``.
        data_routes: computed answers a component serves under a path prefix (ending
            in ``/``): prefix -> callable taking the rest of the path and returning
            (content type, body), or None for 404; ``Cache-Control: no-store``.
        max_connections: connections open at once, waiting or being answered, >= 1
            (default 512); at the limit the oldest waiting one is closed for a newcomer,
            or the newcomer gets 503 if none is waiting.
        header_timeout_s: a request's line and headers must arrive within this many
            seconds of the connection or of the previous answer (default 10), else the
            connection is closed.
        send_buffer_bytes: each connection's kernel send buffer (SO_SNDBUF; Linux doubles
            it), bytes (default 64 KiB): how much a stalled client absorbs, so that it is
            dropped about Send_Timeout after it stops reading.
        auth: who may watch (None: everyone); ``/healthz`` stays open.
        tls: serve https with this server context (None: plain http).
    """

    daemon_threads = False
    block_on_close = True

    def __init__(self, sock: socket.socket, hub: Hub, status: Status,
                 snapshot: Callable[[], EncodedFrame | None], send_timeout_s: float,
                 hosts: HostPolicy, root: Path = ROOT,
                 json_routes: Mapping[str, Callable[[], Any]] | None = None,
                 file_routes: Mapping[str, Callable[[str], Path | None]] | None = None,
                 data_routes: Mapping[str, Callable[[str], tuple[str, bytes] | None]]
                 | None = None,
                 max_connections: int = MAX_CONNECTIONS,
                 header_timeout_s: float = HEADER_TIMEOUT_S,
                 send_buffer_bytes: int = SEND_BUFFER_BYTES, auth: Authenticator | None = None,
                 tls: ssl.SSLContext | None = None):
        super().__init__(sock.getsockname()[:2], RequestHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        sock.setblocking(False)
        self.hub, self.status, self.snapshot = hub, status, snapshot
        self.send_timeout_s, self.hosts = send_timeout_s, hosts
        self.max_connections, self.header_timeout_s = max_connections, header_timeout_s
        self.send_buffer_bytes, self.auth, self.tls = send_buffer_bytes, auth, tls
        self.assets = load_assets(root)
        self.json_routes = dict(json_routes or {})
        self.file_routes = dict(file_routes or {})
        self.data_routes = dict(data_routes or {})
        self.stopping = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._waiting: dict[socket.socket, Connection] = {}  # oldest first (deadline order)
        self._accept_paused_until: float | None = None
        self._lock = threading.Lock()  # the fields below, shared with handler threads
        self._active: set[Connection] = set()
        self._returned: list[Connection] = []
        self._threads: set[threading.Thread] = set()
        self._loop_closed = False
        self._shutdown_requested = threading.Event()
        self._loop_done = threading.Event()
        self._loop_done.set()  # until serve_forever runs
        self._log = RateLimitedLog(log, ERROR_LOG_INTERVAL_S)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.socket.getsockname()[1])

    def connection_count(self) -> int:
        """Connections open now, waiting for a request or being answered."""
        with self._lock:
            return len(self._waiting) + len(self._active)

    def log_limited(self, level: int, kind: str, message: str, *args: object) -> None:
        """Log through the server's rate-limited log (thread-safe): ``kind`` at most once
        per 30 s, with a count of what was suppressed."""
        with self._lock:
            self._log.log(level, kind, message, *args)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept connections, read their requests' heads and hand them to threads, until
        :meth:`shutdown`; then close every waiting connection.

        Args:
            poll_interval: longest sleep of the loop, s (shutdown wakes it at once).
        """
        self._loop_done.clear()
        self._selector.register(self.socket, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._shutdown_requested.is_set():
                for key, _ in self._selector.select(self._select_timeout(poll_interval)):
                    if key.fileobj is self.socket:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        self._take_returned()
                    elif self._waiting.get(key.fileobj) is key.data:  # type: ignore[call-overload]
                        self._read(key.data)  # (not closed earlier in this pass)
                self._expire()
        finally:
            with self._lock:
                self._loop_closed = True
                returned, self._returned = self._returned, []
            for connection in [*self._waiting.values(), *returned]:
                self._close(connection)
            self._selector.close()
            self._loop_done.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait for it (returns at once if it never ran)."""
        self._shutdown_requested.set()
        self._wake()
        self._loop_done.wait()

    def stop(self) -> None:
        """Stop accepting, close every connection, join every thread. Idempotent."""
        self.stopping.set()
        self.shutdown()
        self.close_connections()
        self.server_close()

    def server_close(self) -> None:
        """Close the listening socket and join every handler thread."""
        self.socket.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()
        self._wake_r.close()
        self._wake_w.close()

    def close_connections(self) -> None:
        """Unblock every handler thread by shutting its socket down."""
        with self._lock:
            connections = list(self._active)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log the exception being handled: a reset, broken pipe or timeout is one DEBUG
        line; anything else is logged with its traceback, each kind at most once per 30 s."""
        exc = sys.exc_info()[1]
        peer = "{}:{}".format(*client_address[:2])
        if isinstance(exc, QUIET_ERRORS):
            log.debug("%s: connection lost (%s)", peer, type(exc).__name__)
        else:
            self.log_limited(logging.ERROR, f"error {type(exc).__name__}",
                             "error answering %s:\n%s", peer, traceback.format_exc().rstrip())

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (a wake-up is pending) or closed
            self._wake_w.send(b"\0")

    def _select_timeout(self, poll_interval: float) -> float:
        """Until the next deadline, the end of an accept pause, or ``poll_interval``, s."""
        now, until = time.monotonic(), [poll_interval]
        if self._waiting:
            until.append(next(iter(self._waiting.values())).deadline - now)
        if self._accept_paused_until is not None:
            if self._accept_paused_until <= now:
                self._accept_paused_until = None
                self._selector.register(self.socket, selectors.EVENT_READ)
            else:
                until.append(self._accept_paused_until - now)
        return max(min(until), 0.0)

    def _accept(self) -> None:
        """Accept up to ACCEPT_BATCH waiting connections; out of descriptors, pause."""
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self.socket.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno not in OUT_OF_RESOURCES:  # e.g. ECONNABORTED: that client gave up
                    log.debug("accept failed: %s", exc)
                    return
                self.log_limited(logging.WARNING, "accept", "cannot accept HTTP connections "
                                 "(%s): pausing %.2f s; raise the file descriptor limit "
                                 "(LimitNOFILE=) or lower HTTP_Max_Connections",
                                 exc.strerror, ACCEPT_BACKOFF_S)
                self._selector.unregister(self.socket)
                self._accept_paused_until = time.monotonic() + ACCEPT_BACKOFF_S
                return
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
                # headers and body are two writes: without this, Nagle holds the body until
                # the client's delayed ACK (40 ms) on every kept-alive request
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:  # the loop drives the handshake (_handshake)
                sock = self.tls.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
            connection = Connection(sock, address[:2], handshaking=self.tls is not None)
            if self.connection_count() >= self.max_connections:
                if not self._waiting:
                    self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE,
                                 f"too many connections (HTTP_Max_Connections = "
                                 f"{self.max_connections})")
                    continue
                oldest = next(iter(self._waiting.values()))
                log.debug("%s:%d: closed for a newcomer (%d connections)", *oldest.address,
                          self.max_connections)
                self._close(oldest)
            self._wait(connection)

    def _wait(self, connection: Connection) -> None:
        """Wait for the connection's TLS handshake (if it has one to do) and its next
        request head (which may be buffered already), within ``header_timeout_s``."""
        connection.deadline = time.monotonic() + self.header_timeout_s
        with self._lock:
            self._waiting[connection.sock] = connection
        if connection.handshaking or not self._check_head(connection):
            self._selector.register(connection.sock, selectors.EVENT_READ, connection)
            if tls_pending(connection):
                self._read(connection)

    def _read(self, connection: Connection) -> None:
        """The selector says the connection can go on: handshake, or read what came."""
        if connection.handshaking:
            self._handshake(connection)
            return
        try:
            # one TLS record at most: bytes left in it (pending) mean the buffer is full now
            data = connection.sock.recv(MAX_HEAD_BYTES - len(connection.buffer))
        except (BlockingIOError, ssl.SSLWantReadError):
            self._selector.modify(connection.sock, selectors.EVENT_READ, connection)
            return
        except ssl.SSLWantWriteError:  # TLS must send first (its send buffer is full)
            self._selector.modify(connection.sock, selectors.EVENT_WRITE, connection)
            return
        except OSError as exc:
            log.debug("%s:%d: connection lost (%s)", *connection.address, type(exc).__name__)
            self._close(connection)
            return
        if not data:
            self._close(connection)
            return
        connection.buffer += data
        self._check_head(connection)

    def _handshake(self, connection: Connection) -> None:
        """Take the TLS handshake as far as the bytes that arrived allow (never blocks);
        once done, read the request that may have come with its last flight."""
        assert isinstance(connection.sock, ssl.SSLSocket)
        try:
            connection.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._selector.modify(connection.sock, selectors.EVENT_READ, connection)
            return
        except ssl.SSLWantWriteError:
            self._selector.modify(connection.sock, selectors.EVENT_WRITE, connection)
            return
        except OSError as exc:  # ssl.SSLError: not TLS, no shared cipher, certificate refused
            reason = getattr(exc, "reason", None) or exc
            self.log_limited(logging.INFO, "tls", "%s:%d: TLS handshake failed: %s",
                             *connection.address, reason)
            if reason == "HTTP_REQUEST":  # http:// typed for an https port: say so in plain
                with contextlib.suppress(OSError):  # past the TLS layer, on the TCP socket
                    socket.socket.send(connection.sock, error_response(
                        HTTPStatus.BAD_REQUEST, "this port speaks https: use https://"))
            self._close(connection)
            return
        connection.handshaking = False
        self._read(connection)

    def _check_head(self, connection: Connection) -> bool:
        """Hand a complete head to a thread, or refuse an oversized one.

        Returns:
            True if the connection left the waiting set.
        """
        end = HEAD_END.search(connection.buffer)
        if end is not None:
            connection.head = bytes(connection.buffer[:end.end()])
            del connection.buffer[:end.end()]
            self._forget(connection)
            self._answer_in_thread(connection)
            return True
        if len(connection.buffer) >= MAX_HEAD_BYTES:
            if b"\n" in connection.buffer:
                self._refuse(connection, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                             f"request headers over {MAX_HEAD_BYTES} bytes")
            else:
                self._refuse(connection, HTTPStatus.REQUEST_URI_TOO_LONG,
                             f"request line over {MAX_HEAD_BYTES} bytes")
            return True
        return False

    def _expire(self) -> None:
        """Close waiting connections whose head did not arrive by their deadline."""
        now = time.monotonic()
        while self._waiting:
            oldest = next(iter(self._waiting.values()))
            if oldest.deadline > now:
                return
            log.debug("%s:%d: no request within %.1f s, closing", *oldest.address,
                      self.header_timeout_s)
            self._close(oldest)

    def _answer_in_thread(self, connection: Connection) -> None:
        thread = threading.Thread(target=self._answer, args=(connection,),
                                  name="http-{}:{}".format(*connection.address))
        with self._lock:
            self._active.add(connection)
            self._threads.add(thread)
        thread.start()

    def _answer(self, connection: Connection) -> None:
        """A handler thread: answer one request, then give the connection back or close it."""
        keep = False
        try:
            keep = not RequestHandler(connection, connection.address, self).close_connection
        except Exception:
            self.handle_error(connection.sock, connection.address)
        finally:
            with self._lock:
                self._active.discard(connection)
                self._threads.discard(threading.current_thread())
                keep = keep and not self._loop_closed and not self.stopping.is_set()
                if keep:
                    self._returned.append(connection)
            if keep:
                self._wake()
            else:
                self._close(connection)

    def _take_returned(self) -> None:
        """Wait again on the connections handler threads gave back."""
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        with self._lock:
            returned, self._returned = self._returned, []
        for connection in returned:
            connection.sock.setblocking(False)
            self._wait(connection)

    def _refuse(self, connection: Connection, status: HTTPStatus, text: str) -> None:
        """Answer with a short error (best effort, never blocks) and close; before its TLS
        handshake a connection is only closed (an answer would cost the handshake)."""
        self.log_limited(logging.INFO, "refusal", "%s:%d %d %s", *connection.address,
                         status.value, text)
        if not connection.handshaking:
            with contextlib.suppress(OSError):  # ssl.SSLWantWriteError included
                connection.sock.send(error_response(status, text))
        self._close(connection)

    def _forget(self, connection: Connection) -> None:
        """Take a connection out of the waiting set and the selector (loop thread only)."""
        with self._lock:
            waiting = self._waiting.pop(connection.sock, None)
        if waiting is not None:
            with contextlib.suppress(KeyError, ValueError):  # not registered yet
                self._selector.unregister(connection.sock)

    def _close(self, connection: Connection) -> None:
        """Forget and close a connection, letting the peer read what was sent."""
        self._forget(connection)
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_WR)
        connection.sock.close()


def route_prefix(path: str, routes: Mapping[str, Any]) -> str | None:
    """The first prefix of ``routes`` that ``path`` starts with and goes beyond, or None."""
    for prefix in routes:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix
    return None


def error_response(status: HTTPStatus, text: str) -> bytes:
    """A whole short answer that closes the connection: status line, headers, ``text``."""
    body = f"{text}\n".encode()
    return (f"HTTP/1.1 {status.value} {status.phrase}\r\nConnection: close\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"X-Content-Type-Options: nosniff\r\n\r\n").encode() + body


def tls_pending(connection: Connection) -> int:
    """Decrypted bytes a TLS connection holds that no selector can see (0 for plain TCP)."""
    sock = connection.sock
    if connection.handshaking or not isinstance(sock, ssl.SSLSocket):
        return 0
    return sock.pending()
