"""Load recorded raw Lepton frames for replay through the simulator.

:func:`load_recording` reads five kinds of recording and returns one stack of
raw frames, ``ndarray uint16 (n, rows, cols)``; :func:`load_timed_recording`
also returns each frame's capture time and FPA temperature when the file holds
them, so that a replay keeps the recorded pace (:meth:`TimedRecording.schedule_s`):

* a ``.npy`` file of shape ``(n, rows, cols)`` or ``(rows, cols)`` (no times);
* a folder of 16-bit grayscale PNG or TIFF files, one frame each, in name order
  (no times);
* a Cacophony Project ``.cptv`` thermal video (the ``cptv`` package, imported
  only when needed): version 2 gives times as the header's ``timestamp`` plus
  each frame's ``time_on`` (whole milliseconds) and the FPA temperature
  ``temp_c`` (float32, degrees C) (python-cptv ``cptv/reader.py``). Cacophony's
  own recorders put the camera's uptime in ``time_on``, so only the differences
  between times mean something there; the daemon's recorder writes the time
  since the header's ``timestamp``, so its times are Unix times;
* an HDF5 file (``.h5``, ``.hdf5``; the ``h5py`` package, imported only when
  needed) as the daemon's recorder writes it: dataset ``frames`` (n, rows, cols)
  uint16, and when present ``timestamp`` (n,) float64 Unix seconds and
  ``fpa_temp_c`` (n,) float64 degrees C (NaN: unknown).

For a replay (:func:`load_recording`) frames must have a Lepton shape, ``(60, 80)``
(Lepton 2.x) or ``(120, 160)`` (Lepton 3.x)
(FLIR Lepton Engineering Datasheet §1; docs/vospi.md §1),
because the replay source plays them through the VoSPI simulator. Values are
kept as recorded: centikelvin from a radiometric camera with TLinear on, raw
counts otherwise (:func:`lepton.radiometry.guess_unit` tells them apart).

Errors: :class:`ReplayError` (a :class:`lepton.errors.LeptonError`), with the
path and the reason.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from .errors import LeptonError
from .models import MODEL_NAMES
from .vospi import UNIQUE_FRAME_RATE_HZ

__all__ = ["HDF5_SUFFIXES", "IMAGE_SUFFIXES", "LEPTON_SHAPES", "ReplayError", "TimedRecording",
           "load_recording", "load_timed_recording", "read_timed_recording"]

# (rows, cols) of the two VoSPI frame sizes (DS §1; docs/vospi.md §1, §6).
LEPTON_SHAPES = tuple((model.rows, model.cols) for model in MODEL_NAMES)
_ALLOWED_SHAPES = " or ".join(
    f"{(model.rows, model.cols)} ({name})" for model, name in MODEL_NAMES.items()
)
IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5")
_UINT16_MAX = np.iinfo(np.uint16).max
# Pillow modes that hold 16-bit (or wider integer) grayscale pixels.
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ReplayError(LeptonError):
    """A recording cannot be used for replay.

    Attributes:
        path: the file or folder, as given.
        reason: what is wrong with it.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclasses.dataclass(frozen=True, eq=False)
class TimedRecording:
    """Recorded frames with what the file says about when they were taken.

    Attributes:
        frames: ndarray uint16 (n, rows, cols), C-contiguous, n >= 1; centikelvin or
            counts as recorded.
        timestamps_s: ndarray float64 (n,), each frame's capture time in seconds
            (Unix time for the daemon's recordings), or None when the file has no
            times (then a replay runs at the Lepton's 8.7 Hz).
        fpa_temp_c: ndarray float64 (n,), the camera's FPA temperature per frame,
            degrees C (NaN where unknown), or None when the file has none.
    """

    frames: np.ndarray
    timestamps_s: np.ndarray | None = None
    fpa_temp_c: np.ndarray | None = None

    @property
    def frame_interval_s(self) -> float:
        """The median time between frames, s (1 / 8.7 Hz without times or with one frame)."""
        if self.timestamps_s is None or len(self.timestamps_s) < 2:
            return 1 / UNIQUE_FRAME_RATE_HZ
        return float(np.median(np.diff(self.timestamps_s)))

    @property
    def length_s(self) -> float:
        """How long one pass takes, s: first to last frame plus one frame interval."""
        return self.schedule_s(len(self.frames))

    def schedule_s(self, index: int) -> float:
        """When the ``index``-th frame of an endless replay is due, s after the first.

        Index ``n`` is the first frame of the second pass, one frame interval after
        the last frame, and so on. Times that go backwards (a clock step) count as
        no time.

        Args:
            index: 0, 1, ... (may exceed the number of frames: the replay loops).
        """
        n = len(self.frames)
        passes, k = divmod(index, n)
        if self.timestamps_s is None:
            offsets = np.arange(n + 1) / UNIQUE_FRAME_RATE_HZ
        else:
            steps = np.maximum(np.diff(self.timestamps_s), 0.0)
            offsets = np.concatenate(([0.0], np.cumsum(steps), [0.0]))
            offsets[n] = offsets[n - 1] + self.frame_interval_s
        return float(passes * offsets[n] + offsets[k])


def load_recording(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a recording of raw Lepton frames.

    Args:
        path: a ``.npy``, ``.cptv``, ``.h5`` or ``.hdf5`` file, or a folder of
            16-bit ``.png``/``.tif``/``.tiff`` files (read in sorted name order;
            other files in the folder are ignored).

    Returns:
        ndarray uint16 (n, rows, cols), C-contiguous, n >= 1, (rows, cols) one
        of :data:`LEPTON_SHAPES`; values as recorded (centikelvin or counts).
        A 2-D ``.npy`` gives n = 1. Integer ``.npy`` arrays of another dtype are
        converted when every value is within 0..65535.

    Raises:
        ReplayError: as :func:`load_timed_recording`.
    """
    return load_timed_recording(path).frames


def load_timed_recording(path: str | os.PathLike[str]) -> TimedRecording:
    """Load a recording of raw Lepton frames with their times (see :class:`TimedRecording`).

    Raises:
        ReplayError: as :func:`read_timed_recording`; also when the frames are not
            a Lepton shape.
    """
    recording = read_timed_recording(path)
    shape = recording.frames.shape[1:]
    if shape not in LEPTON_SHAPES:
        raise ReplayError(
            path,
            f"frames of shape {shape} are not Lepton frames; the replay needs {_ALLOWED_SHAPES}",
        )
    return recording


def read_timed_recording(path: str | os.PathLike[str]) -> TimedRecording:
    """Read a recording of raw frames of any size, with times where the file has them.

    Raises:
        ReplayError: the path does not exist; the suffix is not supported; the
            ``.npy`` has a float, bool or out-of-range dtype or values, or is
            not 2-D or 3-D; an image is not 16-bit (8-bit, RGB, palette,
            float); images differ in shape; the folder has no image; the
            ``cptv`` or ``h5py`` package is missing or the file does not parse;
            the recording has no frames.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir():
        recording = TimedRecording(_load_image_folder(p))
    elif not p.exists():
        raise ReplayError(path, "no such file or folder")
    elif suffix == ".npy":
        recording = TimedRecording(_load_npy(p))
    elif suffix == ".cptv":
        recording = _load_cptv(p)
    elif suffix in HDF5_SUFFIXES:
        recording = _load_hdf5(p)
    else:
        raise ReplayError(
            path,
            f"unsupported file type {p.suffix!r}: use a .npy file, a .cptv file, an .h5 file "
            "or a folder of 16-bit .png/.tif files",
        )
    if recording.frames.shape[0] == 0:
        raise ReplayError(path, "the recording has no frames")
    return dataclasses.replace(
        recording, frames=np.ascontiguousarray(recording.frames, dtype=np.uint16))


def _to_uint16(path: Path, array: np.ndarray, what: str) -> np.ndarray:
    """Check an integer array fits uint16 and convert it."""
    if array.dtype == np.uint16:
        return array
    if array.dtype.kind not in "iu":
        raise ReplayError(
            path, f"{what} has dtype {array.dtype}; raw frames are integers 0..65535 (uint16)"
        )
    if array.size and (array.min() < 0 or array.max() > _UINT16_MAX):
        raise ReplayError(
            path,
            f"{what} has values {array.min()}..{array.max()}, outside 0..65535 (uint16)",
        )
    return array.astype(np.uint16)


def _load_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ReplayError(path, f"not a readable .npy array ({exc})") from exc
    if array.ndim == 2:
        array = array[np.newaxis]
    elif array.ndim != 3:
        raise ReplayError(
            path, f"array of shape {array.shape}; expected (n, rows, cols) or (rows, cols)"
        )
    return _to_uint16(path, array, "the array")


def _load_image_folder(folder: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ReplayError(folder, "no .png, .tif or .tiff files in this folder")
    frames: list[np.ndarray] = []
    for f in files:
        try:
            with Image.open(f) as image:
                mode = image.mode
                if mode not in _WIDE_MODES:
                    raise ReplayError(
                        f,
                        f"image mode {mode} is not 16-bit grayscale; a replay needs raw "
                        "16-bit frames (an 8-bit or colour picture has lost the raw values)",
                    )
                frame = np.array(image)
        except (OSError, UnidentifiedImageError) as exc:
            raise ReplayError(f, f"not a readable image ({exc})") from exc
        if frames and frame.shape != frames[0].shape:
            raise ReplayError(
                f, f"shape {frame.shape} differs from {files[0].name}'s {frames[0].shape}"
            )
        frames.append(_to_uint16(f, frame, "the image"))
    return np.stack(frames)


def _load_cptv(path: Path) -> TimedRecording:
    try:
        from cptv import CPTVReader
    except ImportError as exc:
        raise ReplayError(
            path, "reading .cptv needs the cptv package: pip install 'cptv>=1.5,<2'"
        ) from exc
    try:
        with open(path, "rb") as f:
            reader = CPTVReader(f)
            # Background frames are computed by the recorder, not captured: skip them.
            frames = [frame for frame in reader if not frame.background_frame]
            start_s = reader.timestamp.timestamp()
    # cptv raises whatever its gzip/struct parsing hits (BadGzipFile, EOFError,
    # struct.error, ValueError, ...); any of them means "not a valid .cptv".
    except Exception as exc:
        reason = f"not a readable CPTV recording ({type(exc).__name__}: {exc})"
        raise ReplayError(path, reason) from exc
    if not frames:
        return TimedRecording(np.empty((0, 0, 0), dtype=np.uint16))
    pixels = np.stack([np.array(frame.pix, dtype=np.uint16) for frame in frames])
    if frames[0].time_on is None:  # version 1: no per-frame fields
        return TimedRecording(pixels)
    times = np.array([start_s + frame.time_on.total_seconds() for frame in frames])
    fpa = np.array([frame.temp_c for frame in frames], dtype=np.float64)
    return TimedRecording(pixels, times, fpa)


def _load_hdf5(path: Path) -> TimedRecording:
    try:
        import h5py
    except ImportError as exc:
        raise ReplayError(path, "reading .h5 needs the h5py package: pip install h5py") from exc
    try:
        with h5py.File(path, "r") as f:
            frames = np.asarray(f["frames"][()])
            times = np.asarray(f["timestamp"][()], np.float64) if "timestamp" in f else None
            fpa = np.asarray(f["fpa_temp_c"][()], np.float64) if "fpa_temp_c" in f else None
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ReplayError(path, f"not a readable HDF5 recording ({exc})") from exc
    if frames.ndim != 3:
        raise ReplayError(path, f"dataset frames has shape {frames.shape}; "
                          "expected (n, rows, cols)")
    return TimedRecording(_to_uint16(path, frames, "dataset frames"), times, fpa)
