"""Load recorded raw Lepton frames for replay through the simulator.

:func:`load_recording` reads three kinds of recording and returns one stack of
raw frames, ``ndarray uint16 (n, rows, cols)``:

* a ``.npy`` file of shape ``(n, rows, cols)`` or ``(rows, cols)``;
* a folder of 16-bit grayscale PNG or TIFF files, one frame each, in name order;
* a Cacophony Project ``.cptv`` thermal video (the ``cptv`` package, imported
  only when needed).

Frames must have a Lepton shape, ``(60, 80)`` (Lepton 2.x) or ``(120, 160)``
(Lepton 3.x) (FLIR Lepton Engineering Datasheet §1; docs/vospi.md §1),
because the replay source plays them through the VoSPI simulator. Values are
kept as recorded: centikelvin from a radiometric camera with TLinear on, raw
counts otherwise (:func:`lepton.radiometry.guess_unit` tells them apart).

Errors: :class:`ReplayError` (a :class:`lepton.errors.LeptonError`), with the
path and the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .models import MODEL_NAMES
from .errors import LeptonError

__all__ = ["IMAGE_SUFFIXES", "LEPTON_SHAPES", "ReplayError", "load_recording"]

# (rows, cols) of the two VoSPI frame sizes (DS §1; docs/vospi.md §1, §6).
LEPTON_SHAPES = tuple((model.rows, model.cols) for model in MODEL_NAMES)
_ALLOWED_SHAPES = " or ".join(
    f"{(model.rows, model.cols)} ({name})" for model, name in MODEL_NAMES.items()
)
IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
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


def load_recording(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a recording of raw Lepton frames.

    Args:
        path: a ``.npy`` file, a ``.cptv`` file, or a folder of 16-bit
            ``.png``/``.tif``/``.tiff`` files (read in sorted name order; other
            files in the folder are ignored).

    Returns:
        ndarray uint16 (n, rows, cols), C-contiguous, n >= 1, (rows, cols) one
        of :data:`LEPTON_SHAPES`; values as recorded (centikelvin or counts).
        A 2-D ``.npy`` gives n = 1. Integer ``.npy`` arrays of another dtype are
        converted when every value is within 0..65535.

    Raises:
        ReplayError: the path does not exist; the suffix is not supported; the
            ``.npy`` has a float, bool or out-of-range dtype or values, or is
            not 2-D or 3-D; an image is not 16-bit (8-bit, RGB, palette,
            float); images differ in shape; the folder has no image; the
            ``cptv`` package is missing or the file does not parse; the frames
            are not a Lepton shape; the recording has no frames.
    """
    p = Path(path)
    if p.is_dir():
        frames = _load_image_folder(p)
    elif not p.exists():
        raise ReplayError(path, "no such file or folder")
    elif p.suffix.lower() == ".npy":
        frames = _load_npy(p)
    elif p.suffix.lower() == ".cptv":
        frames = _load_cptv(p)
    else:
        raise ReplayError(
            path,
            f"unsupported file type {p.suffix!r}: use a .npy file, a .cptv file "
            "or a folder of 16-bit .png/.tif files",
        )
    if frames.shape[0] == 0:
        raise ReplayError(path, "the recording has no frames")
    shape = frames.shape[1:]
    if shape not in LEPTON_SHAPES:
        raise ReplayError(
            path,
            f"frames of shape {shape} are not Lepton frames; the replay needs {_ALLOWED_SHAPES}",
        )
    return np.ascontiguousarray(frames, dtype=np.uint16)


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


def _load_cptv(path: Path) -> np.ndarray:
    try:
        from cptv import CPTVReader
    except ImportError as exc:
        raise ReplayError(
            path, "reading .cptv needs the cptv package: pip install 'cptv>=1.5,<2'"
        ) from exc
    try:
        with open(path, "rb") as f:
            # Background frames are computed by the recorder, not captured: skip them.
            frames = [
                np.array(frame.pix, dtype=np.uint16)
                for frame in CPTVReader(f)
                if not frame.background_frame
            ]
    # cptv raises whatever its gzip/struct parsing hits (BadGzipFile, EOFError,
    # struct.error, ValueError, ...); any of them means "not a valid .cptv".
    except Exception as exc:
        reason = f"not a readable CPTV recording ({type(exc).__name__}: {exc})"
        raise ReplayError(path, reason) from exc
    if not frames:
        return np.empty((0, 0, 0), dtype=np.uint16)
    return np.stack(frames)
