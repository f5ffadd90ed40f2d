"""The ``recorder-writer`` thread: queued frames to segment files, behind a bounded queue.

The recorder thread (:mod:`thermal_streamer.recording.recorder`) hands it frames
(:meth:`RecordingWriter.put_frame`, which never blocks: a frame over ``Queue_Frames`` is
refused, and the recorder counts it dropped), the end of each clip and deletions. This
thread alone touches the files: it writes segments (:mod:`thermal_streamer.recording.formats`),
flushes them every :data:`FLUSH_S` or :data:`FLUSH_BYTES` (so a kill loses at most a
second plus what was queued), keeps ``Max_Disk_MB`` and ``Min_Free_MB`` by deleting the
oldest recordings before each write (:meth:`RecordingLibrary.plan`, from one
``os.scandir``: no file is opened), and stops recording with one log line and a state
change when that is not enough or the disk refuses a write. Streaming carries on.

An unforeseen error in the thread (a bug, a library that raises what it should not) does
not end it: the segment being written is abandoned, the error logged with its traceback,
``writer_restarts`` counted and :attr:`RecordingWriter.failing` set (the recorder's
state ``error``, ``ok`` false in /healthz), and the loop starts again after a back-off
(RESTART_BACKOFF_S, doubling up to RESTART_BACKOFF_MAX_S while it keeps failing).
``failing`` clears once a pass of the loop completes without an error.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from thermal_streamer.control.commands import CommandError
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.recording.formats import WRITERS, FormatError, SegmentHeader, SegmentWriter
from thermal_streamer.recording.library import RecordingLibrary
from thermal_streamer.recording.policy import SegmentName, Trigger

log = logging.getLogger(__name__)

FLUSH_S = 1.0  # frames reach the disk this often: a kill loses at most this (plus the queue)
FLUSH_BYTES = 256 * 1024  # ... or sooner, once this much (uncompressed) waits: bounds memory
# and the free space a flush must find (the disk check reserves the uncompressed size)
POLL_S = 0.25  # how often the writer looks at the stop flag when nothing arrives
RESTART_BACKOFF_S = 1.0  # after an unforeseen error the loop starts again this much later,
RESTART_BACKOFF_MAX_S = 60.0  # doubling while it keeps failing, up to this


class _Close:
    """Queue item: the clip ended, close its segment."""


@dataclasses.dataclass(frozen=True)
class _Delete:
    """Queue item: delete a recording (from the writer thread, which owns the files)."""

    name: str
    done: concurrent.futures.Future[None]


@dataclasses.dataclass(frozen=True)
class _Frame:
    """Queue item: a frame to record, its clip's trigger, and the drop count when the
    clip started (the first segment's drops are counted from there)."""

    seq: int
    frame: RawFrame
    trigger: Trigger
    clip_dropped_base: int


class _Queue:
    """Frames and control items for the writer: frames up to a bound, control items always.

    Thread-safe; ``put_*`` never block.
    """

    def __init__(self, max_frames: int):
        self._cond = threading.Condition()
        self._items: collections.deque[_Frame | _Close | _Delete] = collections.deque()
        self._frames = 0
        self.max_frames = max_frames

    def put_frame(self, item: _Frame) -> bool:
        """Queue a frame; False (not queued) when ``max_frames`` are waiting already."""
        with self._cond:
            if self._frames >= self.max_frames:
                return False
            self._frames += 1
            self._items.append(item)
            self._cond.notify()
            return True

    def put(self, item: _Close | _Delete) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def take(self, timeout_s: float) -> list[_Frame | _Close | _Delete]:
        """Everything queued, oldest first, waiting up to ``timeout_s`` for the first."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._items), timeout_s)
            items = list(self._items)
            self._items.clear()
            self._frames = 0
            return items

    def __len__(self) -> int:
        return self._frames


class RecordingWriter:
    """Writes the frames the recorder queues into segments (see the module docstring).

    Args:
        library: the recordings folder and its disk limits.
        format: ``Format`` ("cptv" or "hdf5").
        segment_s: ``Segment_Seconds``: a clip longer than this goes on in a new segment.
        queue_frames: ``Queue_Frames``: the most frames waiting for this thread.
        source_kind: the source's kind, written into each recording.
        camera: returns the source's status (its ``model`` is written into recordings).
        dropped: returns the frames the recorder dropped so far (for each sidecar).
        stopped: returns True while recording is stopped: queued frames are skipped.
        on_change: called (in this thread) when a segment was opened or closed.
        on_stop: called (in this thread) with the reason when recording must stop.
        reader_done: set once the recorder thread has queued its last frame.
        clock: monotonic clock, s (injectable).

    Attributes:
        counters: ``frames_written``, ``segments``, ``recordings_deleted``,
            ``write_errors``, ``writer_restarts`` (written by this thread, read by any).
        last_error: why recording last stopped, or the thread's last unforeseen error
            ("" before either).
        failing: the thread failed and has not yet completed a pass since it restarted.
    """

    def __init__(self, library: RecordingLibrary, format: str, segment_s: float,
                 queue_frames: int, source_kind: str, camera: Callable[[], Mapping[str, Any]],
                 dropped: Callable[[], int], stopped: Callable[[], bool],
                 on_change: Callable[[], None], on_stop: Callable[[str], None],
                 reader_done: threading.Event, clock: Callable[[], float] = time.monotonic):
        self._library, self._format, self._segment_s = library, format, segment_s
        self._source_kind, self._camera, self._clock = source_kind, camera, clock
        self._dropped, self._stopped, self._reader_done = dropped, stopped, reader_done
        self._on_change, self._on_stop = on_change, on_stop
        self._queue = _Queue(queue_frames)
        self._segment: SegmentWriter | None = None
        self._segment_dropped_base = 0
        self._next_segment = False  # the segment was closed for the clip's next one
        self.counters = {"frames_written": 0, "segments": 0, "recordings_deleted": 0,
                         "write_errors": 0, "writer_restarts": 0}
        self.last_error = ""
        self.failing = False

    # --- what the recorder calls (any thread; never blocks) ----------------------------

    def put_frame(self, seq: int, frame: RawFrame, trigger: Trigger,
                  clip_dropped_base: int) -> bool:
        """Queue a frame of the clip ``trigger`` started when the recorder had dropped
        ``clip_dropped_base`` frames; False (not queued) when the queue is full."""
        return self._queue.put_frame(_Frame(seq, frame, trigger, clip_dropped_base))

    def end_clip(self) -> None:
        """Have the clip's segment closed after the frames queued before."""
        self._queue.put(_Close())

    def delete(self, name: str, queued: bool) -> concurrent.futures.Future[None]:
        """Delete a recording and its sidecar: in this writer's thread (``queued``), or at
        once in the caller's when no writer thread runs (so none can be writing it).

        Returns:
            A future: None once deleted; CommandError when it is being written or the
            folder refused.
        """
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if queued:
            self._queue.put(_Delete(name, done))
        else:
            self._delete(_Delete(name, done))
        return done

    @property
    def queued_frames(self) -> int:
        """Frames waiting in the queue now."""
        return len(self._queue)

    @property
    def segment_name(self) -> str | None:
        """The file being written, or None."""
        segment = self._segment
        return None if segment is None else segment.path.name

    # --- the writer thread -------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Write queued frames, flushing every FLUSH_S, until ``stop`` is set, the
        recorder thread has ended and the queue is empty; then close the segment.

        An unforeseen error restarts the loop after a back-off (see the module
        docstring); ``stop`` ends the back-off at once.
        """
        backoff_s = RESTART_BACKOFF_S
        while True:
            try:
                self._loop(stop)
                return
            except Exception as exc:  # a bug: the thread must not end while recording is on
                self._failed(exc, backoff_s)
            if stop.wait(backoff_s):
                with contextlib.suppress(Exception):  # (it failed once already)
                    self._close("shutdown")
                return
            backoff_s = min(backoff_s * 2, RESTART_BACKOFF_MAX_S)
            log.info("recorder-writer: starting again")

    def _loop(self, stop: threading.Event) -> None:
        next_flush = self._clock() + FLUSH_S
        while True:
            items = self._queue.take(min(POLL_S, max(0.0, next_flush - self._clock())))
            for item in items:
                if isinstance(item, _Frame):
                    self._write(item)
                elif isinstance(item, _Close):
                    self._close("clip ended")
                else:
                    self._delete(item)
            if self._clock() >= next_flush:
                self._flush()
                next_flush = self._clock() + FLUSH_S
            if self.failing and items:
                self.failing = False
                log.info("recorder-writer: writing again")
                self._on_change()
            if stop.is_set() and self._reader_done.is_set() and not items:
                self._close("shutdown")
                return

    def _failed(self, exc: Exception, backoff_s: float) -> None:
        """The loop raised: abandon the segment, count, log, report (this thread)."""
        segment, self._segment = self._segment, None
        if segment is not None:
            with contextlib.suppress(Exception):  # (it failed once already)
                segment.abandon()
        self.counters["writer_restarts"] += 1
        self.last_error = f"the recorder-writer thread failed: {exc!r}"
        if self.failing:  # again, since the last restart: logged when it began
            log.debug("recorder-writer failed again (%r); next try in %.0f s", exc, backoff_s)
            return
        self.failing = True
        log.error("recorder-writer failed (%s); it starts again in %.0f s (doubling while "
                  "it fails), frames queued meanwhile may be dropped; please report:\n%s",
                  exc.__class__.__name__, backoff_s, traceback.format_exc().rstrip())
        self._on_change()

    def _write(self, item: _Frame) -> None:
        if self._stopped():
            return  # queued before the stop
        frame, segment = item.frame, self._segment
        if segment is not None:
            name = segment.header.name
            full = segment.max_frames is not None and (
                segment.frames + len(segment.pending) >= segment.max_frames)
            if (name.trigger is not item.trigger or full
                    or frame.timestamp - name.start_s >= self._segment_s
                    or frame.pixels.shape != (segment.header.rows, segment.header.cols)):
                self._close("next segment")
                self._next_segment = True
                segment = None
        if segment is None:
            segment = self._open(item)
            if segment is None:
                return
        segment.add(item.seq, frame)
        if segment.pending_bytes >= FLUSH_BYTES:
            self._flush()

    def _open(self, item: _Frame) -> SegmentWriter | None:
        frame = item.frame
        if self._plan(frame.pixels.nbytes * 16, keep=()):
            return None
        name = self._library.unused(SegmentName.at(frame.timestamp, item.trigger, self._format))
        rows, cols = frame.pixels.shape
        model = self._camera().get("model") or ""
        header = SegmentHeader(name, frame.unit, rows, cols, self._source_kind, str(model))
        try:
            segment = WRITERS[self._format](self._library.directory / name.name, header)
        except FormatError as exc:
            self._stop(str(exc))
            return None
        except OSError as exc:
            self.counters["write_errors"] += 1
            self._stop(f"cannot create {name.name}: {exc.strerror or exc}")
            return None
        self._segment = segment
        self._segment_dropped_base = (self._dropped() if self._next_segment
                                      else item.clip_dropped_base)
        self._next_segment = False
        self.counters["segments"] += 1
        log.info("recording to %s", name.name)
        self._on_change()
        return segment

    def _flush(self) -> None:
        segment = self._segment
        if segment is None:
            return
        if self._plan(segment.pending_bytes, keep=(segment.path.name,)):
            return
        written = len(segment.pending)
        try:
            segment.flush(self._dropped() - self._segment_dropped_base)
        except OSError as exc:
            self.counters["write_errors"] += 1
            self._stop(f"cannot write {segment.path.name}: {exc.strerror or exc}")
            return
        self.counters["frames_written"] += written

    def _plan(self, reserve_bytes: int, keep: tuple[str, ...]) -> bool:
        """Delete the oldest recordings the limits require; True (and stop) if still full."""
        library = self._library
        try:
            plan = library.plan(reserve_bytes, keep)
        except OSError as exc:
            self._stop(f"cannot check the free space of {library.directory}: "
                       f"{exc.strerror or exc}")
            return True
        for name in plan.delete:
            self._remove(name)
            log.info("deleted the oldest recording %s to stay within Max_Disk_MB = %d and "
                     "Min_Free_MB = %d", name, library.max_disk_mb, library.min_free_mb)
        if plan.full:
            self._stop(plan.reason)
        return plan.full

    def _remove(self, name: str) -> None:
        self._library.remove(name)
        self.counters["recordings_deleted"] += 1

    def _delete(self, item: _Delete) -> None:
        if self._segment is not None and self._segment.path.name == item.name:
            item.done.set_exception(CommandError(
                f"{item.name} is being written: send record stop first"))
            return
        try:
            self._remove(item.name)
        except OSError as exc:
            item.done.set_exception(CommandError(f"cannot delete {item.name}: "
                                                 f"{exc.strerror or exc}"))
            return
        log.info("deleted recording %s (delete_recording command)", item.name)
        item.done.set_result(None)

    def _close(self, reason: str) -> None:
        segment = self._segment
        if segment is None:
            return
        if self._plan(segment.pending_bytes, keep=(segment.path.name,)):
            return  # stopped: the segment was abandoned
        self._segment = None
        written = len(segment.pending)
        try:
            segment.close(self._dropped() - self._segment_dropped_base, reason)
        except OSError as exc:
            self.counters["write_errors"] += 1
            self._stop(f"cannot write {segment.path.name}: {exc.strerror or exc}")
            return
        self.counters["frames_written"] += written
        log.info("recorded %s: %d frames (%s)", segment.path.name, segment.frames, reason)
        self._on_change()

    def _stop(self, reason: str) -> None:
        """Stop recording (the disk is full or refused): one log line, a state change."""
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.abandon()
        self.last_error = reason
        log.error("recording stopped: %s; streaming carries on (free space, then send "
                  "record start)", reason)
        self._on_stop(reason)
