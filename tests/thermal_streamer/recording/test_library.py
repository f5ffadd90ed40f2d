"""thermal_streamer.recording.library: the recordings folder read back from real files, and a
disk check that opens no file (Python's audit hook "open" counts every open, no mocks)."""

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.recording.formats import WRITERS, SegmentHeader, sidecar_path
from thermal_streamer.recording.library import RecordingLibrary, recording_sizes
from thermal_streamer.recording.policy import SegmentName, Trigger

START_S = 1714564800.0  # 2024-05-01 12:00:00 UTC
MB = 1024 * 1024


def record(folder: Path, start_s: float, fmt: str, trigger: Trigger, frames: int,
           close: bool = True) -> Path:
    """A real segment of ``frames`` room frames (8.7 Hz), flushed every 4, with 2 dropped."""
    name = SegmentName.at(start_s, trigger, fmt)
    writer = WRITERS[fmt](folder / name.name, SegmentHeader(name, PixelUnit.CENTIKELVIN, 120,
                                                           160, "simulated", "LEPTON3"))
    rng = np.random.default_rng(int(start_s))
    for i in range(frames):
        pixels = (29515 + rng.integers(-3, 4, (120, 160))).astype(np.uint16)
        writer.add(i + 1, RawFrame(pixels, PixelUnit.CENTIKELVIN, start_s + i / 8.7, {}))
        if i % 4 == 3:
            writer.flush(dropped=2)
    if close:
        writer.close(dropped=2, reason="clip ended")
    else:
        writer.flush(dropped=2)
    return writer.path


def on_disk(path: Path) -> int:
    """A recording's bytes as os.stat gives them: the file and its sidecar."""
    return path.stat().st_size + sidecar_path(path).stat().st_size


@pytest.fixture
def folder(tmp_path):
    """Two recordings (cptv and hdf5), a foreign file of a recording's name without a
    sidecar, a file of another name and a folder of a recording's name."""
    record(tmp_path, START_S + 60, "hdf5", Trigger.MANUAL, 6, close=False)
    record(tmp_path, START_S, "cptv", Trigger.EVENT, 9)
    (tmp_path / "20240501-115900.000-always.cptv").write_bytes(bytes(1000))
    (tmp_path / "notes.txt").write_text("not a recording")
    (tmp_path / "20240501-120500.000-always.cptv").mkdir()
    return tmp_path


def test_sizes_from_names_and_stat_sizes():
    """Recordings by name, oldest first, each with its sidecar's bytes; other files left out."""
    files = {"20240501-120000.123-event.cptv": 1000, "20240501-120000.123-event.cptv.jsonl": 50,
             "20240501-115959.000-always.h5": 700, "notes.txt": 5,
             "20240501-130000.000-manual.cptv.jsonl": 40}  # a sidecar whose file is gone
    assert recording_sizes(files) == [("20240501-115959.000-always.h5", 700),
                                      ("20240501-120000.123-event.cptv", 1050)]


def test_listing_and_sizes_after_files_are_written(folder):
    """The listing has every recording oldest first, with the bytes os.stat gives (file and
    sidecar), the frames and drops of its last flush and its duration; sizes agree."""
    cptv = folder / "20240501-120000.000-event.cptv"
    h5 = folder / "20240501-120100.000-manual.h5"
    foreign = folder / "20240501-115900.000-always.cptv"
    library = RecordingLibrary(folder, 0, 0)
    assert library.sizes() == [(foreign.name, 1000), (cptv.name, on_disk(cptv)),
                               (h5.name, on_disk(h5))]
    entries = [info.as_dict() for info in library.recordings()]
    assert entries == [
        {"name": foreign.name, "start": START_S - 60, "duration": 0.0, "frames": 0,
         "bytes": 1000, "format": "cptv", "trigger": "always", "dropped": 0},
        {"name": cptv.name, "start": START_S, "duration": round(8 / 8.7, 3), "frames": 9,
         "bytes": on_disk(cptv), "format": "cptv", "trigger": "event", "dropped": 2},
        {"name": h5.name, "start": START_S + 60, "duration": round(5 / 8.7, 3), "frames": 6,
         "bytes": on_disk(h5), "format": "hdf5", "trigger": "manual", "dropped": 2}]


class OpenCounter:
    """Counts the files this thread opens while counting (the "open" audit event)."""

    _local = threading.local()
    _installed = False

    def __init__(self) -> None:
        self.opened: list[str] = []
        if not OpenCounter._installed:  # an audit hook stays for the process: install once
            sys.addaudithook(OpenCounter._hook)
            OpenCounter._installed = True

    @staticmethod
    def _hook(event: str, args: tuple) -> None:
        counter = getattr(OpenCounter._local, "counter", None)
        if event == "open" and counter is not None:
            counter.opened.append(os.fsdecode(args[0]) if isinstance(args[0], str | bytes
                                                                     | os.PathLike) else "fd")

    def __enter__(self) -> "OpenCounter":
        OpenCounter._local.counter = self
        return self

    def __exit__(self, *exc: object) -> None:
        OpenCounter._local.counter = None


def test_the_disk_check_opens_no_file(folder):
    """The writer's check before each flush (sizes, free space, the plan) opens no file; the
    listing reads the sidecars (which shows the counter sees opens)."""
    library = RecordingLibrary(folder, 1, 0)
    with OpenCounter() as check:
        plan = library.plan(reserve_bytes=4096, keep=())
    assert check.opened == [] and not plan.full
    with OpenCounter() as listing:
        library.recordings()
    assert sorted(Path(p).name for p in listing.opened) == [
        "20240501-115900.000-always.cptv.jsonl", "20240501-120000.000-event.cptv.jsonl",
        "20240501-120100.000-manual.h5.jsonl"]


def test_plan_deletes_the_oldest_within_max_disk(folder):
    """Past Max_Disk_MB the plan names the oldest recordings first, never the one kept."""
    library = RecordingLibrary(folder, 1, 0)
    used = sum(size for _, size in library.sizes())
    plan = library.plan(reserve_bytes=MB - used + 1, keep=("20240501-115900.000-always.cptv",))
    assert plan.delete == ("20240501-120000.000-event.cptv",) and not plan.full


def test_resolve_remove_and_unused_names(folder):
    """Only recordings' names resolve; remove takes the file and its sidecar; a taken name
    moves on by a millisecond."""
    library = RecordingLibrary(folder, 0, 0)
    cptv = folder / "20240501-120000.000-event.cptv"
    assert library.resolve(cptv.name) == cptv
    for name in ("notes.txt", "../notes.txt", "20240501-120500.000-always.cptv",
                 "20240501-130000.000-always.cptv"):
        assert library.resolve(name) is None, name
    taken = SegmentName.at(START_S, Trigger.EVENT, "cptv")
    assert library.unused(taken).name == "20240501-120000.001-event.cptv"
    library.remove(cptv.name)
    library.remove(cptv.name)  # gone already: nothing to do
    assert not cptv.exists() and not sidecar_path(cptv).exists()
    assert [name for name, _ in library.sizes()] == ["20240501-115900.000-always.cptv",
                                                      "20240501-120100.000-manual.h5"]


def test_a_missing_folder_has_no_recordings(tmp_path):
    """Recordings_Dir not made yet (recording off): no recordings, nothing resolves."""
    library = RecordingLibrary(tmp_path / "none", 0, 0)
    assert library.sizes() == [] and library.recordings() == []
    assert library.resolve("20240501-120000.000-event.cptv") is None


def test_names_with_dates_that_do_not_exist_are_skipped_and_counted(tmp_path, caplog):
    """A file named like a segment but for month 13 (or 30 February) is not a recording:
    not listed, not in the disk budget, not resolved; counted, and logged once."""
    cptv = record(tmp_path, START_S, "cptv", Trigger.EVENT, 2)
    for name in ("20241399-120000.000-event.cptv", "20240230-120000.000-always.h5"):
        (tmp_path / name).write_bytes(bytes(100))
    library = RecordingLibrary(tmp_path, 0, 0)
    assert [info.name for info in library.recordings()] == [cptv.name]
    assert library.sizes() == [(cptv.name, on_disk(cptv))]
    assert library.resolve("20241399-120000.000-event.cptv") is None
    assert library.skipped == 2
    library.sizes()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"skipping 2 file(s) in {tmp_path} that are not recordings")
    assert "20240230-120000.000-always.h5, 20241399-120000.000-event.cptv" in warnings[0]


def test_symbolic_links_are_never_listed_served_or_counted_in_the_budget(tmp_path):
    """A link with a recording's name, to a file outside the folder or to a recording in
    it, is skipped: not listed, not resolved (downloads, playback), not in the sizes."""
    folder, outside = tmp_path / "recordings", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    secret = outside / "secret"
    secret.write_bytes(b"private key" * 1000)
    cptv = record(folder, START_S, "cptv", Trigger.EVENT, 2)
    (folder / "20240501-130000.000-always.cptv").symlink_to(secret)
    (folder / "20240501-140000.000-always.cptv").symlink_to(cptv)
    (folder / "20240501-150000.000-always.cptv").symlink_to(outside)
    library = RecordingLibrary(folder, 0, 0)
    assert library.sizes() == [(cptv.name, on_disk(cptv))]
    assert [info.name for info in library.recordings()] == [cptv.name]
    for name in ("20240501-130000.000-always.cptv", "20240501-140000.000-always.cptv",
                 "20240501-150000.000-always.cptv"):
        assert library.resolve(name) is None, name
    assert library.resolve(cptv.name) == cptv
    assert library.skipped == 3
    plan = library.plan(reserve_bytes=0, keep=())
    assert plan.delete == () and secret.exists()
