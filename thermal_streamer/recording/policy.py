"""The recorder's decisions, pure: names, triggers, motion, pre-roll and the disk budget.

Nothing here opens a file, reads a clock or starts a thread; the recorder thread
(:mod:`thermal_streamer.recording.recorder`) feeds these parts frames and times, the writer
(:mod:`thermal_streamer.recording.writer`) the file sizes of the library
(:mod:`thermal_streamer.recording.library`).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import re
from collections.abc import Collection, Sequence
from typing import Generic, TypeVar

import numpy as np

from lepton.radiometry import PixelUnit

T = TypeVar("T")

MB = 1024 * 1024  # Max_Disk_MB and Min_Free_MB count mebibytes


class RecordMode(enum.Enum):
    """``[Recording] Record``: what starts and stops a recording."""

    OFF = "off"  # never records; the record command is refused
    ALWAYS = "always"  # records every frame (record stop pauses, record start resumes)
    MANUAL = "manual"  # records between record start and record stop
    EVENT = "event"  # records motion and hook events, with pre- and post-roll


class Trigger(enum.Enum):
    """Why a clip was recorded (part of each segment's name)."""

    ALWAYS = "always"
    MANUAL = "manual"
    EVENT = "event"


FORMAT_SUFFIXES = {"cptv": ".cptv", "hdf5": ".h5"}
SIDECAR_SUFFIX = ".jsonl"
_NAME = re.compile(r"(\d{8}-\d{6}\.\d{3})-(always|manual|event)(\.cptv|\.h5)")
_TIME_FORMAT = "%Y%m%d-%H%M%S.%f"


@dataclasses.dataclass(frozen=True)
class SegmentName:
    """A segment's file name: ``YYYYmmdd-HHMMSS.mmm-TRIGGER.SUFFIX``, its start in UTC.

    Names sort in time order. Attributes: start_s (Unix seconds, to the millisecond),
    trigger, format ("cptv" or "hdf5").
    """

    start_s: float
    trigger: Trigger
    format: str

    @property
    def name(self) -> str:
        """The file name, e.g. ``20240501-120000.123-event.cptv``."""
        start = datetime.datetime.fromtimestamp(self.start_s, datetime.UTC)
        stamp = start.strftime(_TIME_FORMAT)[:-3]  # microseconds -> milliseconds
        return f"{stamp}-{self.trigger.value}{FORMAT_SUFFIXES[self.format]}"

    @classmethod
    def at(cls, start_s: float, trigger: Trigger, format: str) -> SegmentName:
        """The name of a segment starting at ``start_s`` (rounded down to the millisecond)."""
        return cls(int(start_s * 1000) / 1000, trigger, format)

    @staticmethod
    def looks_like(name: str) -> bool:
        """True if ``name`` has a segment's form, whether or not its date exists
        (``20241399-...``): such a file is skipped and counted, not left unseen."""
        return _NAME.fullmatch(name) is not None

    @classmethod
    def matches(cls, name: str) -> bool:
        """True if ``name`` is a segment's: its form and a date that exists."""
        return cls.parse(name) is not None

    @classmethod
    def parse(cls, name: str) -> SegmentName | None:
        """The parts of a segment's file name, or None when ``name`` is not one (another
        form, or a date that does not exist: month 13, 30 February, hour 24)."""
        match = _NAME.fullmatch(name)
        if match is None:
            return None
        try:
            start = datetime.datetime.strptime(match[1] + "000", _TIME_FORMAT).replace(
                tzinfo=datetime.UTC)
        except ValueError:  # well-formed but impossible
            return None
        fmt = next(f for f, suffix in FORMAT_SUFFIXES.items() if suffix == match[3])
        return cls(round(start.timestamp(), 3), Trigger(match[2]), fmt)


class TriggerMachine:
    """Whether to record now, from the mode, the commands, motion and hook events.

    * ``always``: records unless paused by ``record stop`` (``record start`` resumes);
    * ``manual``: records between ``record start`` and ``record stop``;
    * ``event``: records while motion or a hook event is active, and ``post_s`` seconds
      (frame time) after the last one; ``record start``/``stop`` record by hand too;
    * ``off``: never.

    Args:
        mode: the ``Record`` setting.
        post_s: seconds to keep recording after the last event (frame timestamps), >= 0.
    """

    def __init__(self, mode: RecordMode, post_s: float):
        self.mode, self.post_s = mode, post_s
        self.manual = False  # record start in manual or event mode
        self.paused = False  # record stop in always mode
        self._last_event_s: float | None = None

    def command(self, start: bool) -> None:
        """``record start`` (True) or ``record stop`` (False)."""
        self.manual = start
        self.paused = not start

    def update(self, now_s: float, event: bool) -> Trigger | None:
        """What wants a recording at frame time ``now_s``, or None.

        Args:
            now_s: the frame's timestamp, s.
            event: motion or a hook event is active at this frame.
        """
        if self.mode is RecordMode.ALWAYS:
            return None if self.paused else Trigger.ALWAYS
        if self.mode is RecordMode.OFF:
            return None
        if self.manual:
            return Trigger.MANUAL
        if self.mode is RecordMode.EVENT:
            if event:
                self._last_event_s = now_s
            if self._last_event_s is not None and now_s - self._last_event_s <= self.post_s:
                return Trigger.EVENT
        return None


PIXELS_PER_DEGREE = {PixelUnit.CENTIKELVIN: 100.0, PixelUnit.DECIKELVIN: 10.0,
                     PixelUnit.COUNTS: 1.0}


class MotionDetector:
    """Motion as the mean absolute difference between consecutive frames, over a threshold.

    Args:
        threshold: the ``Motion_Threshold``: degrees C (kelvin) for radiometric frames,
            counts otherwise, > 0.
    """

    def __init__(self, threshold: float):
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self.last_difference = 0.0  # of the newest frame, in the threshold's unit

    def moved(self, pixels: np.ndarray, unit: PixelUnit) -> bool:
        """True if ``pixels`` differ from the previous frame by more than the threshold.

        Args:
            pixels: ndarray uint16 (rows, cols); the first frame, or one of another shape,
                never counts as motion.
            unit: what a pixel value means (centikelvin: 100 per degree, ...).
        """
        previous, self._previous = self._previous, pixels
        if previous is None or previous.shape != pixels.shape:
            self.last_difference = 0.0
            return False
        difference = np.abs(pixels.astype(np.int32) - previous).mean()
        self.last_difference = float(difference) / PIXELS_PER_DEGREE[unit]
        return self.last_difference > self.threshold


class PreRoll(Generic[T]):
    """The newest ``seconds`` of items (frames), to start an event clip before the event.

    Args:
        seconds: how far back to keep, by the items' own timestamps, >= 0 (0 keeps none).
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._items: collections.deque[tuple[float, T]] = collections.deque()

    def push(self, timestamp_s: float, item: T) -> None:
        """Keep ``item``; forget those more than ``seconds`` older than it."""
        if self.seconds <= 0:
            return
        self._items.append((timestamp_s, item))
        while self._items and self._items[0][0] < timestamp_s - self.seconds:
            self._items.popleft()

    def drain(self) -> list[T]:
        """Every item kept, oldest first; the buffer is empty afterwards."""
        items = [item for _, item in self._items]
        self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)


@dataclasses.dataclass(frozen=True)
class DiskPlan:
    """What to do about the disk before writing more.

    Attributes:
        delete: names of recordings to delete, oldest first.
        full: True when the limits cannot be met even after those deletions: stop.
        reason: why it is full ("" when not).
    """

    delete: tuple[str, ...] = ()
    full: bool = False
    reason: str = ""


def plan_disk(recordings: Sequence[tuple[str, int]], free_bytes: int, max_disk_mb: int,
              min_free_mb: int, keep: Collection[str] = (), reserve_bytes: int = 0) -> DiskPlan:
    """Which recordings to delete, oldest first, so that the next write fits the limits.

    Args:
        recordings: (name, bytes on disk with its sidecar) of every recording, oldest first.
        free_bytes: free space on the recordings' filesystem now (for an unprivileged
            user: ``statvfs`` ``f_bavail * f_frsize``).
        max_disk_mb: ``Max_Disk_MB``, MiB the recordings may use together; 0: no limit.
        min_free_mb: ``Min_Free_MB``, MiB that must stay free on the filesystem.
        keep: names never deleted (the segment being written).
        reserve_bytes: what the next write will add, bytes.

    Returns:
        The plan: the deletions (each adds its bytes to the free space) and whether the
        limits still cannot be met.
    """
    used = sum(size for _, size in recordings) + reserve_bytes
    free = free_bytes - reserve_bytes
    max_bytes, min_free = max_disk_mb * MB, min_free_mb * MB

    def over() -> bool:
        return (max_bytes > 0 and used > max_bytes) or free < min_free

    delete: list[str] = []
    for name, size in recordings:
        if not over():
            break
        if name in keep:
            continue
        delete.append(name)
        used -= size
        free += size
    if not over():
        return DiskPlan(tuple(delete))
    if max_bytes > 0 and used > max_bytes:
        reason = (f"the recordings need {used / MB:.1f} MB, over Max_Disk_MB = {max_disk_mb}, "
                  "with nothing left to delete")
    else:
        reason = (f"{max(free, 0) / MB:.1f} MB would be left free on the disk, below "
                  f"Min_Free_MB = {min_free_mb}, with nothing left to delete")
    return DiskPlan(tuple(delete), True, reason)
