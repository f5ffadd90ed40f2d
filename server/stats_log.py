"""Temperature logging: one CSV row per unique raw frame, flushed every second, rotated by size.

Columns: ``time`` (ISO 8601 with milliseconds and UTC offset), ``seq``, ``min``,
``max``, ``mean``, ``center`` (degrees C for radiometric frames, counts otherwise),
``unit``, ``fpa_temp_c`` (the camera's sensor temperature from telemetry, empty when
unknown). When the file would grow past ``max_bytes`` it is renamed to ``PATH.1``
(older ones to ``PATH.2`` ... up to ``backups``) and a new file with a header starts.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import os
import threading
import time

from .frames import RawFrame
from .hub import Hub
from .pipeline import compute_stats

log = logging.getLogger(__name__)

COLUMNS = ("time", "seq", "min", "max", "mean", "center", "unit", "fpa_temp_c")
FLUSH_INTERVAL_S = 1.0


class StatsLogError(Exception):
    """The log file cannot be opened for appending; the message says why."""


class StatsLog:
    """Appends frame statistics to a CSV file from a thread of its own.

    Args:
        hub: frames are read from ``hub.raw`` (every unique frame, watched or not).
        path: the CSV file; opened (created if needed) at once.
        max_bytes: rotate when the file would grow past this size.
        backups: rotated files kept (PATH.1 .. PATH.N).

    Raises:
        StatsLogError: the file cannot be opened for appending.
    """

    def __init__(self, hub: Hub, path: str, max_bytes: int = 10 << 20, backups: int = 3):
        self._hub, self.path, self._max_bytes, self._backups = hub, path, max_bytes, backups
        self._file = self._open()

    def _open(self) -> io.TextIOWrapper:
        try:
            file = open(self.path, "a", newline="", encoding="utf-8")
        except OSError as exc:
            raise StatsLogError(f"cannot append to {self.path}: {exc.strerror}") from None
        if file.tell() == 0:
            csv.writer(file).writerow(COLUMNS)
        return file

    def _rotate(self) -> None:
        self._file.close()
        for n in range(self._backups - 1, 0, -1):
            if os.path.exists(f"{self.path}.{n}"):
                os.replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
        if self._backups:
            os.replace(self.path, f"{self.path}.1")
        else:
            os.remove(self.path)
        self._file = self._open()

    @staticmethod
    def row(seq: int, frame: RawFrame) -> list:
        """The CSV row of one frame."""
        stats = compute_stats(frame.pixels, frame.unit)
        when = datetime.datetime.fromtimestamp(frame.timestamp).astimezone()
        return [when.isoformat(timespec="milliseconds"), seq, stats.min, stats.max, stats.mean,
                stats.center, stats.unit, frame.meta.get("fpa_temp_c", "")]

    def write(self, seq: int, frame: RawFrame) -> None:
        """Append one frame's row, rotating first if the file would grow past max_bytes.

        Raises:
            OSError: the file cannot be written or rotated.
        """
        text = io.StringIO()
        csv.writer(text).writerow(self.row(seq, frame))
        if self._file.tell() + len(text.getvalue()) > self._max_bytes:
            self._rotate()
        self._file.write(text.getvalue())

    def close(self) -> None:
        """Flush and close the file. Idempotent."""
        self._file.close()

    def run(self, stop: threading.Event) -> None:
        """Log every new raw frame until ``stop`` is set; then flush and close."""
        seq, last_flush = 0, time.monotonic()
        try:
            while not stop.is_set():
                item = self._hub.raw.wait_newer(seq, FLUSH_INTERVAL_S / 2)
                if item is not None:
                    seq, frame = item
                    if isinstance(frame, RawFrame):
                        self.write(seq, frame)
                if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                    self._file.flush()
                    last_flush = time.monotonic()
        except OSError as exc:
            log.error("stats log stopped: cannot write %s: %s", self.path, exc.strerror)
        finally:
            self.close()
