"""Recording files: CPTV (default) or HDF5 segments with a JSON Lines sidecar, and reading them.

A segment writer buffers frames in memory; :meth:`SegmentWriter.flush` (once a second,
from the recorder's writer thread) puts them on disk so that the file is complete at
every moment a process can die: whatever a ``kill -9`` interrupts, the independent
readers (``cptv``'s ``CPTVReader``, ``h5py``) open the file and get every flushed frame.

**CPTV** (the Cacophony Project's thermal video; python-cptv ``cptv/reader.py`` and
``cptv/writer.py``, version 2): a gzip stream holding ``b"CPTV"``, the version byte, a
header section, then one section per frame (delta-of-delta compressed pixels, ``time_on``
and ``temp_c``). cptv's ``CPTVWriter`` writes the header only when it is closed (it then
joins a header file and the frames into a new file), so a killed writer leaves a file
without a header. We keep its encoding (``CPTVWriter.write_header`` and ``write_frame``,
its ``Compressor``) but write the header first and each flush's frames as one complete
gzip member in one ``write``; gzip readers read concatenated members as one stream
(RFC 1952 §2.2), so the file is valid after every flush. The header then lacks the frame
count, minimum and maximum (readers do not need them). cptv's writer handles 160x120
frames only (``COLS``, ``ROWS`` in ``cptv/writer.py``): a Lepton 2 (80x60) or another
size is refused (:class:`FormatError`; use HDF5). CPTV stores each frame's time as whole
milliseconds ``time_on`` after the header's ``timestamp`` (microseconds) and the FPA
temperature as float32 ``temp_c`` (0 when unknown); the exact values, the seq, the unit
and ``meta`` go to the sidecar.

**HDF5** (``h5py``): datasets ``frames`` (n, rows, cols) uint16 (chunks of one frame,
gzip level 1 with shuffle), ``timestamp`` (n,) float64 Unix seconds, ``seq`` (n,) int64,
``fpa_temp_c`` (n,) float64 degrees C (NaN: unknown) and ``meta`` (n,) JSON text;
attributes ``unit``, ``model``, ``serial``, ``source``, ``trigger``, ``start``,
``dropped``. The file is closed after every flush and opened again for the next one:
an HDF5 file open for writing is not readable after a kill (a SWMR writer's file is
refused by a plain reader: "file is already open for write"; measured here, 15 of 15
kills), while a closed one is complete (40 of 40 kills readable, no flushed frame lost).

**Sidecar** ``NAME.jsonl`` (JSON Lines, appended at each flush; a torn last line is
ignored): ``{"type": "recording", ...header}`` first; for CPTV one
``{"type": "frame", "seq", "timestamp", "fpa_temp_c", "meta"}`` per frame; one
``{"type": "flush", "frames", "dropped", "end"}`` per flush and ``{"type": "end", ...}``
at the close; ``dropped`` counts frames the recorder could not queue during the segment.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import dataclasses
import datetime
import gzip
import io
import json
import math
import os
import struct
import threading
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lepton.radiometry import PixelUnit, guess_unit
from lepton.replay import ReplayError, read_timed_recording
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.recording.policy import SIDECAR_SUFFIX, SegmentName

FORMAT_VERSION = 1
TAIL_BYTES = 16384  # the end of a sidecar read for the listing (its last flush line)


class FormatError(Exception):
    """A frame the chosen format cannot hold.

    Attributes:
        format: "cptv" or "hdf5".
        reason: what it cannot hold and what to do.
    """

    def __init__(self, format: str, reason: str):
        self.format, self.reason = format, reason
        super().__init__(f"{format}: {reason}")


@dataclasses.dataclass(frozen=True)
class SegmentHeader:
    """What a segment says about itself (the sidecar's first line, HDF5 attributes).

    Attributes:
        name: the segment's file name (:class:`SegmentName`).
        unit: the pixels' unit.
        rows, cols: the frame size, pixels.
        source: the source kind ("lepton", "simulated", "replay", ...).
        model: the camera model ("LEPTON3", ...) or "".
        serial: the camera's serial number, 0 when unknown.
    """

    name: SegmentName
    unit: PixelUnit
    rows: int
    cols: int
    source: str
    model: str = ""
    serial: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "name": self.name.name, "format": self.name.format,
                "trigger": self.name.trigger.value, "start": self.name.start_s,
                "unit": self.unit.value, "rows": self.rows, "cols": self.cols,
                "source": self.source, "model": self.model, "serial": self.serial}


def sidecar_path(path: Path) -> Path:
    """The sidecar of a recording file: ``NAME.jsonl`` beside it."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def fpa_of(frame: RawFrame) -> float | None:
    """The frame's FPA temperature (``meta["fpa_temp_c"]``), degrees C, or None."""
    value = frame.meta.get("fpa_temp_c")
    return float(value) if isinstance(value, int | float) else None


class _AppendFile:
    """A file written only at its end, each ``append`` whole or not at all.

    A failed write (ENOSPC) is cut off again (``ftruncate`` to the previous size), so
    what is on disk stays what was appended before. Not thread-safe.
    """

    def __init__(self, path: Path, create: bool = True):
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        self.path = path
        self._fd = os.open(path, flags, 0o644)
        self.size = os.fstat(self._fd).st_size

    def append(self, data: bytes) -> None:
        """Write ``data`` at the end. Raises OSError (the file is as before it)."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self.size)
            raise
        self.size += len(data)

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class Sidecar:
    """A recording's JSON Lines sidecar (see the module docstring).

    Args:
        path: ``NAME.jsonl``; created (it must not exist).
        header: the first line.
    """

    def __init__(self, path: Path, header: SegmentHeader):
        self._file = _AppendFile(path)
        self._lines: list[str] = []
        self.add({"type": "recording", **header.as_dict()})

    def add(self, line: Mapping[str, Any]) -> None:
        """Buffer one line until :meth:`flush`."""
        self._lines.append(json.dumps(line, separators=(",", ":")) + "\n")

    def flush(self) -> None:
        """Append the buffered lines and fsync. Raises OSError."""
        if self._lines:
            data = "".join(self._lines).encode()
            self._lines.clear()
            self._file.append(data)
            self._file.sync()

    @property
    def size(self) -> int:
        return self._file.size

    def close(self) -> None:
        self._file.close()


class SegmentWriter(abc.ABC):
    """One segment file being written: buffer frames, flush them, close.

    Not thread-safe (the recorder's writer thread owns it).

    Attributes:
        path: the recording file. frames: frames flushed so far.
        max_frames: the most frames the format holds in one file (None: no limit).
    """

    max_frames: int | None = None

    def __init__(self, path: Path, header: SegmentHeader):
        self.path, self.header = path, header
        self.frames = 0
        self.dropped = 0  # frames the recorder could not queue during the segment
        self.end_s: float | None = None  # the newest flushed frame's timestamp
        self.pending: list[tuple[int, RawFrame]] = []
        self.sidecar = Sidecar(sidecar_path(path), header)

    def add(self, seq: int, frame: RawFrame) -> None:
        """Buffer one frame (written at the next :meth:`flush`).

        Raises:
            FormatError: the frame's size differs from the segment's.
        """
        if frame.pixels.shape != (self.header.rows, self.header.cols):
            raise FormatError(self.header.name.format, f"frame of shape {frame.pixels.shape} "
                              f"in a {self.header.rows}x{self.header.cols} segment")
        self.pending.append((seq, frame))

    @property
    def pending_bytes(self) -> int:
        """An upper bound of what the next flush adds to the disk, bytes."""
        return sum(frame.pixels.nbytes + 512 for _, frame in self.pending) + 4096

    @property
    def bytes(self) -> int:
        """The recording file and its sidecar on disk now, bytes."""
        return self._file_bytes() + self.sidecar.size

    def flush(self, dropped: int) -> None:
        """Write the buffered frames and the sidecar's lines; the files stay readable.

        Args:
            dropped: frames the recorder could not queue since the segment started.

        Raises:
            OSError: the disk refused (the file holds what it held before).
        """
        pending, self.pending = self.pending, []
        if pending or dropped != self.dropped:
            self.dropped = dropped
            self._write(pending)
        if pending:
            self.frames += len(pending)
            self.end_s = pending[-1][1].timestamp
        self.sidecar.add({"type": "flush", "frames": self.frames, "dropped": dropped,
                          "end": self.end_s})
        self.sidecar.flush()

    def close(self, dropped: int, reason: str) -> None:
        """Flush, write the sidecar's last line and close. Raises OSError."""
        try:
            self.flush(dropped)
            self.sidecar.add({"type": "end", "frames": self.frames, "dropped": dropped,
                              "end": self.end_s, "reason": reason})
            self.sidecar.flush()
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Close without writing more (after a write error): what is on disk stays readable."""
        self.pending = []
        with contextlib.suppress(OSError):
            self.sidecar.close()
        self._close_file()

    @abc.abstractmethod
    def _write(self, frames: list[tuple[int, RawFrame]]) -> None:
        """Append ``frames`` (maybe none: the dropped count changed) to the file."""

    @abc.abstractmethod
    def _file_bytes(self) -> int: ...

    @abc.abstractmethod
    def _close_file(self) -> None: ...


class _Sections(io.BytesIO):
    """Where ``CPTVWriter`` writes its uncompressed sections (in place of its GzipFile)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name  # CPTVWriter.write_header puts its header file beside this name

    def take(self) -> bytes:
        data = self.getvalue()
        self.seek(0)
        self.truncate()
        return data


class CptvWriter(SegmentWriter):
    """A CPTV segment (see the module docstring).

    Raises:
        FormatError: the frames are not 160x120.
        OSError: the file cannot be created.
    """

    max_frames = 65535  # frame numbers and NUM_FRAMES are uint16 in the format

    def __init__(self, path: Path, header: SegmentHeader):
        from cptv.writer import COLS, ROWS, CPTVWriter

        if (header.rows, header.cols) != (ROWS, COLS):
            raise FormatError("cptv", f"cptv's writer holds {COLS}x{ROWS} frames only, not "
                              f"{header.cols}x{header.rows}: set [Recording] Format = hdf5")
        writer = CPTVWriter(io.BytesIO())  # its own gzip stream is never used
        start = datetime.datetime.fromtimestamp(header.name.start_s, datetime.UTC)
        writer.timestamp = start
        writer.brand = b"FLIR"
        writer.model = header.model.encode() or None
        writer.camera_serial = header.serial or None
        writer.device_name = b"thermal-camera"
        self._start_s = start.timestamp()  # what a reader adds time_on to (microseconds)
        self._sections = _Sections(str(path))
        writer.s = self._sections
        self._writer = writer
        self._file = _AppendFile(path)
        super().__init__(path, header)
        header_file = writer.write_header()  # a gzip file of magic, version and header
        try:
            self._file.append(Path(header_file).read_bytes())
        finally:
            os.unlink(header_file)
        self._file.sync()

    def _write(self, frames: list[tuple[int, RawFrame]]) -> None:
        from cptv.frame import Frame

        if not frames:
            return  # the dropped count is in the sidecar's flush line
        zero = datetime.timedelta(0)
        for seq, frame in frames:
            fpa = fpa_of(frame)
            time_on = datetime.timedelta(milliseconds=round((frame.timestamp - self._start_s)
                                                             * 1000))
            self._writer.write_frame(Frame(frame.pixels, time_on, zero,
                                           0.0 if fpa is None else fpa, 0.0))
            self.sidecar.add({"type": "frame", "seq": seq, "timestamp": frame.timestamp,
                              "fpa_temp_c": fpa, "meta": dict(frame.meta)})
        self._file.append(gzip.compress(self._sections.take(), compresslevel=1, mtime=0))
        self._file.sync()

    def _file_bytes(self) -> int:
        return self._file.size

    def _close_file(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


class Hdf5Writer(SegmentWriter):
    """An HDF5 segment (see the module docstring).

    Raises:
        OSError: the file cannot be created.
    """

    def __init__(self, path: Path, header: SegmentHeader):
        import h5py

        rows, cols = header.rows, header.cols
        with h5py.File(path, "w-") as f:
            f.create_dataset("frames", (0, rows, cols), np.uint16, maxshape=(None, rows, cols),
                             chunks=(1, rows, cols), compression="gzip", compression_opts=1,
                             shuffle=True)
            for name, dtype in (("timestamp", np.float64), ("seq", np.int64),
                                ("fpa_temp_c", np.float64),
                                ("meta", h5py.string_dtype("utf-8"))):
                f.create_dataset(name, (0,), dtype, maxshape=(None,), chunks=(256,))
            for key, value in header.as_dict().items():
                f.attrs[key] = value
            f.attrs["dropped"] = 0
        _fsync_path(path)
        super().__init__(path, header)

    def _write(self, frames: list[tuple[int, RawFrame]]) -> None:
        import h5py

        n, k = self.frames, len(frames)
        if not frames:
            with h5py.File(self.path, "a") as f:
                f.attrs["dropped"] = self.dropped
            _fsync_path(self.path)
            return
        columns = {
            "frames": np.stack([frame.pixels for _, frame in frames]),
            "timestamp": np.array([frame.timestamp for _, frame in frames], np.float64),
            "seq": np.array([seq for seq, _ in frames], np.int64),
            "fpa_temp_c": np.array([math.nan if (fpa := fpa_of(frame)) is None else fpa
                                    for _, frame in frames], np.float64),
            "meta": [json.dumps(dict(frame.meta), separators=(",", ":")) for _, frame in frames],
        }
        with h5py.File(self.path, "a") as f:
            for name, values in columns.items():
                dataset = f[name]
                dataset.resize(n + k, axis=0)
                dataset[n:n + k] = values
            f.attrs["dropped"] = self.dropped
        _fsync_path(self.path)

    def _file_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def _close_file(self) -> None:
        pass  # closed after every flush


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


WRITERS: dict[str, type[SegmentWriter]] = {"cptv": CptvWriter, "hdf5": Hdf5Writer}


def read_sidecar_tail(path: Path) -> dict[str, Any]:
    """The last ``flush`` or ``end`` line of a recording's sidecar ({} without one)."""
    try:
        with open(sidecar_path(path), "rb") as f:
            f.seek(max(0, f.seek(0, io.SEEK_END) - TAIL_BYTES))
            lines = f.read().splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # torn by a crash, or cut by the tail's start
        if isinstance(entry, dict) and entry.get("type") in ("flush", "end"):
            return entry
    return {}


@dataclasses.dataclass(frozen=True, eq=False)
class Recording:
    """A recording read back (:func:`read_recording`).

    Attributes:
        pixels: ndarray uint16 (n, rows, cols).
        timestamps_s: ndarray float64 (n,), capture times, Unix seconds (exact from the
            sidecar or HDF5; CPTV alone: to the millisecond; NaN when the file has none).
        fpa_temp_c: ndarray float64 (n,), degrees C, NaN where unknown.
        seq: ndarray int64 (n,), the daemon's frame numbers (-1 where unknown).
        meta: one dict per frame ({} where unknown).
        unit: the pixels' unit (the header's, else guessed from the pixels).
        header: the sidecar's or HDF5's header fields ({} for a foreign file).
    """

    pixels: np.ndarray
    timestamps_s: np.ndarray
    fpa_temp_c: np.ndarray
    seq: np.ndarray
    meta: list[dict[str, Any]]
    unit: PixelUnit
    header: dict[str, Any]


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a recording: the daemon's CPTV (with its sidecar) or HDF5, or any file the
    replay reads (a foreign CPTV, ``.npy``, a folder of 16-bit PNG/TIFF).

    Raises:
        lepton.ReplayError: the file cannot be read (see lepton.replay.read_timed_recording).
    """
    p = Path(path)
    timed = read_timed_recording(p)
    n = len(timed.frames)
    times = timed.timestamps_s if timed.timestamps_s is not None else np.full(n, math.nan)
    fpa = timed.fpa_temp_c if timed.fpa_temp_c is not None else np.full(n, math.nan)
    times, fpa = times.astype(np.float64), fpa.astype(np.float64)
    seq = np.full(n, -1, np.int64)
    meta: list[dict[str, Any]] = [{} for _ in range(n)]
    header: dict[str, Any] = {}
    if p.suffix.lower() in (".h5", ".hdf5"):
        import h5py

        with h5py.File(p, "r") as f:
            header = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
            if "seq" in f:
                seq = np.asarray(f["seq"][()], np.int64)
            if "meta" in f:
                meta = [json.loads(text) for text in f["meta"].asstr()[()]]
    elif p.is_file():
        lines = _sidecar_lines(p)
        header = next((line for line in lines if line.get("type") == "recording"), {})
        frames = [line for line in lines if line.get("type") == "frame"][:n]
        for i, line in enumerate(frames):
            times[i], seq[i] = line["timestamp"], line["seq"]
            fpa[i] = math.nan if line["fpa_temp_c"] is None else line["fpa_temp_c"]
            meta[i] = line["meta"]
    unit = PixelUnit(header["unit"]) if "unit" in header else guess_unit(timed.frames)
    return Recording(timed.frames, times, fpa, seq, meta, unit, header)


def _sidecar_lines(path: Path) -> list[dict[str, Any]]:
    """Every whole line of a recording's sidecar ([] without one)."""
    try:
        text = sidecar_path(path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # the last line, torn by a crash
        if isinstance(line, dict):
            lines.append(line)
    return lines


# -- reading frame by frame (playback: bounded memory whatever the recording's length)

GZIP_WBITS = 31  # zlib's window bits for a gzip member (RFC 1952)
READ_CHUNK = 16384  # compressed bytes read from the file at a time
OUT_CHUNK = 16384  # decompressed bytes made at a time (bounds a checkpoint's buffer)
CHECKPOINT_FRAMES = 128  # a CPTV checkpoint every this many frames (a seek decodes fewer)
CACHED_FRAMES = 16  # decoded frames kept per open recording (LRU)


class _GzipCursor:
    """The decompressed bytes of a gzip file (its members one after the other, RFC 1952
    §2.2), read forward, with checkpoints to come back to. Not thread-safe.

    The file is opened by the caller for each run of reads (:meth:`attach`), so a
    recording being deleted is not held open between requests.
    """

    def __init__(self) -> None:
        self._file: io.BufferedReader | None = None
        self._offset = 0  # compressed bytes taken from the file
        self._z = zlib.decompressobj(GZIP_WBITS)
        self._input = b""  # compressed, taken from the file, not yet decompressed
        self._out = bytearray()  # decompressed, not yet read

    def attach(self, file: io.BufferedReader | None) -> None:
        """Read from ``file`` (positioned where the cursor is) until attached to None."""
        self._file = file
        if file is not None:
            file.seek(self._offset)

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer at the end of the file). Raises zlib.error, OSError."""
        while len(self._out) < n and self._more():
            pass
        data = bytes(self._out[:n])
        del self._out[:n]
        return data

    def _more(self) -> bool:
        if self._z.eof:  # the next member starts with what follows this one
            self._input = self._z.unused_data  # (unconsumed_tail repeats it at the end)
            self._z = zlib.decompressobj(GZIP_WBITS)
        if not self._input:
            assert self._file is not None, "attach a file first"
            self._input = self._file.read(READ_CHUNK)
            self._offset += len(self._input)
            if not self._input:
                return False
        self._out += self._z.decompress(self._input, OUT_CHUNK)
        self._input = self._z.unconsumed_tail
        return True

    def checkpoint(self) -> tuple[int, Any, bytes, bytes]:
        """Where the cursor is, to :meth:`restore` (about 45 KiB: zlib's window)."""
        return self._offset, self._z.copy(), self._input, bytes(self._out)

    def restore(self, point: tuple[int, Any, bytes, bytes]) -> None:
        """Go back (or forward) to a checkpoint (which stays usable); attach again after."""
        self._offset, z, self._input, out = point
        self._z, self._out = z.copy(), bytearray(out)
        if self._file is not None:
            self._file.seek(self._offset)


@dataclasses.dataclass(frozen=True)
class _CptvCheckpoint:
    frame: int  # the index of the next frame decoded from here
    cursor: tuple[int, Any, bytes, bytes]
    linear: np.ndarray  # the decoder's running sum (the previous frame, snake order)


class LazyFrames:
    """A recording's frames read on demand: ``len``, ``shape`` (n, rows, cols) and
    ``frames[i]`` (ndarray uint16 (rows, cols)), the newest CACHED_FRAMES kept.

    Thread-safe (one lock per recording). ``frames[i]`` may block while it reads the
    file: at most CHECKPOINT_FRAMES frames are decoded for a CPTV seek.

    Raises (on ``frames[i]``):
        lepton.ReplayError: the file changed or went away since it was opened.
    """

    def __init__(self, path: Path, shape: tuple[int, int, int]):
        self.path, self.shape = path, shape
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"frame {index} of {self.shape[0]}")
        with self._lock:
            pixels = self._cache.get(index)
            if pixels is None:
                try:
                    pixels = self._read(index)
                except (OSError, EOFError, IndexError, ValueError, struct.error,
                        zlib.error) as exc:
                    raise ReplayError(self.path, f"frame {index} unreadable: "
                                      f"{type(exc).__name__}: {exc}") from exc
                pixels.flags.writeable = False
                self._cache[index] = pixels
                while len(self._cache) > CACHED_FRAMES:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(index)
            return pixels

    @property
    def cached(self) -> int:
        """How many decoded frames are kept now (at most CACHED_FRAMES)."""
        with self._lock:
            return len(self._cache)

    @abc.abstractmethod
    def _read(self, index: int) -> np.ndarray: ...


class CptvFrames(LazyFrames):
    """A CPTV file's frames (background frames skipped), decoded on demand.

    Opening decodes the file once, keeping each frame's ``time_on`` and ``temp_c`` and a
    checkpoint (the gzip state and the decoder's running sum, about 100 KiB) every
    CHECKPOINT_FRAMES frames; a frame is then decoded forward from the nearest
    checkpoint before it (or from where the last read stopped, when that is nearer),
    with cptv's own section parser and decompressor (python-cptv ``cptv/reader.py``:
    ``CPTVReader._read_section``, ``_decompress_frame``). A 300 s Lepton 3 recording
    holds about 2 MiB of checkpoints instead of 100 MB of pixels.

    Raises:
        lepton.ReplayError: not a readable CPTV file, or no frames.
    """

    def __init__(self, path: Path):
        from cptv import CPTVReader

        self._reader = CPTVReader.__new__(CPTVReader)  # its parsing, on our cursor
        self._cursor = _GzipCursor()
        self._checkpoints: list[_CptvCheckpoint] = []
        self._next = 0  # the index of the frame the cursor decodes next
        time_on: list[float] = []
        temp_c: list[float] = []
        low, high = 65535, 0
        try:
            with open(path, "rb") as f:
                self._cursor.attach(f)
                self._reader._read_header(self._cursor)
                dim = self._reader.y_resolution * self._reader.x_resolution
                self._linear = np.zeros(dim, dtype="h")
                while True:
                    if len(time_on) % CHECKPOINT_FRAMES == 0:
                        self._checkpoints.append(self._checkpoint(len(time_on)))
                    decoded = self._decode_next()
                    if decoded is None:
                        break
                    pixels, fields = decoded
                    low, high = min(low, int(pixels.min())), max(high, int(pixels.max()))
                    time_on.append(fields.get(b"t", 0) / 1000 if self._reader.version >= 2
                                   else math.nan)
                    temp_c.append(fields.get(b"a", 0.0) if self._reader.version >= 2
                                  else math.nan)
        except Exception as exc:  # cptv's parsing raises whatever it hits, as in replay
            raise ReplayError(path, f"not a readable CPTV recording "
                              f"({type(exc).__name__}: {exc})") from exc
        finally:
            self._cursor.attach(None)
        if not time_on:
            raise ReplayError(path, "the recording has no frames")
        self._next = len(time_on)
        self.start_s = self._reader.timestamp.timestamp()
        self.time_on_s = np.array(time_on, np.float64)
        self.temp_c = np.array(temp_c, np.float64)
        self.value_range = (low, high)
        super().__init__(path, (len(time_on), self._reader.y_resolution,
                                self._reader.x_resolution))

    def _checkpoint(self, frame: int) -> _CptvCheckpoint:
        return _CptvCheckpoint(frame, self._cursor.checkpoint(), self._linear.copy())

    def _decode_next(self) -> tuple[np.ndarray, dict[bytes, Any]] | None:
        """The next captured frame and its section's fields; None at the end."""
        reader = self._reader
        while True:
            try:
                kind, fields = reader._read_section(self._cursor)
            except EOFError:
                return None
            if kind != b"F":
                raise ValueError(f"unexpected section {kind!r}")
            packed = np.frombuffer(self._cursor.read(fields[b"f"]), dtype=np.uint8)
            pixels = np.asarray(reader._decompress_frame(self._linear, packed, fields[b"w"]),
                                np.uint16)
            if not fields.get(b"g", 0):  # a background frame is computed, not captured
                return pixels.reshape(reader.y_resolution, reader.x_resolution), fields

    def _read(self, index: int) -> np.ndarray:
        with open(self.path, "rb") as f:
            point = self._checkpoints[index // CHECKPOINT_FRAMES]
            if not point.frame <= self._next <= index:
                self._cursor.restore(point.cursor)
                self._linear[:] = point.linear
                self._next = point.frame
            self._cursor.attach(f)
            try:
                while True:
                    decoded = self._decode_next()
                    if decoded is None:
                        raise EOFError("the file is shorter than when it was opened")
                    self._next += 1
                    if self._next > index:
                        return decoded[0]
            except BaseException:
                self._next = -1  # the cursor is somewhere: restore before the next read
                raise
            finally:
                self._cursor.attach(None)


class Hdf5Frames(LazyFrames):
    """An HDF5 recording's ``frames`` dataset, one frame (one chunk) read per request,
    the file opened for each read (the writer closes it after every flush)."""

    def _read(self, index: int) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f["frames"][index], np.uint16)


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """Open a recording to read its frames one at a time: a :class:`Recording` whose
    ``pixels`` is a :class:`LazyFrames` for a CPTV or a uint16 HDF5 file (times, seq,
    FPA and meta read at once: a few bytes per frame); any other file is read whole
    (:func:`read_recording`).

    The unit is the header's, else guessed from the pixels' range (CPTV: all of them;
    HDF5: the first frame).

    Raises:
        lepton.ReplayError: the file cannot be read.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".cptv" and p.is_file():
        frames = CptvFrames(p)
        n = len(frames)
        times = frames.start_s + frames.time_on_s
        fpa = frames.temp_c.copy()
        seq = np.full(n, -1, np.int64)
        meta: list[dict[str, Any]] = [{} for _ in range(n)]
        lines = _sidecar_lines(p)
        header = next((line for line in lines if line.get("type") == "recording"), {})
        for i, line in enumerate([line for line in lines if line.get("type") == "frame"][:n]):
            times[i], seq[i] = line["timestamp"], line["seq"]
            fpa[i] = math.nan if line["fpa_temp_c"] is None else line["fpa_temp_c"]
            meta[i] = line["meta"]
        unit = PixelUnit(header["unit"]) if "unit" in header \
            else guess_unit(np.array(frames.value_range, np.uint16))
        return Recording(frames, times, fpa, seq, meta, unit, header)  # type: ignore[arg-type]
    if suffix in (".h5", ".hdf5") and p.is_file():
        import h5py

        try:
            with h5py.File(p, "r") as f:
                dataset = f["frames"]
                if dataset.dtype != np.uint16 or dataset.ndim != 3 or not dataset.shape[0]:
                    return read_recording(p)
                shape = tuple(int(x) for x in dataset.shape)
                n = shape[0]
                first = np.asarray(dataset[0])
                header = {k: (v.item() if isinstance(v, np.generic) else v)
                          for k, v in f.attrs.items()}

                def column(name: str, dtype: Any, default: float) -> np.ndarray:
                    return np.asarray(f[name][()], dtype) if name in f \
                        else np.full(n, default, dtype)

                times, fpa = column("timestamp", np.float64, math.nan), \
                    column("fpa_temp_c", np.float64, math.nan)
                seq = column("seq", np.int64, -1)
                meta = [json.loads(text) for text in f["meta"].asstr()[()]] if "meta" in f \
                    else [{} for _ in range(n)]
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ReplayError(p, f"not a readable HDF5 recording ({exc})") from exc
        unit = PixelUnit(header["unit"]) if "unit" in header else guess_unit(first)
        frames_h5 = Hdf5Frames(p, shape)  # type: ignore[arg-type]
        return Recording(frames_h5, times, fpa, seq, meta, unit, header)  # type: ignore[arg-type]
    return read_recording(p)
