"""server.stats_log: CSV rows of frame statistics, rotation by size."""

import csv

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from server.frames import RawFrame
from server.hub import Hub
from server.stats_log import COLUMNS, StatsLog, StatsLogError


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
    with pytest.raises(StatsLogError, match=r"^cannot append to .*/missing/s.csv: No such file or directory$"):
        StatsLog(Hub(), str(tmp_path / "missing" / "s.csv"))
