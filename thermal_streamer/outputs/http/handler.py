"""The shell that answers one HTTP request whose line and headers the loop has read.

Only GET and HEAD; other methods get 405; a GET or HEAD with a body (``Content-Length``
> 0 or any ``Transfer-Encoding``) gets 400 and the connection closes, so a body is never
read as the next request. Then the gate (:mod:`thermal_streamer.security.gate`: Host,
login, session cookie) and the route table (:mod:`thermal_streamer.outputs.http.routes`)
decide, and the answer is written: a :class:`Reply` whole, a :class:`Download` in
FILE_CHUNK_BYTES pieces with ``Range``, a :class:`Stream` until it ends.

Every answer but a stream has ``Cache-Control``, then the gate's extra headers (a
challenge, ``Retry-After``, a session's ``Set-Cookie``), ``Content-Type``,
``Content-Length`` and ``X-Content-Type-Options: nosniff``; an HTML answer also says who
may frame it (:func:`framing_headers`: nobody, or the ``Frame_Ancestors`` origins). Over
https every answer (streams and refusals too) has ``Strict-Transport-Security:
max-age=31536000`` (HSTS).
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from thermal_streamer.outputs.http.answers import Download, Reply, Stream, text_reply
from thermal_streamer.outputs.http.routes import Request, Routes, route_path
from thermal_streamer.protocols.byte_ranges import RangeNotSatisfiable, parse_range
from thermal_streamer.security.gate import Decision, Entry, Gate, Outcome

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0  # sending an answer (other than a stream) may take this long
FILE_CHUNK_BYTES = 64 * 1024  # a download is read and sent this much at a time
HSTS = "max-age=31536000"  # RFC 6797 §6.1.1: a year; browsers skip IP-address hosts (§8.1.1)
ZERO_LENGTH = re.compile(r"0+")  # the only Content-Length a GET or HEAD may carry (ASCII)


def framing_headers(ancestors: tuple[str, ...]) -> dict[str, str]:
    """The headers that say which pages may show an HTML answer in a frame.

    Args:
        ancestors: ``[Security] Frame_Ancestors``, origins (``https://ha.local:8123``);
            empty: none.

    Returns:
        ``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'``
        when no origin may (clickjacking: a decoy page cannot frame the viewer); else
        only the policy, listing the origins (X-Frame-Options cannot name them, and
        browsers that know CSP ignore it beside ``frame-ancestors``).
    """
    if not ancestors:
        return {"X-Frame-Options": "DENY",
                "Content-Security-Policy": "frame-ancestors 'none'"}
    return {"Content-Security-Policy": "frame-ancestors " + " ".join(ancestors)}


class RequestHandler(BaseHTTPRequestHandler):
    """Answers one request on its connection when made, in the caller's thread (the
    request's ``http-<peer>``); blocks until the answer is sent (a stream: until it ends).

    ``close_connection`` afterwards says whether the connection may serve another. Errors
    (the peer went away, a bug in a route) propagate to the caller.

    Args:
        sock: the connection (made blocking, REQUEST_TIMEOUT_S per send).
        head: the request line and headers, as received.
        client_address: the peer's (host, port).
        gate: who may have an answer.
        routes: the answers.
        log_limited: the server's rate-limited log: (level, kind, message, *args).
        tls: the connection is https: every answer says so for the future
            (``Strict-Transport-Security``, RFC 6797 §6.1).
        framing: the headers of every HTML answer (:func:`framing_headers`).
    """

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even a garbled request gets a status line
    timeout = REQUEST_TIMEOUT_S
    server_version = "thermal-camera"
    sys_version = ""

    def __init__(self, sock: socket.socket, head: bytes, client_address: tuple[str, int],
                 gate: Gate, routes: Routes, log_limited: Callable[..., None],
                 tls: bool = False, framing: Mapping[str, str] | None = None):
        # what socketserver.BaseRequestHandler does, without a socketserver around it
        self.request, self.client_address, self.tls = sock, client_address, tls
        self.framing = framing_headers(()) if framing is None else framing
        self.head, self.gate, self.routes, self.log_limited = head, gate, routes, log_limited
        self.setup()
        try:
            self.handle()
        finally:
            self.finish()

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # its reference would keep the socket open after close()
        self.rfile = io.BytesIO(self.head)  # the whole request: GET and HEAD have no body
        self.extra_headers: dict[str, str] = {}  # sent by _send: a challenge, a cookie

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        if self.tls:  # RFC 6797 §7.1: only over TLS (a browser ignores it over http)
            self.send_header("Strict-Transport-Security", HSTS)

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
        Transfer-Encoding): RFC 9110 section 9.3.1 gives a GET body no meaning.

        A Content-Length that is not ASCII digits (``1e400``, ``²``) counts as a body
        too, and one of any length is read without ``int()`` (which refuses over 4,300
        digits): both get the 400, never a ValueError.
        """
        lengths = self.headers.get_all("Content-Length", [])
        return ("Transfer-Encoding" in self.headers
                or any(ZERO_LENGTH.fullmatch(v.strip()) is None for v in lengths))

    def _dispatch(self, send_body: bool) -> None:
        if self._has_body():  # behind a proxy, the body would be smuggled in as a request
            self.close_connection = True
            self._send(text_reply(HTTPStatus.BAD_REQUEST,
                                  "a GET or HEAD request must not have a body"), send_body)
            return
        url = urlsplit(self.path)
        path = route_path(url)
        decision = self._admitted(path, send_body)
        if decision is not None:
            request = Request(path, parse_qs(url.query), self.headers, decision.anonymous)
            answer = self.routes.answer(request)
            if isinstance(answer, Reply):
                self._send(answer, send_body)
            elif isinstance(answer, Download):
                self._send_file(answer, send_body)
            else:
                self._send_stream(answer, send_body)

    def _admitted(self, path: str, send_body: bool) -> Decision | None:
        """Ask the gate: its decision to let the request in, or None once it was refused
        (answered).

        May block for one scrypt check, 50-100 ms, when the credentials are not cached.
        A foreign Host (421) also closes the connection. The login limit counts the
        client's address (behind a trusted proxy, the one it names).
        """
        address = self.gate.client_address(self.client_address[0],
                                           self.headers.get_all("X-Forwarded-For", []))
        entry = Entry(path, self.headers.get("Host"), self.headers.get("Authorization"),
                      tuple(self.headers.get_all("Cookie", [])), address)
        decision = self.gate.admit(entry)
        if decision.outcome is Outcome.CHECK_LOGIN:
            decision = self.gate.log_in(entry)
        self.extra_headers.update(decision.headers)
        if decision.refusal is None:
            return decision
        if decision.outcome is Outcome.FOREIGN:  # DNS rebinding: another site's name for us
            self.close_connection = True
        self.extra_headers.update(decision.refusal.headers)
        self._send(text_reply(decision.refusal.status, decision.refusal.text), send_body)
        return None

    def _send_file(self, download: Download, send_body: bool) -> None:
        """A file as a download, whole or the one byte range asked for (RFC 9110 §14),
        read and sent in FILE_CHUNK_BYTES pieces (never whole in memory)."""
        path = download.path
        try:  # never through a symbolic link, should one replace the file since it resolved
            file = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
        except OSError:
            self._send(text_reply(HTTPStatus.NOT_FOUND, "404 not found"), send_body)
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

    def _send_stream(self, stream: Stream, send_body: bool) -> None:
        """The stream's headers, then its body until it ends; the connection closes after."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", stream.content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if send_body:
            self.connection.settimeout(stream.send_timeout_s)
            stream.write(self.wfile, "{}:{}".format(*self.client_address[:2]))

    def _send(self, reply: Reply, send_body: bool) -> None:
        self.send_response(reply.status)
        self.send_header("Cache-Control", reply.cache)
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        self._finish_headers(reply.content_type, reply.body, send_body)

    def _finish_headers(self, content_type: str, body: bytes, send_body: bool) -> None:
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if content_type.startswith("text/html"):
            for name, value in self.framing.items():
                self.send_header(name, value)
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
            self.log_limited(logging.INFO, "refusal", "%s %s", self.address_string(),
                             format % args)
