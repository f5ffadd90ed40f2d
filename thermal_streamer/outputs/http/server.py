"""The HTTP side's connection loop: accept, read each request's head, hand it to a thread.

The paths (the viewer page, its
assets, snapshots, MJPEG, health and metrics, and what components hand in) are the route
table of :mod:`thermal_streamer.outputs.http.routes`; who may have an answer is the gate
of :mod:`thermal_streamer.security.gate`; one request is answered by
:class:`~thermal_streamer.outputs.http.handler.RequestHandler`.

Connections cost no thread while they wait: one loop (the thread that runs
:meth:`HttpServer.serve_forever`) accepts them and reads each request's line and
headers with a selector, and only a complete request is handed to a thread of its own,
which answers it and gives the connection back to the loop (keep-alive). A request
whose line and headers do not arrive within ``header_timeout_s`` of the connection (or
of the previous answer) is closed; over MAX_HEAD_BYTES they get 414 (the request line
alone) or 431. At ``max_connections`` the oldest waiting connection is closed for a
newcomer, or the newcomer gets 503 when every one is being answered. One client address
holds at most ``max_per_address`` of them (a quarter of ``max_connections``): past it, that
address's own oldest waiting connection is closed for its newcomer, or the newcomer gets
503 with ``Retry-After`` when all of that address's are being answered (slow MJPEG
readers), while other addresses are still served; a ``trusted_proxies`` peer (nginx
in front, carrying every client) is not capped. Out of file
descriptors, the loop logs once and stops accepting for ACCEPT_BACKOFF_S.

With TLS (``tls``, ``[Security] TLS_Cert``/``TLS_Key``) the loop also drives each
connection's TLS handshake, non-blocking (``do_handshake`` until it stops raising
SSLWantReadError/SSLWantWriteError), within the same deadline as the headers: a slow or
silent client costs no thread there either. A client that does not speak TLS is closed
(one rate-limited INFO line); plain HTTP gets a plain 400 that says to use https.
Decrypted bytes the TLS layer still holds when a kept-alive connection comes back
(``SSLSocket.pending``: pipelined requests) are read at once, as no selector sees them.

Loop::

    accept -> [TLS handshake] -> waiting (selector, deadline) -> head complete -> http-<peer>
                                     ^                                             |
                                     +-------- keep-alive: back to waiting --------+
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
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
from pathlib import Path
from typing import Any

from thermal_streamer.core.frames import EncodedFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.core.ratelimit import RateLimitedLog
from thermal_streamer.outputs.http.assets import ROOT, load_assets
from thermal_streamer.outputs.http.handler import RequestHandler, framing_headers
from thermal_streamer.outputs.http.routes import server_routes
from thermal_streamer.outputs.reports import Status
from thermal_streamer.security.auth import Authenticator
from thermal_streamer.security.gate import HTTP_DOOR, Gate
from thermal_streamer.security.hosts import HostPolicy
from thermal_streamer.security.proxies import ProxyPolicy

log = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0  # a request's line and headers must all arrive within this
MAX_HEAD_BYTES = 16 * 1024  # a request's line and headers together
SEND_BUFFER_BYTES = 64 * 1024  # kernel send buffer per connection: what a stalled peer absorbs
MAX_CONNECTIONS = 512
ACCEPT_BACKOFF_S = 0.25  # out of file descriptors: accept again after this long
ACCEPT_BATCH = 64  # connections accepted per loop pass at most
ADDRESS_SHARE = 4  # one client address holds at most 1/ADDRESS_SHARE of the connections
RETRY_AFTER_S = 5  # what a 503 for too many connections tells the client to wait
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
QUIET_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError,
                ssl.SSLError)  # a peer that went away in the middle of a TLS record
HEAD_END = re.compile(rb"\A\r?\n|\n\r?\n")  # the empty line after the headers
ERROR_LOG_INTERVAL_S = 30.0


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
    counted: bool = False  # in HttpServer's count per address (until closed)


class HttpServer:
    """The HTTP side: one loop thread for every waiting connection, one thread per request.

    Run :meth:`serve_forever` in a thread; :meth:`stop` (from any other thread) ends it,
    closes every connection and joins every thread. Threads: the loop, plus one named
    ``http-<peer>`` thread per request being answered (an MJPEG stream keeps its
    thread), so at most ``max_connections`` + 1. The paths are
    :func:`~thermal_streamer.outputs.http.routes.server_routes` of the arguments.

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
        auth: who may watch (None: everyone); ``/healthz`` stays open (only its status
            without a login), the page and
            ``/config.json`` also set the session cookie the WebSocket accepts (the
            gate's ``HTTP_DOOR``).
        tls: serve https with this server context (None: plain http); every answer then
            has ``Strict-Transport-Security``.
        trusted_proxies: ``Trusted_Proxies``: peers whose ``X-Forwarded-For`` names the
            client the login limit counts (addresses or networks; default none).
        max_per_address: connections one client address may hold, >= 1 (None: a
            quarter of ``max_connections``, at least 1).
        frame_ancestors: ``[Security] Frame_Ancestors``: origins whose pages may frame
            the HTML answers (empty: none, ``X-Frame-Options: DENY``).

    Raises:
        OSError: ``root``'s page or assets cannot be read.
        ValueError: two of the routes serve one path.
    """

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
                 tls: ssl.SSLContext | None = None, trusted_proxies: tuple[str, ...] = (),
                 max_per_address: int | None = None, frame_ancestors: tuple[str, ...] = ()):
        self.socket = sock
        self.framing = framing_headers(frame_ancestors)
        self.max_per_address = (max(1, max_connections // ADDRESS_SHARE)
                                if max_per_address is None else max_per_address)
        self._per_address: collections.Counter[str] = collections.Counter()  # under _lock
        sock.setblocking(False)
        self.max_connections, self.header_timeout_s = max_connections, header_timeout_s
        self.send_buffer_bytes, self.tls = send_buffer_bytes, tls
        self.stopping = threading.Event()
        self.proxies = ProxyPolicy(trusted_proxies)
        self.gate = Gate(HTTP_DOOR, hosts, auth, proxies=self.proxies)
        self.routes = server_routes(load_assets(root), status, hub, snapshot, send_timeout_s,
                                    self.stopping, json_routes or {}, file_routes or {},
                                    data_routes or {})
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

    def handle_error(self, client_address: tuple[str, int]) -> None:
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
            if self._make_room(connection):
                with self._lock:
                    self._per_address[connection.address[0]] += 1
                    connection.counted = True
                self._wait(connection)

    def _make_room(self, connection: Connection) -> bool:
        """Close the oldest waiting connection the limits call for (of the newcomer's
        address past ``max_per_address``, else any past ``max_connections``), or refuse
        the newcomer (503) when those are all being answered. True: it may wait."""
        host = connection.address[0]
        with self._lock:
            mine = self._per_address[host]
        capped = not self.proxies.trusts(host)  # a proxy carries many clients
        if capped and self.max_per_address < self.max_connections \
                and mine >= self.max_per_address:
            oldest = next((c for c in self._waiting.values() if c.address[0] == host), None)
            if oldest is None:
                self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE,
                             f"too many connections from {host} ({self.max_per_address}, "
                             f"a quarter of HTTP_Max_Connections = {self.max_connections})")
                return False
            log.debug("%s:%d: closed for a newcomer from the same address (%d)",
                      *oldest.address, self.max_per_address)
            self._close(oldest)
        elif self.connection_count() >= self.max_connections:
            if not self._waiting:
                self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE,
                             f"too many connections (HTTP_Max_Connections = "
                             f"{self.max_connections})")
                return False
            oldest = next(iter(self._waiting.values()))
            log.debug("%s:%d: closed for a newcomer (%d connections)", *oldest.address,
                      self.max_connections)
            self._close(oldest)
        return True

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
            keep = not RequestHandler(connection.sock, connection.head, connection.address,
                                      self.gate, self.routes, self.log_limited,
                                      self.tls is not None, self.framing).close_connection
        except Exception:
            self.handle_error(connection.address)
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
        headers = {"Retry-After": str(RETRY_AFTER_S)} \
            if status is HTTPStatus.SERVICE_UNAVAILABLE else {}
        if not connection.handshaking:
            with contextlib.suppress(OSError):  # ssl.SSLWantWriteError included
                connection.sock.send(error_response(status, text, headers))
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
        with self._lock:
            if connection.counted:
                connection.counted = False
                host = connection.address[0]
                self._per_address[host] -= 1
                if self._per_address[host] <= 0:
                    del self._per_address[host]
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_WR)
        connection.sock.close()


def error_response(status: HTTPStatus, text: str,
                   headers: Mapping[str, str] | None = None) -> bytes:
    """A whole short answer that closes the connection: status line, headers (``headers``
    too), ``text``."""
    body = f"{text}\n".encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (f"HTTP/1.1 {status.value} {status.phrase}\r\nConnection: close\r\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"X-Content-Type-Options: nosniff\r\n\r\n").encode() + body


def tls_pending(connection: Connection) -> int:
    """Decrypted bytes a TLS connection holds that no selector can see (0 for plain TCP)."""
    sock = connection.sock
    if connection.handshaking or not isinstance(sock, ssl.SSLSocket):
        return 0
    return sock.pending()
