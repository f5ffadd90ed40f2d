"""The HTTP side: the viewer page, its assets, snapshots, MJPEG, health and metrics.

Built on :class:`http.server.ThreadingHTTPServer`. Only the paths listed in
docs/protocol.md and the page's assets exist (``index.html`` and the ``.js`` and
``.css`` files directly in ``static/``, read once at start-up); everything else is
404, whatever its encoding. Only GET and HEAD; other methods get 405. Request lines over 64 KiB get
414 and header lines over 64 KiB or more than 100 headers get 431 (the standard
library's limits); each connection has a socket timeout so idle or slow clients
cannot pile up threads.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from . import colormaps, metrics, wire
from .frames import EncodedFrame, RawFrame
from .hosts import HostPolicy
from .hub import Hub
from .status import Status

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"
ASSET_TYPES = {  # the only files on disk the server sends: static/*.js and static/*.css
    ".js": "text/javascript; charset=utf-8",  # the viewer page's ES modules
    ".css": "text/css; charset=utf-8",
}
REQUEST_TIMEOUT_S = 10.0
MJPEG_POLL_S = 0.5  # how often an idle MJPEG stream looks at the stop flag
MJPG_STREAMER_ACTIONS = {"stream": "/stream.mjpg", "snapshot": "/snapshot.jpg"}


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


class RequestHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests with what its :class:`HttpServer` was given."""

    server: HttpServer
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even a garbled request gets a status line
    timeout = REQUEST_TIMEOUT_S
    server_version = "thermal-camera"
    sys_version = ""

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method: 405, not the stdlib's 501
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Connection", "close")
        self.close_connection = True  # a body we did not read may follow
        self._finish_headers("text/plain; charset=utf-8", b"405 method not allowed\n", True)

    def _dispatch(self, send_body: bool) -> None:
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
        if path in server.assets:
            content_type, body = server.assets[path]
            self._send(HTTPStatus.OK, content_type, body, send_body, cache="no-cache")
        elif path == "/config.json":
            self._send_json(HTTPStatus.OK, server.status.page_config(), send_body)
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
        else:
            self._send_text(HTTPStatus.NOT_FOUND, "404 not found", send_body)

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
        self._finish_headers(content_type, body, send_body)

    def _finish_headers(self, content_type: str, body: bytes, send_body: bool) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class HttpServer(ThreadingHTTPServer):
    """The HTTP side, in a thread of its own plus one named thread per connection.

    Tracks its connections so :meth:`stop` can close them. Run :meth:`serve_forever`
    in a thread; :meth:`stop` (from any other thread) ends it, unblocks every
    connection's thread and joins them.

    Args:
        sock: a bound, listening socket (bound by the caller so errors are reported early).
        hub: frames for snapshots and MJPEG, viewers and their totals for /metrics.
        status: the /config.json and /healthz payloads.
        snapshot: returns the newest frame rendered (None before the first).
        send_timeout_s: drop an MJPEG client that could not take a frame for this long.
        hosts: which Host names are answered (others get 421: DNS rebinding).
        root: the folder holding ``index.html`` and ``static/``.
    """

    daemon_threads = False
    block_on_close = True

    def __init__(self, sock: socket.socket, hub: Hub, status: Status,
                 snapshot: Callable[[], EncodedFrame | None], send_timeout_s: float,
                 hosts: HostPolicy, root: Path = ROOT):
        super().__init__(sock.getsockname()[:2], RequestHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.hub, self.status, self.snapshot = hub, status, snapshot
        self.send_timeout_s, self.hosts = send_timeout_s, hosts
        self.assets = load_assets(root)
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.socket.getsockname()[1])

    def stop(self) -> None:
        """Stop accepting, close every connection, join every thread. Idempotent."""
        self.stopping.set()
        self.shutdown()
        self.close_connections()
        self.server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Handle the connection in a named thread (ThreadingMixIn's, with a name)."""
        with self._connections_lock:
            self._connections.add(request)
        thread = threading.Thread(target=self.process_request_thread,
                                  args=(request, client_address),
                                  name=f"http-{client_address[0]}:{client_address[1]}")
        with self._connections_lock:
            self._threads.add(thread)
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._threads.discard(threading.current_thread())

    def server_close(self) -> None:
        """Close the listening socket and join every handler thread."""
        self.socket.close()
        with self._connections_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock every handler thread by shutting its socket down."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)
