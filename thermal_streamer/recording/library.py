"""The recordings on disk in ``Recordings_Dir``: the listing, downloads, sizes, deletion and
the disk budget.

A recording is a segment file named by :class:`~thermal_streamer.recording.policy.SegmentName`
and its sidecar ``NAME.jsonl`` beside it; any other file in the folder is left alone.
Sizes come from one ``os.scandir`` of the folder (:func:`recording_sizes`): the disk check
before every flush opens no file. Only the ``/recordings.json`` listing reads each
sidecar's tail, for its frame count and duration.

Only regular files count: a symbolic link, a folder or a device with a segment's name,
and a name of a segment's form whose date does not exist (``20241399-...``), are skipped
by the listing, the disk budget, downloads and playback (:meth:`RecordingLibrary.resolve`
looks at the name itself with ``lstat``, never at what a link points to), so nothing
outside ``Recordings_Dir`` is ever served or deleted. What is skipped is counted
(:attr:`RecordingLibrary.skipped`: ``recordings_skipped`` in /healthz and /metrics) and
logged once each time the set of skipped names changes.

Thread-safety: reading (listing, sizes, resolve) is safe from any thread; deleting is
the writer thread's (it owns the files), see :mod:`thermal_streamer.recording.writer`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from thermal_streamer.recording.formats import read_sidecar_tail, sidecar_path
from thermal_streamer.recording.policy import SIDECAR_SUFFIX, DiskPlan, SegmentName, plan_disk

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RecordingInfo:
    """One entry of ``/recordings.json``.

    Attributes:
        name: the file name. start: Unix seconds. duration: seconds from the first frame
        to the last flushed one. frames: frames flushed. bytes: the file and its sidecar.
        format, trigger: from the name. dropped: frames lost during the segment.
    """

    name: str
    start: float
    duration: float
    frames: int
    bytes: int
    format: str
    trigger: str
    dropped: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def recording_sizes(files: Mapping[str, int]) -> list[tuple[str, int]]:
    """Every recording's bytes on disk, its sidecar's included, oldest first. Pure.

    Args:
        files: every regular file of the folder, name -> size in bytes (``st_size``).

    Returns:
        (name, bytes) of each file whose name is a segment's, sorted by name (which is
        time order); its sidecar ``NAME.jsonl`` adds its size when it is there.
    """
    return [(name, size + files.get(name + SIDECAR_SUFFIX, 0))
            for name, size in sorted(files.items()) if SegmentName.matches(name)]


def recording_info(path: Path, name: SegmentName, size: int) -> RecordingInfo:
    """The listing entry of one recording file of ``size`` bytes (with its sidecar), from
    its sidecar's tail (no tail, as for a foreign file: 0 frames, duration 0)."""
    tail = read_sidecar_tail(path)
    end = tail.get("end")
    duration = round(end - name.start_s, 3) if isinstance(end, int | float) else 0.0
    return RecordingInfo(path.name, name.start_s, max(duration, 0.0), int(tail.get("frames", 0)),
                         size, name.format, name.trigger.value, int(tail.get("dropped", 0)))


class RecordingLibrary:
    """The recordings in one folder, and the ``[Recording]`` limits on their disk use.

    Args:
        directory: ``Recordings_Dir`` (it may not exist: then there are no recordings).
        max_disk_mb: ``Max_Disk_MB``, MiB the recordings may use together; 0: no limit.
        min_free_mb: ``Min_Free_MB``, MiB that must stay free on the filesystem.

    Attributes:
        skipped: how many entries with a segment's form the newest scan of the folder
            skipped (links, not regular files, dates that do not exist).
    """

    def __init__(self, directory: Path, max_disk_mb: int, min_free_mb: int):
        self.directory, self.max_disk_mb, self.min_free_mb = directory, max_disk_mb, min_free_mb
        self._skip_lock = threading.Lock()
        self._skipped: frozenset[str] = frozenset()

    @property
    def skipped(self) -> int:
        """Entries skipped by the newest scan (see the class docstring)."""
        return len(self._skipped)

    def sizes(self) -> list[tuple[str, int]]:
        """(name, bytes with its sidecar) of every recording, oldest first: one
        ``os.scandir`` and the stat results it brings, no file opened."""
        return recording_sizes(self._files())

    def recordings(self) -> list[RecordingInfo]:
        """Every recording, oldest first (each sidecar's tail is read: up to 16 KiB)."""
        found = []
        for name, size in self.sizes():
            segment = SegmentName.parse(name)
            if segment is not None:  # (sizes() lists segments only)
                found.append(recording_info(self.directory / name, segment, size))
        return found

    def resolve(self, name: str) -> Path | None:
        """The file ``/recordings/<name>`` and ``/playback/<name>`` serve, or None: only
        names in the listing, each a regular file itself (a symbolic link is not
        followed, whatever it points to)."""
        if SegmentName.parse(name) is None:
            return None
        path = self.directory / name
        try:
            regular = stat.S_ISREG(path.lstat().st_mode)
        except OSError:
            return None
        return path if regular else None

    def unused(self, name: SegmentName) -> SegmentName:
        """``name``, or the first one a millisecond at a time later that no file has yet."""
        while (self.directory / name.name).exists():
            name = SegmentName.at(name.start_s + 0.001, name.trigger, name.format)
        return name

    def plan(self, reserve_bytes: int, keep: tuple[str, ...]) -> DiskPlan:
        """Which recordings to delete so that ``reserve_bytes`` more fit the limits
        (:func:`~thermal_streamer.recording.policy.plan_disk`); never ``keep``.

        Raises:
            OSError: the free space of the folder's filesystem cannot be read.
        """
        stats = os.statvfs(self.directory)
        return plan_disk(self.sizes(), stats.f_bavail * stats.f_frsize, self.max_disk_mb,
                         self.min_free_mb, keep, reserve_bytes)

    def remove(self, name: str) -> None:
        """Delete a recording and its sidecar (either may be gone already).

        Raises:
            OSError: the folder refused (permissions).
        """
        path = self.directory / name
        for p in (path, sidecar_path(path)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def _files(self) -> dict[str, int]:
        """Every regular file of the folder (not a link to one): name -> bytes ({} when
        the folder cannot be read); notes what it skipped."""
        files, skipped = {}, set()
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):  # gone since the scan listed it
                        if entry.is_file(follow_symlinks=False):
                            files[entry.name] = entry.stat(follow_symlinks=False).st_size
                            if SegmentName.looks_like(entry.name) and \
                                    not SegmentName.matches(entry.name):
                                skipped.add(entry.name)
                        elif SegmentName.looks_like(entry.name):
                            skipped.add(entry.name)
        except OSError:
            return {}
        self._note_skipped(frozenset(skipped))
        return files

    def _note_skipped(self, skipped: frozenset[str]) -> None:
        """Keep the newest scan's skipped names; log once when they change."""
        with self._skip_lock:
            changed, self._skipped = skipped != self._skipped, skipped
        if changed and skipped:
            log.warning("skipping %d file(s) in %s that are not recordings (a symbolic link, "
                        "not a regular file, or a date that does not exist): %s; move or "
                        "rename them", len(skipped), self.directory,
                        ", ".join(sorted(skipped)[:5]) + (" ..." if len(skipped) > 5 else ""))
        elif changed:
            log.info("no file in %s is skipped any more", self.directory)
