"""thermal_streamer.outputs.stats_log: CSV rows of frame statistics, rotation by size, a full disk,
reopening."""

import contextlib
import csv
import errno
import logging
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from tests.conftest import wait_until
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.measure.meter import Meter, measure_frame
from thermal_streamer.measure.regions import Region
from thermal_streamer.outputs.stats_log import (
    COLUMNS,
    PENDING_LIMIT_BYTES,
    StatsLog,
    StatsLogError,
    StatsLogState,
    csv_line,
)


def frame(celsius: float, fpa=None) -> RawFrame:
    pixels = np.full((4, 4), round((celsius + 273.15) * 100), np.uint16)
    return RawFrame(pixels, PixelUnit.CENTIKELVIN, 1_800_000_000.0,
                    {"fpa_temp_c": fpa} if fpa is not None else {})


def test_header_and_rows(tmp_path):
    """A header once, then time, seq, stats in C, unit and FPA temperature per frame."""
    path = tmp_path / "stats.csv"
    log = StatsLog(Hub(), str(path))
    log.write(1, frame(25.0, fpa=31.5))
    log.write(2, frame(26.0))
    log.close()
    log = StatsLog(Hub(), str(path))  # appending to an existing log adds no second header
    log.write(3, frame(27.0))
    log.close()
    rows = list(csv.reader(path.open()))
    assert rows[0] == list(COLUMNS) and len(rows) == 4
    assert rows[1][0].startswith("2027-01-15T") and rows[1][1:] == [
        "1", "25.0", "25.0", "25.0", "25.0", "C", "31.5"]
    assert rows[2][7] == "" and rows[3][1] == "3"


def test_rotation_keeps_backups(tmp_path):
    """Past max_bytes the file rotates to PATH.1, PATH.2; older ones are dropped."""
    path = tmp_path / "stats.csv"
    log = StatsLog(Hub(), str(path), max_bytes=4096, backups=2)
    for seq in range(300):
        log.write(seq, frame(20.0 + seq / 100))
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.csv", "stats.csv.1", "stats.csv.2"]
    assert all(p.stat().st_size <= 4096 for p in tmp_path.iterdir())
    assert all(p.read_text().startswith(",".join(COLUMNS)) for p in tmp_path.iterdir())
    last = list(csv.reader(path.open()))[-1]
    assert last[1] == "299"


def test_unwritable_path_is_an_error(tmp_path):
    """A path that cannot be opened raises StatsLogError naming it."""
    path = tmp_path / "missing" / "s.csv"
    with pytest.raises(StatsLogError) as error:
        StatsLog(Hub(), str(path))
    assert str(error.value) == f"cannot append to {path}: No such file or directory"
    assert (error.value.path, error.value.reason) == (str(path), "No such file or directory")


def seqs(path: Path) -> list[int]:
    """The seq column of a log file, checking that every row is whole."""
    rows = list(csv.reader(path.open(newline="")))
    assert rows[0] == list(COLUMNS) and all(len(row) == len(COLUMNS) for row in rows)
    return [int(row[1]) for row in rows[1:]]


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 1 MiB tmpfs (it fills for real); skipped where mounting is refused."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, timeout=10)
    if result.returncode:
        pytest.skip(f"cannot mount a 1 MiB tmpfs (needs root and CAP_SYS_ADMIN): "
                    f"{result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True, timeout=10)


def fill(directory: Path) -> Path:
    """Write a file in ``directory`` until its filesystem is full; return the file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as f:
        for _ in range(1024):  # 64 MiB at most: a 1 MiB filesystem is full long before
            try:
                f.write(bytes(64 * 1024))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return filler
    raise AssertionError(f"{directory} did not fill up")


def error_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "thermal_streamer.outputs.stats_log" and r.levelno >= logging.WARNING]


def test_full_disk_fails_once_keeps_rows_and_resumes(tiny_fs, caplog):
    """On a full disk rows wait; one error line, one recovery line, every row written whole."""
    path = tiny_fs / "stats.csv"
    with contextlib.closing(StatsLog(Hub(), str(path), max_bytes=1 << 30)) as log:
        log.flush()
        filler = fill(tiny_fs)
        for seq in range(200):  # about 14 KB: more than the page the file has already
            log.write(seq, frame(20.0))  # the write that reaches FLUSH_BYTES flushes, and fails
        assert (log.state, log.errors, log.last_error) == (
            StatsLogState.FAILING, 1, "No space left on device")
        log.flush()
        assert (log.state, log.errors) == (StatsLogState.FAILING, 2)
        assert error_lines(caplog) == [
            f"stats log: cannot write {path}: No space left on device; rows wait in memory (up "
            f"to {PENDING_LIMIT_BYTES // 1024} KiB, newer ones are dropped) and are written once "
            "it can be written again"]
        filler.unlink()
        log.write(200, frame(21.0))
        log.flush()
    assert (log.state, log.rows_dropped) == (StatsLogState.WRITING, 0)
    assert error_lines(caplog)[1:] == [
        f"stats log: writing {path} again (2 errors, 0 rows dropped so far)"]
    assert seqs(path) == list(range(201))


def test_rows_over_the_pending_limit_are_dropped_and_counted(tiny_fs):
    """While failing, rows beyond PENDING_LIMIT_BYTES are dropped and counted; later ones log."""
    path = tiny_fs / "stats.csv"
    row = StatsLog.row(frame(20.0), measure_frame(0, frame(20.0)))
    total = PENDING_LIMIT_BYTES // len(csv_line(row)) + 100
    with contextlib.closing(StatsLog(Hub(), str(path), max_bytes=1 << 30)) as log:
        log.flush()
        filler = fill(tiny_fs)
        for seq in range(total):
            log.write(seq, frame(20.0))
        assert log.state is StatsLogState.FAILING and log.rows_dropped > 0
        kept = total - log.rows_dropped
        filler.unlink()
        log.flush()
        log.write(total, frame(20.0))
    assert seqs(path) == [*range(kept), total]


def test_run_survives_a_full_disk_and_stops_cleanly_on_one(tiny_fs, caplog):
    """The thread keeps logging across a full disk (a log line per change of state), and
    stopping while the disk is full raises nothing and leaves only whole rows."""
    hub, path, stop = Hub(), tiny_fs / "stats.csv", threading.Event()
    log = StatsLog(hub, str(path), max_bytes=1 << 30)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            log.run(stop)
        except BaseException as exc:  # what the original did on close: recorded, then failed
            errors.append(exc)

    def publish_until(predicate) -> bool:
        return wait_until(lambda: hub.publish_source_frame(frame(20.0)) and predicate(), 10)

    thread = threading.Thread(target=run, name="stats-log-test")
    thread.start()
    try:
        assert publish_until(lambda: path.stat().st_size > 0)
        filler = fill(tiny_fs)
        assert publish_until(lambda: log.state is StatsLogState.FAILING)
        filler.unlink()
        assert publish_until(lambda: log.state is StatsLogState.WRITING)
        fill(tiny_fs)
        assert publish_until(lambda: log.state is StatsLogState.FAILING)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and errors == []
    assert log.errors >= 2 and log.rows_dropped >= 1
    assert [line.split(" ")[2] for line in error_lines(caplog)] == ["cannot", "writing", "cannot"]
    logged = seqs(path)  # the hub hands over the newest frame only: some seqs are skipped
    assert logged == sorted(set(logged)) and len(logged) > 2


def test_reopen_starts_a_new_file_after_it_was_moved(tmp_path):
    """After a rename (log rotation by another program) reopen() starts a new file with a header."""
    path = tmp_path / "stats.csv"
    log = StatsLog(Hub(), str(path))
    log.write(1, frame(20.0))
    os.rename(path, tmp_path / "stats.csv.old")
    log.write(2, frame(20.0))  # still goes to the moved file: it is open
    log.reopen()
    log.write(3, frame(20.0))
    log.close()
    log.close()
    assert seqs(tmp_path / "stats.csv.old") == [1, 2] and seqs(path) == [3]


def test_reopen_that_fails_retries_on_flush(tmp_path):
    """A reopen whose folder is gone fails (counted); the next flush once it is back resumes."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log = StatsLog(Hub(), str(folder / "stats.csv"))
    log.write(1, frame(20.0))
    log.flush()
    (folder / "stats.csv").unlink()
    folder.rmdir()
    log.reopen()
    assert (log.state, log.last_error) == (StatsLogState.FAILING, "No such file or directory")
    log.write(2, frame(20.0))
    folder.mkdir()
    with contextlib.closing(log):
        log.flush()
        assert log.state is StatsLogState.WRITING
    assert seqs(folder / "stats.csv") == [2]


def test_region_columns_and_a_new_file_when_the_regions_change(tmp_path):
    """Each region adds NAME_min, NAME_max, NAME_mean; a file holding only its header takes
    the new header; a change of names rotates, so every file has one set of columns."""
    path = tmp_path / "stats.csv"
    meter = Meter([Region.make_spot("spot", 0, 0)], lambda part: None)
    log = StatsLog(Hub(), str(path), measure=meter.measure)
    log.write(1, frame(25.0))
    log.flush()
    meter.change(lambda regions: (*regions, Region.make_spot("far", 100, 100)))  # outside
    log.write(2, frame(26.0))
    log.close()
    old = list(csv.reader((tmp_path / "stats.csv.1").open()))
    new = list(csv.reader(path.open()))
    assert old[0] == [*COLUMNS, "spot_min", "spot_max", "spot_mean"]
    assert old[1][1:] == ["1", "25.0", "25.0", "25.0", "25.0", "C", "", "25.0", "25.0", "25.0"]
    assert new[0] == [*COLUMNS, "spot_min", "spot_max", "spot_mean", "far_min", "far_max",
                      "far_mean"]
    assert new[1][8:] == ["26.0", "26.0", "26.0", "", "", ""] and len(new) == 2
    log = StatsLog(Hub(), str(path), measure=meter.measure)  # same columns: appended
    log.write(3, frame(27.0))
    log.close()
    assert [row[1] for row in csv.reader(path.open())][1:] == ["2", "3"]
    assert not (tmp_path / "stats.csv.2").exists()
