"""The whole frame's statistics: min, max, mean, the centre spot, where min and max are.

Pure and safe to call from any thread. The daemon computes them once per raw frame, in
``meter.measure_frame``, for every reader (header, alarms, stats log, MQTT).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lepton.radiometry import PixelUnit, to_celsius

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
    values = (pixels.flat[flat_min], pixels.flat[flat_max], pixels.mean(dtype=np.float64),
              spot.mean(dtype=np.float64))
    low, high, mean, center = (to_display(v, unit) for v in values)
    return FrameStats(low, high, mean, center,
                      (flat_min % cols, flat_min // cols), (flat_max % cols, flat_max // cols),
                      "C" if unit.is_temperature else "counts")


def to_display(value: float, unit: PixelUnit) -> float:
    """A pixel value in display units: degrees C (rounded to 0.01) or counts."""
    return round(float(to_celsius(value, unit)) if unit.is_temperature else float(value), 2)
