"""Playing a recording back to one viewer: its frames as ``/stream`` messages, on request.

A viewer that opens a recording asks for its index, then for one frame at a time, as its
own clock (play, pause, speed, seek) wants them; the page decodes each answer exactly as
it decodes a live frame. Nothing is shared with the live frames: no hub, no slot, no
thread, no state change, and the regions are measured apart (``detached_header_part``),
so the other viewers, ``/healthz``, the alarms and the recorder notice nothing.

Paths, served as ``HttpServer`` data routes under PLAYBACK_PREFIX (docs/protocol.md §4.2)::

    /playback/NAME      JSON index: name, start, duration, frames, fps, unit, rows, cols,
                        times (each frame's offset from the first, s)
    /playback/NAME/I    frame I (0-based) as a /stream?raw=1 binary message, rendered
                        with the current render settings; header "source": "recording"
                        and "playback": {"name", "frame", "frames", "offset_s"}

The pure part (:func:`frame_offsets`, :func:`playback_rate_hz`, :func:`parse_request`,
:class:`PlaybackClip`) is tested value by value; :class:`Playback` is the shell that
opens files (through a small cache), decodes the frames asked for and renders.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lepton import ReplayError
from lepton.vospi import UNIQUE_FRAME_RATE_HZ
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.recording.formats import Recording, open_recording
from thermal_streamer.recording.policy import SegmentName
from thermal_streamer.render.renderer import HeaderPart, render_frame

log = logging.getLogger(__name__)

PLAYBACK_PREFIX = "/playback/"
SOURCE_KIND = "recording"  # the header's "source" of a played-back frame
JSON_TYPE = "application/json"
FRAME_TYPE = "application/octet-stream"
CACHED_RECORDINGS = 4  # recordings kept open (a 300 s Lepton 3 CPTV: about 3 MB each)
MAX_INDEX_DIGITS = 9


def frame_offsets(timestamps_s: np.ndarray) -> np.ndarray:
    """Each frame's time after the first, s, never decreasing (a clock step back counts as
    no time); frames ``1 / 8.7 Hz`` apart when any time is unknown (NaN).

    Args:
        timestamps_s: ndarray float64 (n,), Unix seconds or NaN.

    Returns:
        ndarray float64 (n,), the first 0.0.
    """
    times = np.asarray(timestamps_s, np.float64)
    if len(times) == 0 or not np.isfinite(times).all():
        return np.arange(len(times), dtype=np.float64) / UNIQUE_FRAME_RATE_HZ
    return np.maximum.accumulate(times - times[0])


def playback_rate_hz(offsets_s: np.ndarray) -> float:
    """The recording's mean frame rate, Hz, 2 decimals (8.7 for a single frame or no span)."""
    if len(offsets_s) < 2 or not offsets_s[-1] > 0:
        return UNIQUE_FRAME_RATE_HZ
    return round((len(offsets_s) - 1) / float(offsets_s[-1]), 2)


def parse_request(rest: str) -> tuple[str, int | None] | None:
    """Split the path after PLAYBACK_PREFIX: ``NAME`` -> (NAME, None) (the index),
    ``NAME/I`` -> (NAME, I) (a frame); None for anything else."""
    name, slash, index = rest.partition("/")
    if not name:
        return None
    if not slash:
        return name, None
    if not (index.isascii() and index.isdigit()) or len(index) > MAX_INDEX_DIGITS:
        return None
    return name, int(index)


@dataclasses.dataclass(frozen=True, eq=False)
class PlaybackClip:
    """A recording as played back: its frames, their offsets and its start.

    Attributes:
        name: the recording's file name.
        recording: what :func:`open_recording` opened (its pixels read on demand).
        offsets_s: ndarray float64 (n,), :func:`frame_offsets` of its times.
        start_s: the first frame's time, Unix s (the name's start when the file has none).
    """

    name: str
    recording: Recording
    offsets_s: np.ndarray
    start_s: float

    @classmethod
    def of(cls, name: str, recording: Recording) -> PlaybackClip:
        """The clip of a recording opened from the file ``name``."""
        first = float(recording.timestamps_s[0]) if len(recording.timestamps_s) else math.nan
        if not math.isfinite(first):
            parsed = SegmentName.parse(name)
            first = parsed.start_s if parsed is not None else 0.0
        return cls(name, recording, frame_offsets(recording.timestamps_s), first)

    @property
    def frames(self) -> int:
        """How many frames it has."""
        return len(self.offsets_s)

    def index(self) -> dict[str, Any]:
        """The ``/playback/NAME`` document (times rounded to the millisecond)."""
        rows, cols = self.recording.pixels.shape[1:]
        return {"name": self.name, "start": self.start_s,
                "duration": round(float(self.offsets_s[-1]), 3), "frames": self.frames,
                "fps": playback_rate_hz(self.offsets_s), "unit": self.recording.unit.value,
                "rows": rows, "cols": cols,
                "times": [round(float(t), 3) for t in self.offsets_s]}

    def frame(self, index: int) -> tuple[int, RawFrame]:
        """Frame ``index`` (0 <= index < frames) as (seq, RawFrame): the recorded seq
        (the index when unknown) and time (start plus offset when unknown)."""
        recording = self.recording
        seq = int(recording.seq[index])
        timestamp = float(recording.timestamps_s[index])
        if not math.isfinite(timestamp):
            timestamp = self.start_s + float(self.offsets_s[index])
        meta = recording.meta[index]
        return (seq if seq >= 0 else index,
                RawFrame(recording.pixels[index], recording.unit, timestamp, meta))

    def header_part(self, index: int) -> dict[str, Any]:
        """The header's ``playback`` field for frame ``index``."""
        return {"playback": {"name": self.name, "frame": index, "frames": self.frames,
                             "offset_s": round(float(self.offsets_s[index]), 3)}}


class Playback:
    """Answers ``/playback/...`` (an HttpServer data route): one recording's index or frame.

    Thread-safe: HTTP handler threads call :meth:`answer` at once. Opening a recording
    (one pass over it, keeping its times and a few checkpoints, never its pixels) holds
    a lock (other playback requests wait; live frames never do); the newest
    CACHED_RECORDINGS stay open, opened again when the file changed (one being written
    grows). A frame is decoded when asked for (:func:`open_recording`), the newest
    few kept per recording, so a request costs at most a few MB whatever the
    recording's length (docs/performance.md).

    Args:
        resolve: a recording's name -> its file, or None when the name is not one
            (``Recorder.resolve``).
        settings: the render settings now (``AcquisitionState.render_settings``).
        header_parts: more header fields per frame (the regions, measured apart).
    """

    def __init__(self, resolve: Callable[[str], Path | None],
                 settings: Callable[[], RenderSettings], header_parts: Sequence[HeaderPart] = ()):
        self._resolve, self._settings = resolve, settings
        self._header_parts = tuple(header_parts)
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[str, tuple[tuple[int, int], PlaybackClip]] = \
            collections.OrderedDict()

    def answer(self, rest: str) -> tuple[str, bytes] | None:
        """(content type, body) for the path after PLAYBACK_PREFIX; None for 404 (not a
        recording, unreadable, or no such frame)."""
        request = parse_request(rest)
        clip = None if request is None else self.clip(request[0])
        if request is None or clip is None:
            return None
        index = request[1]
        if index is None:
            return JSON_TYPE, json.dumps(clip.index()).encode()
        if index >= clip.frames:
            return None
        try:
            seq, frame = clip.frame(index)
        except ReplayError as exc:  # the file changed under the clip: opened again next time
            log.info("cannot play %s back: %s", clip.name, exc)
            with self._lock:
                self._cache.pop(clip.name, None)
            return None
        parts = (*self._header_parts, lambda _seq, _frame: clip.header_part(index))
        encoded = render_frame(seq, frame, self._settings(), SOURCE_KIND,
                               playback_rate_hz(clip.offsets_s), parts)
        return FRAME_TYPE, encoded.stream_message_raw

    def clip(self, name: str) -> PlaybackClip | None:
        """The recording ``name`` read (from the cache while its file is unchanged), or None."""
        path = self._resolve(name)
        if path is None:
            return None
        with self._lock:
            try:
                status = os.stat(path)
                version = (status.st_size, status.st_mtime_ns)
                cached = self._cache.get(name)
                if cached is not None and cached[0] == version:
                    self._cache.move_to_end(name)
                    return cached[1]
                clip = PlaybackClip.of(name, open_recording(path))
            except (OSError, ReplayError) as exc:
                log.info("cannot play %s back: %s", name, exc)
                return None
            self._cache[name] = (version, clip)
            while len(self._cache) > CACHED_RECORDINGS:
                self._cache.popitem(last=False)
            return clip
