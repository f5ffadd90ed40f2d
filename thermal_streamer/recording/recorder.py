"""The recorder: raw frames to disk in a thread of their own, never slowing the frames.

Two threads (started, named and joined by the app):

* ``recorder`` reads ``hub.raw`` (:meth:`FrameSlot.wait_newer`, newest only), runs the
  motion detector and the :class:`TriggerMachine`, keeps the pre-roll, and queues the
  frames to record in a bounded queue (``Queue_Frames``); a frame that does not fit is
  dropped and counted (``frames_dropped`` in /healthz, /metrics and the sidecar), as are
  frames the thread itself missed while recording. Nothing it does waits for the disk.
* ``recorder-writer`` takes the queue, writes segments (:mod:`.formats`), flushes them
  every :data:`FLUSH_S` or :data:`FLUSH_BYTES` (so a kill loses at most a second plus
  what was queued), keeps
  ``Max_Disk_MB`` and ``Min_Free_MB`` by deleting the oldest recordings before each
  write, and stops recording with one log line and a state change when that is not
  enough or the disk refuses a write. Streaming carries on.

Its other faces: the ``record`` and ``delete_recording`` commands
(:meth:`Recorder.command_handlers`), the hook other components call to start and stop an
event (:meth:`Recorder.set_event`), the ``recording`` part of the shared state, the
``/recordings.json`` listing and the ``/recordings/<name>`` downloads, and
:meth:`Recorder.health` ("recorder" in /healthz and /metrics).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import enum
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from thermal_streamer.config.loader import Config
from thermal_streamer.control.commands import CommandError, CommandHandler
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.health import ComponentHealth
from thermal_streamer.core.hub import Hub
from thermal_streamer.recording.formats import (
    WRITERS,
    FormatError,
    RecordingInfo,
    SegmentHeader,
    SegmentWriter,
    recording_info,
    sidecar_path,
)
from thermal_streamer.recording.policy import (
    MotionDetector,
    PreRoll,
    RecordMode,
    SegmentName,
    Trigger,
    TriggerMachine,
    plan_disk,
)

log = logging.getLogger(__name__)

FLUSH_S = 1.0  # frames reach the disk this often: a kill loses at most this (plus the queue)
FLUSH_BYTES = 256 * 1024  # ... or sooner, once this much (uncompressed) waits: bounds memory
# and the free space a flush must find (the disk check reserves the uncompressed size)
POLL_S = 0.25  # how often both threads look at the stop flag when nothing arrives


@dataclasses.dataclass(frozen=True)
class RecordingSettings:
    """The ``[Recording]`` settings (docs/recording.md).

    Attributes:
        mode: ``Record``. format: ``Format`` ("cptv" or "hdf5"). directory:
        ``Recordings_Dir``. segment_s: ``Segment_Seconds``. max_disk_mb, min_free_mb:
        ``Max_Disk_MB`` (0: no limit), ``Min_Free_MB``. pre_s, post_s: ``Pre_Seconds``,
        ``Post_Seconds``. motion_threshold: ``Motion_Threshold`` (degrees C, or counts).
        queue_frames: ``Queue_Frames``.
    """

    mode: RecordMode = RecordMode.OFF
    format: str = "cptv"
    directory: Path = Path("recordings")
    segment_s: float = 300
    max_disk_mb: int = 1024
    min_free_mb: int = 100
    pre_s: float = 5
    post_s: float = 10
    motion_threshold: float = 0.2
    queue_frames: int = 64

    @classmethod
    def from_config(cls, config: Config) -> RecordingSettings:
        return cls(RecordMode(config.record), config.recording_format,
                   Path(config.recordings_dir), config.segment_s, config.max_disk_mb,
                   config.min_free_mb, config.pre_s, config.post_s, config.motion_threshold,
                   config.record_queue_frames)


class RecorderState(enum.Enum):
    """The ``state`` of the ``recording`` part of the shared state."""

    OFF = "off"  # Record = off
    UNAVAILABLE = "unavailable"  # the source has no raw frames (file, tcp): nothing to record
    IDLE = "idle"  # waiting for record start or an event (or paused in always mode)
    RECORDING = "recording"
    STOPPED = "stopped"  # the disk is full or refused a write: record start tries again


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


class Recorder:
    """Records raw frames to ``Recordings_Dir`` (see the module docstring).

    Args:
        hub: where raw frames come from (``hub.raw``).
        state: the shared state; the recorder owns its ``recording`` part.
        settings: the ``[Recording]`` settings.
        source_kind: the source's kind, written into each recording.
        has_raw: whether the source has raw frames; without, nothing can be recorded.
        camera: returns the source's status (its ``model`` is written into recordings).
        clock: monotonic clock, s (injectable).

    Raises:
        OSError: ``Recordings_Dir`` cannot be created (only when recording is on).
    """

    def __init__(self, hub: Hub, state: AcquisitionState, settings: RecordingSettings,
                 source_kind: str, has_raw: bool,
                 camera: Callable[[], Mapping[str, Any]] = dict,
                 clock: Callable[[], float] = time.monotonic):
        self._hub, self._state, self.settings = hub, state, settings
        self._source_kind, self._camera, self._clock = source_kind, camera, clock
        self.active = settings.mode is not RecordMode.OFF and has_raw
        self._lock = threading.Lock()
        self._machine = TriggerMachine(settings.mode, settings.post_s)
        self._motion = MotionDetector(settings.motion_threshold)
        self._events: set[str] = set()
        self._preroll: PreRoll[tuple[int, RawFrame]] = PreRoll(
            settings.pre_s if settings.mode is RecordMode.EVENT else 0)
        self._queue = _Queue(settings.queue_frames)
        self._reader_done = threading.Event()  # the recorder thread has queued its last frame
        self._clip: Trigger | None = None
        self._clip_dropped_base = 0
        self._next_segment = False  # the segment was closed for the clip's next one
        self._since: float | None = None
        self._stopped_reason = ""
        self._segment: SegmentWriter | None = None
        self._segment_dropped_base = 0
        self.counters = {"frames_seen": 0, "frames_written": 0, "frames_dropped": 0, "segments": 0,
                         "recordings_deleted": 0, "write_errors": 0}
        self._last_error = ""
        if settings.mode is not RecordMode.OFF and not has_raw:
            log.warning("recording is off: the %s source has no raw frames, only pictures "
                        "(Record = %s needs a raw source)", source_kind, settings.mode.value)
        if self.active:
            settings.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._publish()

    # --- what others call --------------------------------------------------------------

    def command_handlers(self) -> dict[str, CommandHandler]:
        """The ``record`` and ``delete_recording`` commands, for the CommandRunner."""
        return {"record": _RecordCommand(self), "delete_recording": _DeleteCommand(self)}

    def set_event(self, name: str, active: bool) -> None:
        """Start (``active``) or end an event named ``name`` (e.g. "alarm:door").

        In ``Record = event`` mode a recording runs while any event (or motion) is
        active and ``Post_Seconds`` after the last one ends; the pre-roll comes first.
        An event that is only a moment: call with True, then False. Thread-safe, never
        blocks; ignored in the other modes.
        """
        with self._lock:
            if active:
                self._events.add(name)
            else:
                self._events.discard(name)

    def command(self, start: bool) -> None:
        """``record start`` / ``record stop`` (any thread).

        Raises:
            CommandError: recording is off or the source has no raw frames.
        """
        if not self.active:
            if self.settings.mode is RecordMode.OFF:
                raise CommandError("recording is off: set [Recording] Record to always, "
                                   "manual or event")
            raise CommandError(f"the {self._source_kind} source has no raw frames to record")
        with self._lock:
            if start and self._stopped_reason:
                log.info("recording resumed by record start")
                self._stopped_reason = ""
            self._machine.command(start)
            self._publish()

    def recordings(self) -> list[RecordingInfo]:
        """Every recording in ``Recordings_Dir``, oldest first."""
        try:
            entries = sorted(os.scandir(self.settings.directory), key=lambda e: e.name)
        except OSError:
            return []
        found = []
        for entry in entries:
            name = SegmentName.parse(entry.name)
            if name is not None and entry.is_file():
                found.append(recording_info(Path(entry.path), name))
        return found

    def listing(self) -> dict[str, Any]:
        """``/recordings.json``: ``{"recordings": [newest first], "state": {...}}``."""
        entries = [info.as_dict() for info in reversed(self.recordings())]
        return {"recordings": entries, "state": self._state.part("recording")}

    def resolve(self, name: str) -> Path | None:
        """The file ``/recordings/<name>`` serves, or None: only names in the listing."""
        if SegmentName.parse(name) is None:
            return None
        path = self.settings.directory / name
        return path if path.is_file() else None

    def delete(self, name: str) -> concurrent.futures.Future[None]:
        """Delete a recording and its sidecar (done by the writer thread).

        Returns:
            A future: None once deleted; CommandError when it is being written.
        """
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self.active:
            self._queue.put(_Delete(name, done))
        else:  # no writer thread runs, so none can be writing it
            self._delete(_Delete(name, done))
        return done

    def health(self) -> ComponentHealth:
        """"recorder" in /healthz and /metrics: the state, counters, queue length."""
        part = self._state.part("recording") or {}
        return ComponentHealth(part.get("state", "off"), not self._stopped_reason,
                               dict(self.counters), self._last_error,
                               {"queue_frames": float(len(self._queue)),
                                "recording": 1.0 if self._segment is not None else 0.0})

    # --- the recorder thread -----------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Read ``hub.raw`` and queue the frames to record, until ``stop`` is set; the
        newest frame at that moment is taken too (a viewer may have seen it)."""
        seq = 0
        try:
            while True:
                stopping = stop.is_set()
                item = self._hub.raw.latest() if stopping else self._hub.raw.wait_newer(seq,
                                                                                        POLL_S)
                if item is not None and item[0] > seq:
                    new_seq, frame = item
                    missed = new_seq - seq - 1 if seq else 0
                    seq = new_seq
                    if isinstance(frame, RawFrame):
                        self._take(seq, frame, missed)
                    self.counters["frames_seen"] += 1
                if stopping:
                    return
        finally:
            self._reader_done.set()

    def _take(self, seq: int, frame: RawFrame, missed: int) -> None:
        moved = (self.settings.mode is RecordMode.EVENT
                 and self._motion.moved(frame.pixels, frame.unit))
        with self._lock:
            event = moved or bool(self._events)
            trigger = None if self._stopped_reason else self._machine.update(frame.timestamp,
                                                                             event)
            if trigger is None:
                if self._clip is not None:
                    self._clip = self._since = None
                    self._queue.put(_Close())
                    self._publish()
                self._preroll.push(frame.timestamp, (seq, frame))
                return
            if self._clip is None:
                backlog = self._preroll.drain()
                self._clip_dropped_base = self.counters["frames_dropped"]
                self._clip = trigger
                self._since = backlog[0][1].timestamp if backlog else frame.timestamp
                self._publish()
            else:
                backlog = []
                self.counters["frames_dropped"] += missed
            clip = self._clip
        for s, f in [*backlog, (seq, frame)]:
            if not self._queue.put_frame(_Frame(s, f, clip, self._clip_dropped_base)):
                self.counters["frames_dropped"] += 1

    # --- the writer thread -------------------------------------------------------------

    def run_writer(self, stop: threading.Event) -> None:
        """Write queued frames, flushing every FLUSH_S, until ``stop`` is set, the
        recorder thread has ended and the queue is empty; then close the segment."""
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
            if stop.is_set() and self._reader_done.is_set() and not items:
                self._close("shutdown")
                return

    def _write(self, item: _Frame) -> None:
        if self._stopped_reason:
            return  # queued before the stop
        frame, segment = item.frame, self._segment
        if segment is not None:
            name = segment.header.name
            full = segment.max_frames is not None and (
                segment.frames + len(segment.pending) >= segment.max_frames)
            if (name.trigger is not item.trigger or full
                    or frame.timestamp - name.start_s >= self.settings.segment_s
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
        plan = self._plan(frame.pixels.nbytes * 16, keep=())
        if plan:
            return None
        name = SegmentName.at(frame.timestamp, item.trigger, self.settings.format)
        while (self.settings.directory / name.name).exists():
            name = SegmentName.at(name.start_s + 0.001, name.trigger, name.format)
        rows, cols = frame.pixels.shape
        model = self._camera().get("model") or ""
        header = SegmentHeader(name, frame.unit, rows, cols, self._source_kind, str(model))
        try:
            segment = WRITERS[self.settings.format](self.settings.directory / name.name, header)
        except FormatError as exc:
            self._stop(str(exc))
            return None
        except OSError as exc:
            self.counters["write_errors"] += 1
            self._stop(f"cannot create {name.name}: {exc.strerror or exc}")
            return None
        self._segment = segment
        self._segment_dropped_base = (self.counters["frames_dropped"] if self._next_segment
                                      else item.clip_dropped_base)
        self._next_segment = False
        self.counters["segments"] += 1
        log.info("recording to %s", name.name)
        with self._lock:
            self._publish()
        return segment

    def _flush(self) -> None:
        segment = self._segment
        if segment is None:
            return
        if self._plan(segment.pending_bytes, keep=(segment.path.name,)):
            return
        written = len(segment.pending)
        try:
            segment.flush(self.counters["frames_dropped"] - self._segment_dropped_base)
        except OSError as exc:
            self.counters["write_errors"] += 1
            self._stop(f"cannot write {segment.path.name}: {exc.strerror or exc}")
            return
        self.counters["frames_written"] += written

    def _plan(self, reserve_bytes: int, keep: tuple[str, ...]) -> bool:
        """Delete the oldest recordings the limits require; True (and stop) if still full."""
        try:
            stats = os.statvfs(self.settings.directory)
        except OSError as exc:
            self._stop(f"cannot check the free space of {self.settings.directory}: "
                       f"{exc.strerror or exc}")
            return True
        infos = self.recordings()
        plan = plan_disk([(info.name, info.bytes) for info in infos],
                         stats.f_bavail * stats.f_frsize, self.settings.max_disk_mb,
                         self.settings.min_free_mb, keep, reserve_bytes)
        for name in plan.delete:
            self._remove(name)
            log.info("deleted the oldest recording %s to stay within Max_Disk_MB = %d and "
                     "Min_Free_MB = %d", name, self.settings.max_disk_mb,
                     self.settings.min_free_mb)
        if plan.full:
            self._stop(plan.reason)
        return plan.full

    def _remove(self, name: str) -> None:
        path = self.settings.directory / name
        for p in (path, sidecar_path(path)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
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
            segment.close(self.counters["frames_dropped"] - self._segment_dropped_base, reason)
        except OSError as exc:
            self.counters["write_errors"] += 1
            self._stop(f"cannot write {segment.path.name}: {exc.strerror or exc}")
            return
        self.counters["frames_written"] += written
        log.info("recorded %s: %d frames (%s)", segment.path.name, segment.frames, reason)
        with self._lock:
            self._publish()

    def _stop(self, reason: str) -> None:
        """Stop recording (the disk is full or refused): one log line, a state change."""
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.abandon()
        self._last_error = reason
        log.error("recording stopped: %s; streaming carries on (free space, then send "
                  "record start)", reason)
        with self._lock:
            self._stopped_reason = reason
            self._clip = self._since = None
            self._publish()

    def _publish(self) -> None:
        """Set the ``recording`` part of the shared state (call with ``_lock`` held)."""
        if self.settings.mode is RecordMode.OFF:
            state = RecorderState.OFF
        elif not self.active:
            state = RecorderState.UNAVAILABLE
        elif self._stopped_reason:
            state = RecorderState.STOPPED
        elif self._clip is not None:
            state = RecorderState.RECORDING
        else:
            state = RecorderState.IDLE
        segment = self._segment
        self._state.set_part("recording", {
            "mode": self.settings.mode.value, "format": self.settings.format,
            "state": state.value, "trigger": self._clip and self._clip.value,
            "since": self._since, "segment": segment and segment.path.name,
            "reason": self._stopped_reason})


class _RecordCommand:
    """``{"cmd": "record", "action": "start" | "stop"}``."""

    def __init__(self, recorder: Recorder):
        self._recorder = recorder

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        action = data.get("action")
        if action not in ("start", "stop"):
            raise CommandError('record needs "action": "start" or "stop"')
        return {"action": action}

    def run(self, command: dict[str, Any]) -> None:
        self._recorder.command(command["action"] == "start")


class _DeleteCommand:
    """``{"cmd": "delete_recording", "name": NAME}`` (a name from /recordings.json)."""

    def __init__(self, recorder: Recorder):
        self._recorder = recorder

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        name = data.get("name")
        if not isinstance(name, str):
            raise CommandError('delete_recording needs "name": a name from /recordings.json')
        if self._recorder.resolve(name) is None:
            raise CommandError(f"no recording named {name!r}")
        return {"name": name}

    def run(self, command: dict[str, Any]) -> concurrent.futures.Future[None]:
        return self._recorder.delete(command["name"])
