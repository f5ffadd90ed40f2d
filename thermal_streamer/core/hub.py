"""The fan-out hub: the newest frame only, published without ever waiting on a client.

Two :class:`FrameSlot` s carry frames downstream: ``raw`` holds the newest source frame
(read by the renderer), ``encoded`` the newest frame ready for clients (read by the
WebSocket fan-out and HTTP streams). A slot keeps one value; a reader that is slower
than the writer skips values, it never slows the writer. Each client's one-slot
mailbox is the pair (slot, the last ``seq`` it took).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from thermal_streamer.core.frames import EncodedFrame, RawFrame, SourceFrame

T = TypeVar("T")

FPS_SMOOTHING = 0.2  # weight of the newest interval in the frame-rate estimate


class FrameSlot(Generic[T]):
    """The newest value and its sequence number (1, 2, ...), under a Condition.

    Thread-safe. ``publish`` never blocks for longer than the lock is held by another
    publish or reader (a few microseconds).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = 0
        self._value: T | None = None
        self._closed = False

    def publish(self, value: T, seq: int | None = None) -> int:
        """Replace the value and wake every waiter. Returns its sequence number.

        Args:
            value: the new value.
            seq: its sequence number; default one more than the last. Must increase.
        """
        with self._cond:
            self._seq = self._seq + 1 if seq is None else seq
            self._value = value
            self._cond.notify_all()
            return self._seq

    def latest(self) -> tuple[int, T | None]:
        """(seq, value) of the newest value; (0, None) before the first."""
        with self._cond:
            return self._seq, self._value

    def wait_newer(self, after_seq: int, timeout_s: float) -> tuple[int, T] | None:
        """Wait until a value newer than ``after_seq`` is published.

        Returns:
            (seq, value), or None on timeout or when the slot is closed.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > after_seq or self._closed, timeout_s):
                return None
            if self._closed or self._value is None:
                return None
            return self._seq, self._value

    def close(self) -> None:
        """Wake every waiter for good; later waits return None at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class RateMeter:
    """Smoothed events per second from event times (injectable clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._last: float | None = None
        self._interval: float | None = None
        self.count = 0
        self.last_time: float | None = None

    def tick(self) -> None:
        now = self._clock()
        if self._last is not None:
            dt = now - self._last
            self._interval = dt if self._interval is None else (
                self._interval + FPS_SMOOTHING * (dt - self._interval))
        self._last = now
        self.count += 1
        self.last_time = now

    @property
    def rate(self) -> float:
        """Events per second, 0.0 until two events were seen."""
        return round(1.0 / self._interval, 2) if self._interval else 0.0

    def age(self) -> float | None:
        """Seconds since the last event, or None before the first."""
        return None if self._last is None else self._clock() - self._last


@dataclasses.dataclass(eq=False)
class Viewer:
    """One connected client of any protocol and what it was given.

    Counters are written by the one thread that serves the client and read by others
    (plain ints: a read may be one frame behind).
    """

    protocol: str  # "stream", "legacy" (WebSocket /) or "mjpeg"
    address: str
    frames_sent: int = 0
    frames_skipped: int = 0  # frames it was too busy to take
    bytes_sent: int = 0

    def count_sent(self, size: int) -> None:
        self.frames_sent += 1
        self.bytes_sent += size

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Hub:
    """Where sources publish and outputs subscribe.

    Attributes:
        raw: FrameSlot of SourceFrame, written by the source thread.
        encoded: FrameSlot of EncodedFrame, written by the renderer (in its own thread
            for raw frames, in the source's thread for ready-made JPEGs).
        source_rate: RateMeter of source frames.
        published: number of encoded frames published.

    Args:
        clock: monotonic clock (injectable).
        on_viewer_count: called with the number of viewers after each join and leave,
            in the joining or leaving thread; calls are serialized and each carries
            the count at its time of call, so the last one is always the final count
            (two threads joining at once can never leave a stale count behind).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 on_viewer_count: Callable[[int], object] = lambda count: None) -> None:
        self.raw: FrameSlot[SourceFrame] = FrameSlot()
        self.encoded: FrameSlot[EncodedFrame] = FrameSlot()
        self.source_rate = RateMeter(clock)
        self.published = 0
        self._lock = threading.Lock()
        self._viewers: list[Viewer] = []
        self._departed: dict[str, Counter] = collections.defaultdict(Counter)
        self._listeners: list[Callable[[], None]] = []
        self._on_viewer_count = on_viewer_count
        self._count_lock = threading.Lock()  # serializes on_viewer_count calls

    def publish_source_frame(self, frame: SourceFrame) -> int:
        """Called by the source thread for every new frame; never blocks on clients."""
        with self._lock:
            self.source_rate.tick()
        return self.raw.publish(frame)

    def publish_encoded(self, frame: EncodedFrame) -> None:
        """Called with each encoded frame, in order; wakes waiting readers, calls every listener."""
        self.encoded.publish(frame, frame.seq)
        with self._lock:
            self.published += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def raw_frames(self, stop: threading.Event,
                   poll_s: float = 0.5) -> Iterator[tuple[int, RawFrame]]:
        """Each new raw frame (seq, frame) until ``stop`` is set, for a reader thread of its
        own (the renderer, the alarms): a reader slower than the source skips frames.

        Args:
            stop: ends the iteration, within ``poll_s`` seconds.
            poll_s: how often the wait looks at ``stop`` when no frame arrives.
        """
        seq = 0
        while not stop.is_set():
            item = self.raw.wait_newer(seq, poll_s)
            if item is not None:
                seq, frame = item
                if isinstance(frame, RawFrame):
                    yield seq, frame

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (in the publishing thread; it must not block) per new frame."""
        with self._lock:
            self._listeners.append(listener)

    def join(self, protocol: str, address: str) -> Viewer:
        """Register a viewer; frames are rendered while there is at least one."""
        viewer = Viewer(protocol, address)
        with self._lock:
            self._viewers.append(viewer)
        self._report_count()
        return viewer

    def leave(self, viewer: Viewer) -> None:
        """Unregister a viewer, keeping its counts in the protocol's totals."""
        with self._lock:
            self._viewers.remove(viewer)
            self._departed[viewer.protocol].update(
                frames_sent=viewer.frames_sent, frames_skipped=viewer.frames_skipped,
                bytes_sent=viewer.bytes_sent)
        self._report_count()

    def _report_count(self) -> None:
        with self._count_lock:
            with self._lock:
                count = len(self._viewers)
            self._on_viewer_count(count)

    def viewers(self) -> list[Viewer]:
        """The connected viewers, in order of arrival."""
        with self._lock:
            return list(self._viewers)

    def viewer_counts(self) -> dict[str, int]:
        """Connected viewers per protocol."""
        return dict(Counter(v.protocol for v in self.viewers()))

    def has_viewers(self) -> bool:
        with self._lock:
            return bool(self._viewers)

    def totals(self) -> dict[str, dict[str, int]]:
        """Frames sent, frames skipped and bytes sent per protocol since start."""
        with self._lock:
            totals = {p: Counter(c) for p, c in self._departed.items()}
            for v in self._viewers:
                totals.setdefault(v.protocol, Counter()).update(
                    frames_sent=v.frames_sent, frames_skipped=v.frames_skipped,
                    bytes_sent=v.bytes_sent)
        keys = ("frames_sent", "frames_skipped", "bytes_sent")
        return {p: {k: c[k] for k in keys} for p, c in totals.items()}

    def close(self) -> None:
        """Wake every waiting reader for good (shutdown)."""
        self.raw.close()
        self.encoded.close()
