"""The ``tcp`` source: producers push JPEG or PNG frames to a TCP port (imagestream protocol).

Protocol (docs/protocol.md §3.2), per connection, repeated::

    8 bytes   unsigned big-endian length N (``struct`` format ``>Q``)
    N bytes   one JPEG or PNG image

JPEG passes through untouched; PNG (or any other format Pillow reads) is converted to
JPEG once. Several producers may be connected at once; every complete frame is
published and the hub keeps only the newest, so the newest frame wins.

A length of 0 or over ``Max_Frame_Bytes`` closes that producer's connection (the stream
cannot be resynchronised after a bad length); bytes that are not a decodable image, or
an image over ``Max_Frame_Pixels`` (refused from its header, before decoding), are
skipped and counted, and the connection stays usable for the next frame. All are
logged, rate-limited.

A producer cannot hold a slot or a buffer for nothing: one that sends no byte for
``timeout_s`` (idle), or leaves a frame it started unfinished for ``timeout_s`` (too
slow: 16 MiB in 10 s needs 1.6 MB/s), is closed. When all ``MAX_PRODUCERS`` slots are
taken, a newcomer is kept and the producer idle the longest (no byte for the longest
time) is closed instead, so squatters cannot lock a real producer out. A producer
that sends less often than every ``timeout_s`` must reconnect for each frame.

One thread (the app's ``source-tcp``) serves the listening socket and every producer
with :mod:`selectors`: non-blocking reads, one :class:`FrameSplitter` per connection.
Chosen over a thread per producer because there is then nothing extra to join on stop,
a producer that goes quiet costs no thread, and the per-connection state is a small
pure object that tests can feed byte by byte. The price: image checks (a full decode,
about 2 ms for 640x480) run one after the other, which only matters above a few
hundred frames per second in total.
"""

from __future__ import annotations

import enum
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from thermal_streamer.core.frames import ImageFrame
from thermal_streamer.core.listening import listen
from thermal_streamer.core.ratelimit import RateLimitedLog
from thermal_streamer.core.source import Publish, Source
from thermal_streamer.protocols.images import (
    MAX_FRAME_PIXELS,
    ImageTooLarge,
    TornImage,
    decode_image,
)

log = logging.getLogger(__name__)

LENGTH = struct.Struct(">Q")  # docs/protocol.md §3.2: 8-byte big-endian unsigned length
SELECT_TIMEOUT_S = 0.25  # bounds how long stopping takes
RECV_BYTES = 256 * 1024  # one read per ready producer
BACKLOG = 16
MAX_PRODUCERS = 16  # each may buffer a whole frame; a newcomer beyond this closes the idlest
PRODUCER_TIMEOUT_S = 10.0  # Producer_Timeout's default


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

    @property
    def mid_frame(self) -> bool:
        """True when part of a frame (or of its length prefix) has arrived, not all of it."""
        return self._need is not None or bool(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the frames they complete, oldest first.

        Raises:
            FrameLengthError: a length prefix is 0 or over the limit (checked as soon as
                its 8 bytes are in, before any of the frame arrives). Feed nothing more.
        """
        self._buffer += data
        frames: list[bytes] = []
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


class Stall(enum.Enum):
    """Why a producer is closed for want of progress."""

    IDLE = "idle"  # no byte for the timeout
    SLOW = "slow"  # a frame started and not completed within the timeout


class ProgressTimer:
    """When one producer last made progress. Pure: times in, verdicts out.

    Times are seconds on one monotonic clock, passed in by the caller.

    Args:
        now: when the producer connected.

    Attributes:
        last_byte_at: when its last byte arrived (when it connected, before any).
        frame_started_at: when the bytes of its unfinished frame (length prefix
            included) began to arrive; None between frames.
    """

    def __init__(self, now: float):
        self.last_byte_at = now
        self.frame_started_at: float | None = None

    def received(self, now: float, frames: int, mid_frame: bool) -> None:
        """Note bytes that arrived at ``now``, completing ``frames`` frames and leaving a
        frame unfinished if ``mid_frame`` (a frame begun after a completed one begins now)."""
        self.last_byte_at = now
        if not mid_frame:
            self.frame_started_at = None
        elif frames or self.frame_started_at is None:
            self.frame_started_at = now

    def stall(self, now: float, timeout_s: float) -> Stall | None:
        """IDLE if no byte came for ``timeout_s`` (inclusive), else SLOW if the unfinished
        frame began ``timeout_s`` ago or more, else None."""
        if now - self.last_byte_at >= timeout_s:
            return Stall.IDLE
        if self.frame_started_at is not None and now - self.frame_started_at >= timeout_s:
            return Stall.SLOW
        return None


class _Producer:
    """One connected producer: its socket, name, frame splitter and progress timer."""

    def __init__(self, sock: socket.socket, peer: str, max_frame_bytes: int, now: float):
        self.sock, self.peer = sock, peer
        self.splitter = FrameSplitter(max_frame_bytes)
        self.timer = ProgressTimer(now)
        self.frames = 0
        self.closed = False


class TcpSource(Source):
    """Listens for producers and publishes the frames they push.

    The port is bound here, when the source is made, so a busy port stops the daemon
    before anything starts.

    Args:
        host: the address to listen on. Anyone who can reach it can put pictures on
            every viewer's screen: keep 127.0.0.1 unless the network is trusted.
        port: TCP port; 0 picks a free one (see :attr:`port`).
        max_frame_bytes: the largest frame accepted, bytes.
        timeout_s: close a producer that sends no byte for this long, or leaves a
            frame unfinished for this long, seconds (> 0; checked every 0.25 s at most).
        max_frame_pixels: the largest image accepted, width x height in pixels (>= 1);
            larger ones are skipped without being decoded.
        clock: monotonic clock in seconds for the timeouts and the rate-limited log
            (injectable).

    Attributes:
        port: the port actually bound.

    Raises:
        BindError: the port cannot be bound (its message names ``--tcp-port``).
    """

    kind = "tcp"

    def __init__(self, host: str, port: int, max_frame_bytes: int,
                 timeout_s: float = PRODUCER_TIMEOUT_S, max_frame_pixels: int = MAX_FRAME_PIXELS,
                 clock: Callable[[], float] = time.monotonic):
        self.host, self._max = host, max_frame_bytes
        self._timeout_s, self._max_pixels, self._clock = timeout_s, max_frame_pixels, clock
        self._listener = listen("TCP frames", host, port, BACKLOG, "--tcp-port")
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._warn = RateLimitedLog(log, clock=clock)
        self._producers: dict[socket.socket, _Producer] = {}
        self.frames = 0  # frames published
        self.skipped = 0  # frames not published: not a decodable image, or too large
        self.too_large = 0  # of those, images over max_frame_pixels
        self.closed_oversize = 0  # connections closed for a length over max_frame_bytes
        self.closed_zero = 0  # connections closed for a length of 0
        self.closed_idle = 0  # connections closed for no byte in timeout_s
        self.closed_slow = 0  # connections closed for a frame unfinished after timeout_s
        self.evicted = 0  # idlest connections closed to make room for a newcomer
        log.info("tcp source: producers push frames to %s:%d", host, self.port)

    def status(self) -> dict[str, Any]:
        producers = list(self._producers.values())  # one copy: the source thread changes it
        return {"host": self.host, "port": self.port, "producers": len(producers),
                "buffered": sum(p.splitter.buffered for p in producers), "frames": self.frames,
                "skipped": self.skipped, "too_large": self.too_large,
                "closed_oversize": self.closed_oversize, "closed_zero": self.closed_zero,
                "closed_idle": self.closed_idle, "closed_slow": self.closed_slow,
                "evicted": self.evicted}

    def run(self, publish: Publish, stop: threading.Event) -> None:
        """Accept producers and publish their frames until ``stop`` is set (then within
        0.25 s every producer socket and the listening socket are closed). Producers
        idle or too slow for ``timeout_s`` are closed within 0.25 s after it."""
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        try:
            while not stop.is_set():
                for key, _ in selector.select(SELECT_TIMEOUT_S):
                    if key.data is None:  # the listening socket
                        self._accept(selector)
                    elif not key.data.closed:  # (a newcomer may have closed it just now)
                        self._receive(selector, key.data, publish)
                self._close_stalled(selector)
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
        peer, now = f"{address[0]}:{address[1]}", self._clock()
        if len(self._producers) >= MAX_PRODUCERS:
            idlest = min(self._producers.values(), key=lambda p: p.timer.last_byte_at)
            self.evicted += 1
            self._warn.warning("evicted", "tcp source: %d producers are connected: closing %s "
                               "(no byte for %.1f s) to make room for %s (%d closed so far)",
                               MAX_PRODUCERS, idlest.peer, now - idlest.timer.last_byte_at,
                               peer, self.evicted)
            self._close(selector, idlest)
        sock.setblocking(False)
        producer = self._producers[sock] = _Producer(sock, peer, self._max, now)
        selector.register(sock, selectors.EVENT_READ, producer)
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
            producer.timer.received(self._clock(), len(frames), producer.splitter.mid_frame)
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
                jpeg, width, height = decode_image(frame, self._max_pixels)
            except ImageTooLarge as exc:
                self.skipped += 1
                self.too_large += 1
                self._warn.warning("too_large", "tcp source: skipped a %d-byte image from %s: "
                                   "%s (%d too large so far)", len(frame), producer.peer, exc,
                                   self.too_large)
                continue
            except TornImage as exc:
                self.skipped += 1
                self._warn.warning("skipped", "tcp source: skipped a %d-byte frame from %s that "
                                   "is not an image: %s (%d skipped so far)", len(frame),
                                   producer.peer, exc, self.skipped)
                continue
            producer.frames += 1
            self.frames += 1
            publish(ImageFrame(jpeg, width, height, time.time()))

    def _close_stalled(self, selector: selectors.BaseSelector) -> None:
        now = self._clock()
        for producer in list(self._producers.values()):
            stall = producer.timer.stall(now, self._timeout_s)
            if stall is None:
                continue
            if stall is Stall.IDLE:
                self.closed_idle += 1
                reason = f"sent nothing for {self._timeout_s:g} s"
            else:
                self.closed_slow += 1
                reason = (f"left a frame unfinished for {self._timeout_s:g} s "
                          f"({producer.splitter.buffered} bytes buffered)")
            self._warn.warning(stall.value, "tcp source: closing producer %s: it %s",
                               producer.peer, reason)
            self._close(selector, producer)

    def _close(self, selector: selectors.BaseSelector, producer: _Producer) -> None:
        selector.unregister(producer.sock)
        del self._producers[producer.sock]  # before close: status() never counts a closed one
        producer.closed = True
        producer.sock.close()
        log.info("tcp source: producer %s disconnected after %d frames (%d connected)",
                 producer.peer, producer.frames, len(self._producers))
