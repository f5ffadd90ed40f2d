"""Webhooks: an HTTP POST of a JSON body to a URL, from a thread of its own.

:meth:`WebhookSender.post` never blocks: it queues the body (at most QUEUE_LIMIT wait;
more are dropped and counted). The ``webhook`` thread sends them in order, one at a
time, each attempt bounded by ``timeout_s`` in total (connect, TLS handshake, sending
and reading the answer together: an answer that trickles in is cut at the deadline),
and reads at most MAX_ANSWER_BYTES of an answer's body (the rest is never read; such
answers are counted as ``cut``), and retries a failed one ``retries`` times with back-off
(1 s, doubling, at most MAX_BACKOFF_S); an answer 2xx is success, 4xx (but 408 and
429) is given up at once, anything else is retried. So an endpoint that hangs or
refuses delays only the webhooks behind it, never a frame. :meth:`WebhookSender.stop`
aborts an attempt at once (the socket is shut down), so shutdown never waits for a
timeout. Its health (a ComponentHealth) shows in /healthz and /metrics.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import http.client
import io
import json
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from thermal_streamer.core.health import ComponentHealth

log = logging.getLogger(__name__)

QUEUE_LIMIT = 64  # bodies waiting at most; more are dropped (counted)
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
CONNECT_POLL_S = 0.05  # a connect in progress looks at the stop flag this often
USER_AGENT = "thermal-camera"
MAX_ANSWER_BYTES = 64 * 1024  # of an answer's body read at most; the rest is not read


def check_url(text: str) -> str:
    """The URL, if it is an http:// or https:// URL with a host.

    Raises:
        ValueError: anything else (the message says what is allowed).
    """
    url = urlsplit(text.strip())
    try:
        url.port  # noqa: B018  (raises ValueError for a bad port)
        ok = url.scheme in ("http", "https") and bool(url.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http:// or https:// URL, e.g. "
                         "http://192.168.1.10:8123/api/webhook/thermal")
    return text.strip()


class WebhookError(Exception):
    """One attempt failed.

    Attributes:
        retry: False when trying again cannot help (a 4xx answer).
    """

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


class _DeadlineSocket:
    """What http.client sees as its socket: every send and read of one attempt bounded by
    one deadline (each socket wait gets the time left, none when it is gone)."""

    def __init__(self, sock: socket.socket, deadline_s: float, timeout_s: float,
                 clock: Callable[[], float]):
        self._sock, self._deadline_s, self._timeout_s = sock, deadline_s, timeout_s
        self._clock = clock

    def left_s(self) -> float:
        """The time left, s (> 0). Raises TimeoutError when there is none."""
        left = self._deadline_s - self._clock()
        if left <= 0:
            raise TimeoutError(f"no answer within {self._timeout_s:g} s in all "
                               "(Webhook_Timeout)")
        return left

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self.left_s())
        self._sock.sendall(data)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self, self._sock))

    def close(self) -> None:
        pass  # the attempt closes the real socket


class _DeadlineReader(io.RawIOBase):
    def __init__(self, owner: _DeadlineSocket, sock: socket.socket):
        self._owner, self._sock = owner, sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._owner.left_s())
        return self._sock.recv_into(buffer)


class WebhookSender:
    """Posts JSON bodies to URLs from the ``webhook`` thread (:meth:`run`, ended by
    :meth:`stop`).

    Thread-safe.

    Args:
        timeout_s: each attempt's bound in total (connect, TLS, send, the answer), seconds.
        retries: further attempts after a failure (0..10).
        wait: (event, seconds) -> None, how back-off waits (injectable for tests; it
            returns early when the event is set).
        clock: monotonic seconds, for the attempts' deadlines (injectable for tests).

    Attributes (read by health()):
        posted, failed (given up after every retry), retried (attempts after a first
        failure), dropped (the queue was full), cut (answers whose body went past
        MAX_ANSWER_BYTES: the rest was not read).
    """

    def __init__(self, timeout_s: float = 5.0, retries: int = 3,
                 wait: Callable[[threading.Event, float], object] = threading.Event.wait,
                 clock: Callable[[], float] = time.monotonic):
        self._timeout_s, self._retries, self._wait = timeout_s, retries, wait
        self._clock = clock
        self.cut = 0
        self._cutting = False
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[str, bytes]] = collections.deque()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None  # the attempt in progress, for stop()
        self.posted = self.failed = self.retried = self.dropped = 0
        self._failing = False
        self._last_error = ""

    def post(self, url: str, body: Mapping[str, Any]) -> None:
        """Queue one POST of ``body`` as JSON to ``url``; never blocks, never raises."""
        data = json.dumps(body, separators=(",", ":")).encode()
        with self._cond:
            if len(self._queue) >= QUEUE_LIMIT:
                self.dropped += 1
                return
            self._queue.append((url, data))
            self._cond.notify()

    def run(self) -> None:
        """Send queued bodies, in order, until :meth:`stop` is called."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stop.is_set())
                if self._stop.is_set():
                    return
                url, data = self._queue[0]
            self._deliver(url, data)
            with self._cond:
                self._queue.popleft()

    def stop(self) -> None:
        """Make :meth:`run` return at once: an attempt in progress is aborted, a back-off
        ends, what waits is not sent. Idempotent; any thread."""
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # not connected yet: the connect loop sees the flag
                sock.shutdown(socket.SHUT_RDWR)

    def _deliver(self, url: str, data: bytes) -> None:
        backoff = FIRST_BACKOFF_S
        for attempt in range(self._retries + 1):
            if self._stop.is_set():
                return
            if attempt:
                self.retried += 1
            try:
                self._attempt(url, data)
            except (OSError, WebhookError, http.client.HTTPException) as exc:
                if self._stop.is_set():
                    return  # aborted by stop(): not the endpoint's fault
                error = str(exc) or type(exc).__name__
                if not self._failing:
                    log.warning("webhook %s failing: %s (each POST is tried %d times, "
                                "then dropped)", _safe(url), error, self._retries + 1)
                self._failing, self._last_error = True, error
                if isinstance(exc, WebhookError) and not exc.retry:
                    break
                if attempt < self._retries:
                    self._wait(self._stop, backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            self.posted += 1
            if self._failing:
                log.info("webhook %s: posted again", _safe(url))
            self._failing = False
            return
        if not self._stop.is_set():
            self.failed += 1

    def _attempt(self, url: str, data: bytes) -> None:
        """One POST. Raises OSError, WebhookError or http.client.HTTPException."""
        parts = urlsplit(url)
        host, tls = parts.hostname or "", parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        deadline_s = self._clock() + self._timeout_s
        sock = self._connect(host, port, deadline_s)
        try:
            bounded = _DeadlineSocket(sock, deadline_s, self._timeout_s, self._clock)
            if tls:
                sock.settimeout(bounded.left_s())
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
                bounded = _DeadlineSocket(sock, deadline_s, self._timeout_s, self._clock)
                with self._cond:
                    self._sock = sock
            connection = http.client.HTTPConnection(host, port, timeout=self._timeout_s)
            connection.sock = bounded  # sendall and makefile bounded by the deadline
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", path, data, {"Content-Type": "application/json",
                                                    "User-Agent": USER_AGENT})
            response = connection.getresponse()
            self._note_cut(url, len(response.read(MAX_ANSWER_BYTES + 1)) > MAX_ANSWER_BYTES)
            if not 200 <= response.status < 300:
                raise WebhookError(f"answered {response.status} {response.reason}",
                                   retry=not 400 <= response.status < 500
                                   or response.status in (408, 429))
        finally:
            with self._cond:
                self._sock = None
            sock.close()

    def _note_cut(self, url: str, cut: bool) -> None:
        """Count an answer cut at MAX_ANSWER_BYTES; log when answers start or stop being cut."""
        if cut:
            self.cut += 1
            if not self._cutting:
                log.warning("webhook %s answers with more than %d bytes: the rest is not "
                            "read (counted as cut); a webhook's answer is not used",
                            _safe(url), MAX_ANSWER_BYTES)
        elif self._cutting:
            log.info("webhook %s: answers within %d bytes again", _safe(url), MAX_ANSWER_BYTES)
        self._cutting = cut

    def _connect(self, host: str, port: int, deadline_s: float) -> socket.socket:
        """A connected socket, by ``deadline_s`` (the clock's); the connect itself looks
        at the stop flag every CONNECT_POLL_S. Raises OSError (refused, unreachable,
        timed out, stopped)."""
        error: OSError = OSError(f"cannot resolve {host}")
        for family, kind, proto, _, address in socket.getaddrinfo(host, port,
                                                                  type=socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            with self._cond:
                self._sock = sock
            try:
                sock.setblocking(False)
                code = sock.connect_ex(address)
                while code == errno.EINPROGRESS:
                    if self._stop.is_set():
                        raise OSError("stopped")
                    if self._clock() > deadline_s:
                        raise TimeoutError(f"connect timed out after {self._timeout_s:g} s")
                    if select.select([], [sock], [], CONNECT_POLL_S)[1]:
                        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, os.strerror(code))
                sock.settimeout(self._timeout_s)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error

    def health(self) -> ComponentHealth:
        """``idle`` or ``sending`` (ok), or ``failing`` since the last attempt failed;
        counters posted, failed, retried, dropped, cut; gauge ``queued``."""
        with self._cond:
            queued = len(self._queue)
        state = "failing" if self._failing else ("sending" if queued else "idle")
        return ComponentHealth(state, not self._failing,
                               {"posted": self.posted, "failed": self.failed,
                                "retried": self.retried, "dropped": self.dropped, "cut": self.cut},
                               self._last_error, {"queued": float(queued)})


def _safe(url: str) -> str:
    """The URL without its path and query (they may hold a secret), for the log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."
