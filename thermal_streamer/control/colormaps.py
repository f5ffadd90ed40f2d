"""Colormaps as 256-entry RGB lookup tables: matplotlib's registry plus thermal palettes.

The thermal palettes users of thermal cameras look for are defined here by control
points (position 0..1, RGB 0..255), linearly interpolated. They take precedence over
matplotlib colormaps of the same name (matplotlib's own ``rainbow`` is a different map).

- ``ironbow``: the hue sequence of the "iron" palette of thermal cameras (FLIR's Iron
  / Ironbow): black, indigo, purple, red, orange, yellow, near white. Luminance rises
  monotonically.
- ``rainbow``: the thermal "rainbow" (cold blue through cyan, green, yellow to red and a
  white-hot top), not monotone in luminance by design.
- ``white-hot`` / ``black-hot``: grey ramps, hot white or hot black (FLIR's WhiteHot and
  BlackHot; the Lepton's own default grey output is white-hot).
"""

from __future__ import annotations

import functools

import numpy as np

LUT_SIZE = 256

THERMAL_PALETTES: dict[str, tuple[tuple[float, tuple[int, int, int]], ...]] = {
    "ironbow": ((0.0, (0, 0, 0)), (0.12, (28, 0, 96)), (0.28, (98, 0, 148)),
                (0.45, (178, 20, 118)), (0.6, (226, 68, 40)), (0.75, (250, 138, 0)),
                (0.9, (255, 214, 40)), (1.0, (255, 255, 224))),
    "rainbow": ((0.0, (0, 0, 96)), (0.15, (0, 0, 255)), (0.32, (0, 200, 255)),
                (0.48, (0, 220, 60)), (0.64, (255, 255, 0)), (0.8, (255, 128, 0)),
                (0.93, (255, 0, 0)), (1.0, (255, 255, 255))),
    "white-hot": ((0.0, (0, 0, 0)), (1.0, (255, 255, 255))),
    "black-hot": ((0.0, (255, 255, 255)), (1.0, (0, 0, 0))),
}


def is_known(name: str) -> bool:
    """True if ``name`` is a thermal palette or in matplotlib's colormap registry."""
    if name in THERMAL_PALETTES:
        return True
    import matplotlib

    return name in matplotlib.colormaps


def names() -> list[str]:
    """The thermal palettes, then matplotlib's colormaps (without reversed ``_r`` twins)."""
    import matplotlib

    return list(THERMAL_PALETTES) + sorted(
        n for n in matplotlib.colormaps if not n.endswith("_r") and n not in THERMAL_PALETTES)


@functools.lru_cache(maxsize=64)
def lookup_table(name: str) -> np.ndarray:
    """The colormap sampled at 256 evenly spaced points.

    Returns:
        ndarray uint8 (256, 3), RGB; read-only, shared between callers.

    Raises:
        KeyError: the name is not a known colormap.
    """
    positions = np.linspace(0.0, 1.0, LUT_SIZE)
    if name in THERMAL_PALETTES:
        stops = np.array([p for p, _ in THERMAL_PALETTES[name]])
        colours = np.array([c for _, c in THERMAL_PALETTES[name]], dtype=np.float64)
        rgb = np.stack([np.interp(positions, stops, colours[:, i]) for i in range(3)], axis=1)
    else:
        import matplotlib

        rgb = matplotlib.colormaps[name](positions)[:, :3] * 255
    lut = np.round(rgb).astype(np.uint8)
    lut.setflags(write=False)
    return lut


@functools.lru_cache(maxsize=64)
def palette_bytes(name: str) -> bytes:
    """The lookup table as a Pillow palette: 768 bytes, R G B for each of the 256 levels."""
    return lookup_table(name).tobytes()
