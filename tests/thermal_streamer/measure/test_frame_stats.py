"""thermal_streamer.measure.frame_stats: the whole frame's statistics, their units and positions."""

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from thermal_streamer.measure.frame_stats import compute_stats

CK_20C = 29315  # 20.00 C in centikelvin


def test_stats_positions_and_units():
    """min/max/mean/centre in C for centikelvin, positions as [x, y] of the raw frame."""
    pixels = np.full((120, 160), CK_20C, np.uint16)
    pixels[10, 20] = CK_20C - 500  # 15 C
    pixels[100, 150] = CK_20C + 1500  # 35 C
    pixels[59:61, 79:81] = CK_20C + 1000  # 30 C centre spot (2x2)
    stats = compute_stats(pixels, PixelUnit.CENTIKELVIN)
    assert (stats.min, stats.max, stats.center, stats.unit) == (15.0, 35.0, 30.0, "C")
    assert stats.min_pos == (20, 10) and stats.max_pos == (150, 100)
    assert stats.mean == pytest.approx(20 + (-5 + 15 + 4 * 10) / 19200, abs=0.01)
    counts = compute_stats(pixels, PixelUnit.COUNTS)
    assert (counts.min, counts.max, counts.unit) == (CK_20C - 500, CK_20C + 1500, "counts")
