"""Colormaps as 256-entry RGB lookup tables, from matplotlib's registry."""

from __future__ import annotations

import functools

import numpy as np

LUT_SIZE = 256


def is_known(name: str) -> bool:
    """True if ``name`` is in matplotlib's colormap registry."""
    import matplotlib

    return name in matplotlib.colormaps


@functools.lru_cache(maxsize=32)
def lookup_table(name: str) -> np.ndarray:
    """The colormap sampled at 256 evenly spaced points.

    Returns:
        ndarray uint8 (256, 3), RGB; read-only, shared between callers.

    Raises:
        KeyError: the name is not a known colormap.
    """
    import matplotlib

    cmap = matplotlib.colormaps[name]
    rgba = cmap(np.linspace(0.0, 1.0, LUT_SIZE))
    lut = np.round(rgba[:, :3] * 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut
