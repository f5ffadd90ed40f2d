"""Raw thermal frame to colour JPEG: statistics, AGC, colormap, resize, JPEG. No threads.

Every function is pure and safe to call from any thread.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image

from lepton.radiometry import PixelUnit, to_celsius

from . import colormaps

AGC_MODES = ("linear",)  # AGC modes this renderer implements
AGC_LEVELS = 256  # one AGC level per colormap entry
CENTER_SPOT = 2  # side of the centre spot in pixels (the Lepton spotmeter's default ROI is 2x2)


@dataclasses.dataclass(frozen=True)
class FrameStats:
    """Statistics of one raw frame, in display units (degrees C, or counts).

    ``min_pos`` and ``max_pos`` are ``[x, y]`` = ``[column, row]`` in raw frame
    coordinates (the first occurrence in row-major order).
    """

    min: float
    max: float
    mean: float
    center: float
    min_pos: tuple[int, int]
    max_pos: tuple[int, int]
    unit: str  # "C" or "counts"

    def as_header(self) -> dict:
        """The ``stats`` object of the ``/stream`` header."""
        return {"min": self.min, "max": self.max, "mean": self.mean, "center": self.center,
                "min_pos": list(self.min_pos), "max_pos": list(self.max_pos)}


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """How to turn a raw frame into a picture.

    Attributes:
        colormap: a matplotlib colormap name.
        scale: integer enlargement factor, 1 keeps the sensor's resolution.
        jpeg_quality: Pillow JPEG quality, 1..95.
    """

    colormap: str = "inferno"
    scale: int = 1
    jpeg_quality: int = 90


def compute_stats(pixels: np.ndarray, unit: PixelUnit) -> FrameStats:
    """Min, max, mean, centre spot and the positions of min and max.

    Args:
        pixels: ndarray uint16 (rows, cols), rows and cols >= 1.
        unit: the pixels' unit; temperatures are reported in degrees C, rounded to
            0.01, counts as they are (mean and centre rounded to 0.01).
    """
    rows, cols = pixels.shape
    flat_min, flat_max = int(pixels.argmin()), int(pixels.argmax())
    r0, c0 = max(rows // 2 - CENTER_SPOT // 2, 0), max(cols // 2 - CENTER_SPOT // 2, 0)
    spot = pixels[r0:r0 + CENTER_SPOT, c0:c0 + CENTER_SPOT]
    values = np.array([pixels.flat[flat_min], pixels.flat[flat_max],
                       pixels.mean(dtype=np.float64), spot.mean(dtype=np.float64)])
    if unit.is_temperature:
        values = to_celsius(values, unit)
        label = "C"
    else:
        label = "counts"
    low, high, mean, center = (round(float(v), 2) for v in values)
    return FrameStats(low, high, mean, center,
                      (flat_min % cols, flat_min // cols), (flat_max % cols, flat_max // cols),
                      label)


def linear_agc(pixels: np.ndarray) -> np.ndarray:
    """Map the frame's min..max linearly onto 0..255.

    Args:
        pixels: ndarray uint16 (rows, cols).

    Returns:
        ndarray uint8 (rows, cols). A constant frame maps to the middle level, 127.
    """
    low, high = int(pixels.min()), int(pixels.max())
    if high == low:
        return np.full(pixels.shape, (AGC_LEVELS - 1) // 2, np.uint8)
    scaled = (pixels.astype(np.float32) - low) * ((AGC_LEVELS - 1) / (high - low))
    return (scaled + 0.5).astype(np.uint8)


def colorize(levels: np.ndarray, colormap: str) -> np.ndarray:
    """Apply a colormap's lookup table.

    Args:
        levels: ndarray uint8 (rows, cols).
        colormap: a matplotlib colormap name.

    Returns:
        ndarray uint8 (rows, cols, 3), RGB.
    """
    return colormaps.lookup_table(colormap)[levels]


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """JPEG-encode an RGB image without chroma subsampling (colour bleeds on small images).

    Args:
        rgb: ndarray uint8 (rows, cols, 3).
        quality: 1..95.
    """
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, "JPEG", quality=quality, subsampling=0)
    return out.getvalue()


def enlarge(levels: np.ndarray, scale: int) -> np.ndarray:
    """Enlarge an AGC level image by an integer factor (bilinear), before colouring.

    Interpolating levels rather than colours keeps every output pixel on the colormap.
    """
    if scale == 1:
        return levels
    rows, cols = levels.shape
    image = Image.fromarray(levels, "L").resize((cols * scale, rows * scale), Image.BILINEAR)
    return np.asarray(image)


def render_jpeg(pixels: np.ndarray, settings: RenderSettings) -> tuple[bytes, int, int]:
    """Render a raw frame as a colour JPEG.

    Args:
        pixels: ndarray uint16 (rows, cols).
        settings: colormap, scale and quality.

    Returns:
        (jpeg bytes, width, height) with width = cols * scale, height = rows * scale.
    """
    levels = enlarge(linear_agc(pixels), settings.scale)
    jpeg = encode_jpeg(colorize(levels, settings.colormap), settings.jpeg_quality)
    return jpeg, levels.shape[1], levels.shape[0]
