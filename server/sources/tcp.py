"""The ``tcp`` source: producers push JPEG or PNG frames to a TCP port (imagestream protocol).

Protocol (INTERFACE.md, Sources, ``tcp``), per connection, repeated::

    8 bytes   unsigned big-endian length N (``struct`` format ``>Q``)
    N bytes   one JPEG or PNG image

JPEG passes through untouched; PNG (or any other format Pillow reads) is converted to
JPEG once. Several producers may be connected at once; every complete frame is
published and the hub keeps only the newest, so the newest frame wins.

A length of 0 or over ``Max_Frame_Bytes`` closes that producer's connection (the stream
cannot be resynchronised after a bad length); bytes that are not a decodable image are
skipped and counted, and the connection stays usable for the next frame. Both are
logged, rate-limited.

One thread (the app's ``source-tcp``) serves the listening socket and every producer
with :mod:`selectors`: non-blocking reads, one :class:`FrameSplitter` per connection.
Chosen over a thread per producer because there is then nothing extra to join on stop,
a producer that goes quiet costs no thread, and the per-connection state is a small
pure object that tests can feed byte by byte. The price: image checks (a full decode,
about 2 ms for 640x480) run one after the other, which only matters above a few
hundred frames per second in total.
"""

from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading
import time
from typing import Any

from ..listening import listen
from ..frames import ImageFrame
from ..ratelimit import RateLimitedLog
from .base import Publish, Source
from .images import TornImage, decode_image

log = logging.getLogger(__name__)

LENGTH = struct.Struct(">Q")  # INTERFACE.md: 8-byte big-endian unsigned frame length
SELECT_TIMEOUT_S = 0.25  # bounds how long stopping takes
RECV_BYTES = 256 * 1024  # one read per ready producer
BACKLOG = 16
MAX_PRODUCERS = 16  # connections beyond this are closed at once: each may buffer a whole frame


class FrameLengthError(Exception):
    """A frame's length prefix is 0 or over the limit; the stream cannot continue.

    Attributes:
        length: the length read, in bytes.
        limit: ``Max_Frame_Bytes``.
    """

    def __init__(self, length: int, limit: int):
        self.length, self.limit = length, limit
        reason = "is zero" if length == 0 else f"is over Max_Frame_Bytes = {limit}"
        super().__init__(f"frame length {length} {reason}")


class FrameSplitter:
    """Splits one producer's byte stream into frames. Pure: bytes in, frames out.

    Args:
        max_frame_bytes: the largest frame accepted, bytes (>= 1).

    Attributes:
        buffered: bytes received but not yet part of a complete frame.
    """

    def __init__(self, max_frame_bytes: int):
        self._max = max_frame_bytes
        self._buffer = bytearray()
        self._need: int | None = None  # the current frame's length, once its prefix is read

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the frames they complete, oldest first.

        Raises:
            FrameLengthError: a length prefix is 0 or over the limit (checked as soon as
                its 8 bytes are in, before any of the frame arrives). Feed nothing more.
        """
        self._buffer += data
        frames = []
        while True:
            if self._need is None:
                if len(self._buffer) < LENGTH.size:
                    return frames
                (length,) = LENGTH.unpack_from(self._buffer)
                if not 0 < length <= self._max:
                    raise FrameLengthError(length, self._max)
                del self._buffer[:LENGTH.size]
                self._need = length
            if len(self._buffer) < self._need:
                return frames
            frames.append(bytes(self._buffer[:self._need]))
            del self._buffer[:self._need]
            self._need = None


class _Producer:
    """One connected producer: its socket, name and frame splitter."""

    def __init__(self, sock: socket.socket, peer: str, max_frame_bytes: int):
        self.sock, self.peer = sock, peer
        self.splitter = FrameSplitter(max_frame_bytes)
        self.frames = 0


class TcpSource(Source):
    """Listens for producers and publishes the frames they push.

    The port is bound here, when the source is made, so a busy port stops the daemon
    before anything starts.

    Args:
        host: the address to listen on. Anyone who can reach it can put pictures on
            every viewer's screen: keep 127.0.0.1 unless the network is trusted.
        port: TCP port; 0 picks a free one (see :attr:`port`).
        max_frame_bytes: the largest frame accepted, bytes.
        clock: monotonic clock for the rate-limited log (injectable).

    Attributes:
        port: the port actually bound.

    Raises:
        BindError: the port cannot be bound (its message names ``--tcp-port``).
    """

    kind = "tcp"

    def __init__(self, host: str, port: int, max_frame_bytes: int, clock=time.monotonic):
        self.host, self._max = host, max_frame_bytes
        self._listener = listen("TCP frames", host, port, BACKLOG, "--tcp-port")
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._warn = RateLimitedLog(log, clock=clock)
        self._producers: dict[socket.socket, _Producer] = {}
        self.frames = 0  # frames published
        self.skipped = 0  # frames whose bytes were not a decodable image
        self.closed_oversize = 0  # connections closed for a length over max_frame_bytes
        self.closed_zero = 0  # connections closed for a length of 0
        self.refused = 0  # connections closed at once: MAX_PRODUCERS were connected
        log.info("tcp source: producers push frames to %s:%d", host, self.port)

    def status(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "producers": len(self._producers),
                "frames": self.frames, "skipped": self.skipped,
                "closed_oversize": self.closed_oversize, "closed_zero": self.closed_zero,
                "refused": self.refused}

    def run(self, publish: Publish, stop: threading.Event) -> None:
        """Accept producers and publish their frames until ``stop`` is set (then within
        0.25 s every producer socket and the listening socket are closed)."""
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        try:
            while not stop.is_set():
                for key, _ in selector.select(SELECT_TIMEOUT_S):
                    if key.fileobj is self._listener:
                        self._accept(selector)
                    else:
                        self._receive(selector, self._producers[key.fileobj], publish)
        finally:
            for producer in list(self._producers.values()):
                self._close(selector, producer)
            selector.close()
            self._listener.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            sock, address = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. out of file descriptors: keep serving the others
            self._warn.warning("accept", "tcp source cannot accept a producer: %s", exc)
            return
        peer = f"{address[0]}:{address[1]}"
        if len(self._producers) >= MAX_PRODUCERS:
            self.refused += 1
            self._warn.warning("refused", "tcp source: refused %s, %d producers are connected "
                               "already (%d refused so far)", peer, MAX_PRODUCERS, self.refused)
            sock.close()
            return
        sock.setblocking(False)
        self._producers[sock] = _Producer(sock, peer, self._max)
        selector.register(sock, selectors.EVENT_READ)
        log.info("tcp source: producer %s connected (%d connected)", peer, len(self._producers))

    def _receive(self, selector: selectors.BaseSelector, producer: _Producer,
                 publish: Publish) -> None:
        try:
            data = producer.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.info("tcp source: producer %s: %s", producer.peer, exc)
            self._close(selector, producer)
            return
        if not data:
            self._close(selector, producer)
            return
        try:
            frames = producer.splitter.feed(data)
        except FrameLengthError as exc:
            if exc.length == 0:
                self.closed_zero += 1
            else:
                self.closed_oversize += 1
            self._warn.warning("length", "tcp source: closing producer %s: %s", producer.peer, exc)
            self._close(selector, producer)
            return
        for frame in frames:
            try:
                jpeg, width, height = decode_image(frame)
            except TornImage as exc:
                self.skipped += 1
                self._warn.warning("skipped", "tcp source: skipped a %d-byte frame from %s that "
                                   "is not an image: %s (%d skipped so far)", len(frame),
                                   producer.peer, exc, self.skipped)
                continue
            producer.frames += 1
            self.frames += 1
            publish(ImageFrame(jpeg, width, height, time.time()))

    def _close(self, selector: selectors.BaseSelector, producer: _Producer) -> None:
        selector.unregister(producer.sock)
        producer.sock.close()
        del self._producers[producer.sock]
        log.info("tcp source: producer %s disconnected after %d frames (%d connected)",
                 producer.peer, producer.frames, len(self._producers))
