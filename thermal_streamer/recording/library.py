"""The recordings on disk in ``Recordings_Dir``: the listing, downloads, sizes, deletion and
the disk budget.

A recording is a segment file named by :class:`~thermal_streamer.recording.policy.SegmentName`
and its sidecar ``NAME.jsonl`` beside it; any other file in the folder is left alone.
Sizes come from one ``os.scandir`` of the folder (:func:`recording_sizes`): the disk check
before every flush opens no file. Only the ``/recordings.json`` listing reads each
sidecar's tail, for its frame count and duration.

Thread-safety: reading (listing, sizes, resolve) is safe from any thread; deleting is
the writer thread's (it owns the files), see :mod:`thermal_streamer.recording.writer`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from thermal_streamer.recording.formats import read_sidecar_tail, sidecar_path
from thermal_streamer.recording.policy import SIDECAR_SUFFIX, DiskPlan, SegmentName, plan_disk


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
    """

    def __init__(self, directory: Path, max_disk_mb: int, min_free_mb: int):
        self.directory, self.max_disk_mb, self.min_free_mb = directory, max_disk_mb, min_free_mb

    def sizes(self) -> list[tuple[str, int]]:
        """(name, bytes with its sidecar) of every recording, oldest first: one
        ``os.scandir`` and the stat results it brings, no file opened."""
        return recording_sizes(self._files())

    def recordings(self) -> list[RecordingInfo]:
        """Every recording, oldest first (each sidecar's tail is read: up to 16 KiB)."""
        found = []
        for name, size in self.sizes():
            segment = SegmentName.parse(name)
            assert segment is not None  # sizes() lists segments only
            found.append(recording_info(self.directory / name, segment, size))
        return found

    def resolve(self, name: str) -> Path | None:
        """The file ``/recordings/<name>`` serves, or None: only names in the listing."""
        if SegmentName.parse(name) is None:
            return None
        path = self.directory / name
        return path if path.is_file() else None

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
        """Every regular file of the folder: name -> bytes ({} when the folder cannot be read)."""
        files = {}
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    with contextlib.suppress(OSError):  # gone since the scan listed it
                        if entry.is_file():
                            files[entry.name] = entry.stat().st_size
        except OSError:
            return {}
        return files
