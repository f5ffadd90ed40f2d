"""thermal_streamer.control.colormaps: the thermal palettes and matplotlib's, as lookup tables."""

import numpy as np
import pytest

from thermal_streamer.control import colormaps


@pytest.mark.parametrize("name", ["ironbow", "white-hot", "inferno", "magma", "viridis", "gray"])
def test_palettes_monotone_in_luminance(name):
    """Palettes meant to read as hotter = brighter rise in luminance over all 256 entries."""
    lut = colormaps.lookup_table(name).astype(float)
    luminance = lut @ [0.2126, 0.7152, 0.0722]
    assert (np.diff(luminance) >= -0.5).all()
    black_hot = colormaps.lookup_table("black-hot").astype(float) @ [0.2126, 0.7152, 0.0722]
    assert (np.diff(black_hot) <= 0).all()


def test_thermal_palettes_shadow_matplotlib_names():
    """Our thermal 'rainbow' wins over matplotlib's; it ends white hot."""
    assert colormaps.lookup_table("rainbow")[-1].tolist() == [255, 255, 255]
    assert colormaps.is_known("ironbow") and not colormaps.is_known("ironbowz")
