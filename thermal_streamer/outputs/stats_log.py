"""Temperature logging: one CSV row per unique raw frame, flushed every second, rotated by size.

Columns: ``time`` (ISO 8601 with milliseconds and UTC offset), ``seq``, ``min``,
``max``, ``mean``, ``center`` (degrees C for radiometric frames, counts otherwise),
``unit``, ``fpa_temp_c`` (the camera's sensor temperature from telemetry, empty when
unknown), then ``<name>_min``, ``<name>_max``, ``<name>_mean`` for each measurement
region (empty when the region lies outside the frame). When the file would grow past
``max_bytes`` it is renamed to ``PATH.1`` (older ones to ``PATH.2`` ... up to
``backups``) and a new file with a header starts; so does a change of the regions'
names (one added, renamed or deleted), so that every file has one set of columns.

A full disk or any other write error does not stop the log: rows wait in memory (up to
``PENDING_LIMIT_BYTES``; newer ones are dropped and counted) and are written, from where
the failed write stopped, once the file can be written again (retried every second).
The change to failing and the recovery are logged once each. :meth:`StatsLog.reopen`
starts a new file at the same path (for log rotation by another program, on SIGHUP).
"""

from __future__ import annotations

import collections
import csv
import datetime
import enum
import errno
import io
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence

from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.health import ComponentHealth
from thermal_streamer.core.hub import Hub
from thermal_streamer.measure.meter import FrameMeasurement, Measure, measure_frame
from thermal_streamer.measure.regions import STATS

log = logging.getLogger(__name__)

COLUMNS = ("time", "seq", "min", "max", "mean", "center", "unit", "fpa_temp_c")
FLUSH_INTERVAL_S = 1.0  # rows reach the file (or the write is retried) this often
FLUSH_BYTES = 8192  # or as soon as this many bytes wait, while writing works
PENDING_LIMIT_BYTES = 64 * 1024  # rows kept while the file cannot be written (~90 s at 9 Hz)


class StatsLogError(Exception):
    """The log file cannot be opened for appending.

    Attributes:
        path: the file.
        reason: the system's words (``strerror``).
    """

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"cannot append to {path}: {reason}")


class StatsLogState(enum.Enum):
    """Whether rows reach the file."""

    WRITING = "writing"
    FAILING = "failing"  # the last write, open or rotation failed; retried every second


def csv_line(values: Iterable[object]) -> bytes:
    """One CSV line (CR LF at its end, as :mod:`csv` writes it), UTF-8."""
    text = io.StringIO()
    csv.writer(text).writerow(values)
    return text.getvalue().encode()


class HeaderLine(bytes):
    """A file's header line, among the rows waiting to be written (not a row)."""


class NewColumns:
    """Among the rows waiting: the rows after this one have other columns (a new file).

    Attributes:
        header: the header line of those rows.
    """

    def __init__(self, header: HeaderLine):
        self.header = header


def header_line(region_names: Sequence[str] = ()) -> HeaderLine:
    """The header: COLUMNS, then NAME_min, NAME_max, NAME_mean per region."""
    return HeaderLine(csv_line((*COLUMNS, *(f"{name}_{stat}" for name in region_names
                                             for stat in STATS))))


HEADER = header_line()


class StatsLog:
    """Appends frame statistics to a CSV file from a thread of its own.

    Thread-safe: :meth:`reopen` may be called from any thread (it may block for as
    long as a write in progress takes).

    Args:
        hub: frames are read from ``hub.raw`` (every unique frame, watched or not).
        path: the CSV file; opened (created if needed) at once.
        max_bytes: rotate when the file would grow past this size, bytes.
        backups: rotated files kept (PATH.1 .. PATH.N), >= 0.
        measure: (seq, frame) -> the frame's measurement (``Meter.measure``, shared with
            the other readers; its regions are the region columns); by default the whole
            frame is measured here, with no region columns.

    Attributes:
        state: :class:`StatsLogState`, WRITING or FAILING.
        errors: failed writes, opens and rotations since start (a failing file is
            retried, and counted, every second).
        rows_dropped: rows that never reached the file (over ``PENDING_LIMIT_BYTES``
            while failing, or still waiting when closed).
        last_error: the last error's text ("No space left on device"), "" before any.

    Raises:
        StatsLogError: the file cannot be opened for appending.
    """

    def __init__(self, hub: Hub, path: str, max_bytes: int = 10 << 20, backups: int = 3,
                 measure: Measure = measure_frame):
        self._hub, self.path, self._max_bytes, self._backups = hub, path, max_bytes, backups
        self._measure = measure
        self._lock = threading.Lock()
        self._pending: collections.deque[bytes | NewColumns] = collections.deque()  # oldest first
        self._file_header = HEADER  # the header of the file open now (or to be opened)
        self._queued_header = HEADER  # the header of the rows queued last
        self._pending_bytes = 0
        self._partial = False  # the first pending row is partly in the file already
        self._row_start = 0  # where in the file the first pending row begins, bytes
        self._size = 0  # bytes in the file
        self.state = StatsLogState.WRITING
        self.errors = self.rows_dropped = 0
        self.last_error = ""
        try:
            self._file: io.FileIO | None = self._open()
        except OSError as exc:
            raise StatsLogError(path, exc.strerror or str(exc)) from None

    def _open(self) -> io.FileIO:
        """Open the path for appending; an empty file gets the header first.

        Raises:
            OSError: it cannot be opened.
        """
        file = io.FileIO(self.path, "a")
        self._size = os.fstat(file.fileno()).st_size
        if self._size == 0:
            self._pending.appendleft(self._file_header)
            self._pending_bytes += len(self._file_header)
        else:
            with open(self.path, "rb") as existing:
                self._file_header = HeaderLine(existing.readline(PENDING_LIMIT_BYTES))
        return file

    def _rotate(self) -> None:
        """Close the file, shift the backups and open a new file. Raises OSError."""
        self._close_file()
        for n in range(self._backups - 1, 0, -1):
            if os.path.exists(f"{self.path}.{n}"):
                os.replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
        if self._backups:
            os.replace(self.path, f"{self.path}.1")
        else:
            os.remove(self.path)
        self._file = self._open()

    def _close_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()

    @staticmethod
    def row(frame: RawFrame, measurement: FrameMeasurement) -> list:
        """The CSV row of one frame from its measurement (seq, time, statistics, regions)."""
        stats = measurement.frame
        when = datetime.datetime.fromtimestamp(measurement.timestamp).astimezone()
        return [when.isoformat(timespec="milliseconds"), measurement.seq, stats.min, stats.max,
                stats.mean, stats.center, stats.unit, frame.meta.get("fpa_temp_c", ""),
                *(value for r in measurement.regions.values()
                  for value in (("",) * len(STATS) if r is None else
                                [getattr(r, stat) for stat in STATS]))]

    def write(self, seq: int, frame: RawFrame) -> None:
        """Queue one frame's row; written at the next :meth:`flush`, or at once when
        ``FLUSH_BYTES`` wait and the file is writable. Never raises: a row that finds
        ``PENDING_LIMIT_BYTES`` waiting is dropped and counted."""
        measurement = self._measure(seq, frame)
        line = csv_line(self.row(frame, measurement))
        header = header_line(list(measurement.regions))
        with self._lock:
            if self._pending_bytes + len(line) > PENDING_LIMIT_BYTES:
                self.rows_dropped += 1
                return
            if header != self._queued_header:
                self._pending.append(NewColumns(header))
                self._queued_header = header
            self._pending.append(line)
            self._pending_bytes += len(line)
            if self._pending_bytes >= FLUSH_BYTES and self.state is StatsLogState.WRITING:
                self._flush()

    def flush(self) -> None:
        """Write every waiting row (rotating past ``max_bytes``). Never raises: an error
        sets FAILING (logged once), the rows keep waiting and the next call resumes
        where this one stopped; success after failing sets WRITING (logged once)."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        try:
            if self._file is None:
                self._file = self._open()
            while self._pending:
                line = self._pending[0]
                if isinstance(line, NewColumns):
                    self._start_columns()
                    continue
                if not self._partial and self._size > len(self._file_header) \
                        and self._size + len(line) > self._max_bytes:
                    self._rotate()
                    continue  # the new file's header is first now
                if not self._partial:
                    self._row_start = self._size
                written = self._file.write(line)  # a full disk may take part of it
                if not written:  # None: would block (not a regular file); 0: no progress
                    raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
                self._size += written
                self._pending_bytes -= written
                self._partial = written < len(line)
                if self._partial:
                    self._pending[0] = line[written:]
                else:
                    self._pending.popleft()
        except OSError as exc:
            self._failed(exc)
            return
        if self.state is StatsLogState.FAILING:
            self.state = StatsLogState.WRITING
            log.warning("stats log: writing %s again (%d errors, %d rows dropped so far)",
                        self.path, self.errors, self.rows_dropped)

    def _start_columns(self) -> None:
        """Take the NewColumns first in line: the rows after it go to a file with its
        header. A file that holds only its header gets the new header instead; any
        other file is rotated. Raises OSError."""
        assert self._file is not None
        marker = self._pending.popleft()
        assert isinstance(marker, NewColumns)
        if marker.header == self._file_header:
            return
        holds_only_header = self._size == len(self._file_header)
        self._file_header = marker.header
        if self._size and not holds_only_header:
            self._rotate()  # the new file's header is queued first
            return
        self._file.truncate(0)
        self._size = 0
        self._pending.appendleft(marker.header)
        self._pending_bytes += len(marker.header)

    def _failed(self, exc: OSError) -> None:
        self.errors += 1
        self.last_error = exc.strerror or str(exc)
        if self.state is StatsLogState.WRITING:
            self.state = StatsLogState.FAILING
            log.error("stats log: cannot write %s: %s; rows wait in memory (up to %d KiB, "
                      "newer ones are dropped) and are written once it can be written again",
                      self.path, self.last_error, PENDING_LIMIT_BYTES // 1024)

    def _drop_partial(self) -> None:
        """Cut a row that is partly in the file out of it, and drop it (before the file is
        closed: every row in a file is whole). Raises OSError (the cut failed)."""
        if self._partial and self._file is not None:
            self._file.truncate(self._row_start)
            self._size = self._row_start
            dropped = self._pending.popleft()
            assert isinstance(dropped, bytes)
            self._pending_bytes -= len(dropped)
            self._partial = False
            self.rows_dropped += 1

    def health(self) -> ComponentHealth:
        """Whether rows reach the file, with the error and drop counts (for /healthz)."""
        return ComponentHealth(self.state.value, self.state is StatsLogState.WRITING,
                               {"errors": self.errors, "rows_dropped": self.rows_dropped},
                               self.last_error)

    def reopen(self) -> None:
        """Write what waits, close the file and open the path again (a new file with a
        header if another program moved it away). Never raises: an error sets FAILING
        and the open is retried with every :meth:`flush`."""
        with self._lock:
            self._flush()
            try:
                self._drop_partial()
                self._close_file()
                self._file = self._open()
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        """Write what waits and close the file; rows that cannot be written are dropped
        and counted (a row the disk took part of is cut out again). Idempotent; never
        raises."""
        with self._lock:
            self._flush()
            try:
                self._drop_partial()
                self._close_file()
            except OSError as exc:
                self._failed(exc)
            self.rows_dropped += sum(isinstance(line, bytes) and not isinstance(line, HeaderLine)
                                     for line in self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            self._partial = False

    def run(self, stop: threading.Event) -> None:
        """Log every new raw frame until ``stop`` is set; then write what waits and close.
        Survives write errors (see :meth:`flush`)."""
        seq, last_flush = 0, time.monotonic()
        try:
            while not stop.is_set():
                item = self._hub.raw.wait_newer(seq, FLUSH_INTERVAL_S / 2)
                if item is not None:
                    seq, frame = item
                    if isinstance(frame, RawFrame):
                        self.write(seq, frame)
                if time.monotonic() - last_flush >= FLUSH_INTERVAL_S:
                    self.flush()
                    last_flush = time.monotonic()
        finally:
            self.close()
