"""The recorder: raw frames to disk in threads of their own, never slowing the frames.

Two threads (started, named and joined by the app):

* ``recorder`` (:meth:`Recorder.run`) reads ``hub.raw`` (:meth:`FrameSlot.wait_newer`,
  newest only), runs the motion detector and the :class:`TriggerMachine`, keeps the
  pre-roll, and queues the frames to record with the writer (``Queue_Frames``); a frame
  that does not fit is dropped and counted (``frames_dropped`` in /healthz, /metrics and
  the sidecar), as are frames the thread itself missed while recording. Nothing it does
  waits for the disk.
* ``recorder-writer`` (:attr:`Recorder.writer`, :mod:`thermal_streamer.recording.writer`)
  writes, flushes and deletes; the files themselves are the library's
  (:mod:`thermal_streamer.recording.library`). It starts again by itself after an
  unforeseen error (state ``error`` meanwhile, ``writer_restarts`` counted).

Its other faces: the ``record`` and ``delete_recording`` commands
(:meth:`Recorder.command_handlers`), the hook other components call to start and stop an
event (:meth:`Recorder.set_event`), the ``recording`` part of the shared state, the
``/recordings.json`` listing and the ``/recordings/<name>`` downloads, and
:meth:`Recorder.health` ("recorder" in /healthz and /metrics).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from thermal_streamer.config.loader import Config
from thermal_streamer.control.commands import SENDER, CommandError, CommandHandler
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.health import ComponentHealth
from thermal_streamer.core.hub import Hub
from thermal_streamer.recording.library import RecordingLibrary
from thermal_streamer.recording.policy import (
    MotionDetector,
    PreRoll,
    RecordMode,
    Trigger,
    TriggerMachine,
)
from thermal_streamer.recording.writer import RecordingWriter

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often the recorder thread looks at the stop flag when no frame arrives
# the recorder's and the writer's, in /healthz's order
COUNTERS = ("frames_seen", "frames_written", "frames_dropped", "segments", "recordings_deleted",
            "write_errors", "writer_restarts")


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
    ERROR = "error"  # the writer thread failed: it starts again by itself after a back-off


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

    Attributes:
        library: the recordings on disk (listing, downloads, sizes).
        writer: the ``recorder-writer`` thread's part (the app runs ``writer.run``).
        active: recording is on and the source has raw frames: both threads run.
        counters: ``frames_seen``, ``frames_dropped`` (this thread's; :meth:`health`
            adds the writer's).

    Raises:
        OSError: ``Recordings_Dir`` cannot be created (only when recording is on).
    """

    def __init__(self, hub: Hub, state: AcquisitionState, settings: RecordingSettings,
                 source_kind: str, has_raw: bool,
                 camera: Callable[[], Mapping[str, Any]] = dict,
                 clock: Callable[[], float] = time.monotonic):
        self._hub, self._state, self.settings = hub, state, settings
        self._source_kind = source_kind
        self.active = settings.mode is not RecordMode.OFF and has_raw
        self._lock = threading.Lock()
        self._machine = TriggerMachine(settings.mode, settings.post_s)
        self._motion = MotionDetector(settings.motion_threshold)
        self._events: set[str] = set()
        self._preroll: PreRoll[tuple[int, RawFrame]] = PreRoll(
            settings.pre_s if settings.mode is RecordMode.EVENT else 0)
        self._reader_done = threading.Event()  # the recorder thread has queued its last frame
        self._clip: Trigger | None = None
        self._clip_dropped_base = 0
        self._since: float | None = None
        self._stopped_reason = ""
        self.counters = {"frames_seen": 0, "frames_dropped": 0}
        self.library = RecordingLibrary(settings.directory, settings.max_disk_mb,
                                        settings.min_free_mb)
        self.writer = RecordingWriter(
            self.library, settings.format, settings.segment_s, settings.queue_frames,
            source_kind, camera, dropped=lambda: self.counters["frames_dropped"],
            stopped=lambda: bool(self._stopped_reason), on_change=self._segment_changed,
            on_stop=self._stopped, reader_done=self._reader_done, clock=clock)
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

    def listing(self) -> dict[str, Any]:
        """``/recordings.json``: ``{"recordings": [newest first], "state": {...}}``."""
        entries = [info.as_dict() for info in reversed(self.library.recordings())]
        return {"recordings": entries, "state": self._state.part("recording")}

    def delete(self, name: str) -> concurrent.futures.Future[None]:
        """Delete a recording and its sidecar (by the writer thread while it runs).

        Returns:
            A future: None once deleted; CommandError when it is being written.
        """
        return self.writer.delete(name, queued=self.active)

    def health(self) -> ComponentHealth:
        """"recorder" in /healthz and /metrics: the state, counters, queue length."""
        part = self._state.part("recording") or {}
        counts = {**self.counters, **self.writer.counters}
        return ComponentHealth(part.get("state", "off"),
                               not self._stopped_reason and not self.writer.failing,
                               {key: counts[key] for key in COUNTERS}, self.writer.last_error,
                               {"queue_frames": float(self.writer.queued_frames),
                                "recording": 0.0 if self.writer.segment_name is None else 1.0,
                                "skipped_files": float(self.library.skipped)})

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
                    self.writer.end_clip()
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
            if not self.writer.put_frame(s, f, clip, self._clip_dropped_base):
                self.counters["frames_dropped"] += 1

    # --- what the writer thread calls --------------------------------------------------

    def _segment_changed(self) -> None:
        """A segment was opened or closed, or the writer failed or recovered: the state
        names the one being written."""
        with self._lock:
            self._publish()

    def _stopped(self, reason: str) -> None:
        """Recording stopped (the disk is full or refused): no clip until record start."""
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
        elif self.writer.failing:
            state = RecorderState.ERROR
        elif self._clip is not None:
            state = RecorderState.RECORDING
        else:
            state = RecorderState.IDLE
        self._state.set_part("recording", {
            "mode": self.settings.mode.value, "format": self.settings.format,
            "state": state.value, "trigger": self._clip and self._clip.value,
            "since": self._since, "segment": self.writer.segment_name,
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
        if self._recorder.library.resolve(name) is None:
            raise CommandError(f"no recording named {name!r}")
        return {"name": name}

    def run(self, command: dict[str, Any]) -> concurrent.futures.Future[None]:
        log.info("recording %s: deletion asked by %s", command["name"],
                 command.get(SENDER, "unknown"))
        return self._recorder.delete(command["name"])
