"""A believable synthetic thermal scene for the simulated Lepton. Pure numpy.

A room at about 22 C with a gentle vertical gradient (warmer ceiling), a warm
radiator strip, two people (about 34 C skin, cooler clothing) walking slowly on
smooth paths, and per-frame sensor noise (NETD about 50 mK, the Lepton's < 50 mK).
"""

from __future__ import annotations

import math

import numpy as np

KELVIN_OFFSET_CK = 27315  # 0 C in centikelvin
ROOM_C = 22.0
SKIN_C = 34.0
CLOTHES_C = 29.0
RADIATOR_C = 38.0
NOISE_K = 0.05


def celsius_to_ck(celsius: float) -> float:
    return celsius * 100.0 + KELVIN_OFFSET_CK


class ThermalScene:
    """Radiometric frames of a room with moving warm bodies.

    Args:
        rows, cols: frame size (120x160 for a Lepton 3, 60x80 for a Lepton 2).
        seed: noise seed, for repeatable frames.
    """

    def __init__(self, rows: int = 120, cols: int = 160, seed: int = 0):
        self.rows, self.cols = rows, cols
        self._rng = np.random.default_rng(seed)
        y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
        self._y, self._x = y / rows, x / cols  # 0..1
        self._room = (celsius_to_ck(ROOM_C) + 150.0 * (0.5 - self._y)).astype(np.float32)
        radiator = (self._y > 0.75) & (self._y < 0.9) & (self._x > 0.86) & (self._x < 0.97)
        self._background = np.where(radiator, celsius_to_ck(RADIATOR_C), self._room)

    def _blob(self, image: np.ndarray, cx: float, cy: float, rx: float, ry: float,
              celsius: float) -> None:
        """Paint a soft-edged warm ellipse (centre and radii in 0..1 frame units)."""
        d = np.sqrt(((self._x - cx) / rx) ** 2 + ((self._y - cy) / ry) ** 2)
        weight = np.clip((1.15 - d) / 0.3, 0.0, 1.0)  # 1 inside, fading over the edge
        np.maximum(image, self._room + (celsius_to_ck(celsius) - self._room) * weight, out=image)

    def _person(self, image: np.ndarray, cx: float, cy: float, size: float) -> None:
        """Paint a person: clothed torso and arms, neck, and a face hottest at its centre."""
        self._blob(image, cx, cy + 0.3 * size, 0.1 * size, 0.3 * size, CLOTHES_C)
        for arm_x in (cx - 0.11 * size, cx + 0.11 * size):
            self._blob(image, arm_x, cy + 0.3 * size, 0.03 * size, 0.25 * size, CLOTHES_C + 2)
        self._blob(image, cx, cy - 0.02 * size, 0.03 * size, 0.06 * size, SKIN_C - 1.5)
        self._blob(image, cx, cy - 0.14 * size, 0.065 * size, 0.11 * size, SKIN_C - 1.0)
        self._blob(image, cx, cy - 0.14 * size, 0.035 * size, 0.06 * size, SKIN_C)

    def frame(self, t_s: float) -> np.ndarray:
        """The scene at time ``t_s`` seconds.

        Returns:
            ndarray uint16 (rows, cols), centikelvin.
        """
        image = self._background.copy()
        self._person(image, 0.5 + 0.3 * math.sin(t_s * 0.35), 0.4 + 0.03 * math.sin(t_s * 1.7), 1.0)
        self._person(image, 0.3 + 0.15 * math.cos(t_s * 0.21), 0.5, 0.7)
        image += self._rng.normal(0.0, NOISE_K * 100.0, image.shape).astype(np.float32)
        return np.clip(image, 0, 65535).astype(np.uint16)
