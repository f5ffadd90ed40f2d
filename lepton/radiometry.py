"""What a Lepton pixel value means, and conversion to temperatures.

With TLinear on (the factory default of radiometric Lepton 2.5 and 3.5) a
pixel is the scene temperature in kelvin x 100 (resolution 0.01 K, "centikelvin")
or kelvin x 10 (resolution 0.1 K). Otherwise (TLinear off, Lepton 2.0/3.0, or
AGC on) pixels are sensor counts, not temperatures.
Sources: FLIR Lepton Engineering Datasheet §3.5.1, §4.1 Table 6; Lepton
Software IDD §4.8.9-4.8.11 (docs/vospi.md §9).

All functions are pure; they accept a scalar or anything ``numpy.asarray``
takes, and return a ``float`` for a scalar, else ``ndarray float64`` of the
same shape.
"""

from __future__ import annotations

import enum
import math
import numbers

import numpy as np
import numpy.typing as npt

from .errors import ResolutionError, UnitError

__all__ = [
    "CENTIKELVIN_GUESS_RANGE",
    "KELVIN_AT_0_C",
    "PixelUnit",
    "celsius_to_pixels",
    "guess_unit",
    "to_celsius",
    "to_fahrenheit",
    "to_kelvin",
    "unit_for_tlinear_resolution",
]

KELVIN_AT_0_C = 273.15
# Pixels all inside this range look like centikelvin: 200.00..450.00 K (-73..177 C).
# Raw14 counts sit near 8192 (L2.0/3.0) or 4096 (L2.5/3.5) and AGC output is
# 0..255, so neither falls in it (docs/vospi.md §9).
CENTIKELVIN_GUESS_RANGE = (20000, 45000)


class PixelUnit(enum.Enum):
    """The unit of a frame's pixel values."""

    CENTIKELVIN = "centikelvin"  # TLinear, resolution 0.01 K (docs/vospi.md §9)
    DECIKELVIN = "decikelvin"  # TLinear, resolution 0.1 K (docs/vospi.md §9)
    COUNTS = "counts"  # Raw14 counts or 8-bit AGC output: not a temperature

    @property
    def is_temperature(self) -> bool:
        """True when a pixel value is a temperature (TLinear output)."""
        return self is not PixelUnit.COUNTS


_COUNTS_PER_KELVIN = {PixelUnit.CENTIKELVIN: 100.0, PixelUnit.DECIKELVIN: 10.0}


def _counts_per_kelvin(unit: PixelUnit, operation: str) -> float:
    try:
        return _COUNTS_PER_KELVIN[unit]
    except KeyError:
        raise UnitError(unit, operation) from None


def _result(values: np.ndarray) -> np.ndarray | float:
    return float(values) if values.ndim == 0 else values


def to_kelvin(pixels: npt.ArrayLike, unit: PixelUnit) -> np.ndarray | float:
    """Convert TLinear pixel values to kelvin.

    Args:
        pixels: scalar or array of pixel values (e.g. ndarray uint16 (rows, cols)).
        unit: :attr:`PixelUnit.CENTIKELVIN` or :attr:`PixelUnit.DECIKELVIN`.

    Returns:
        float, or ndarray float64 of the same shape, kelvin.

    Raises:
        UnitError: ``unit`` is :attr:`PixelUnit.COUNTS` (also a ``ValueError``).
    """
    scale = _counts_per_kelvin(unit, "to_kelvin")
    return _result(np.asarray(pixels, dtype=np.float64) / scale)


def to_celsius(pixels: npt.ArrayLike, unit: PixelUnit) -> np.ndarray | float:
    """Convert TLinear pixel values to degrees Celsius (K - 273.15).

    Args and Raises as :func:`to_kelvin`, naming ``to_celsius`` in the error.

    Returns:
        float, or ndarray float64 of the same shape, degrees Celsius.
    """
    scale = _counts_per_kelvin(unit, "to_celsius")
    return _result(np.asarray(pixels, dtype=np.float64) / scale - KELVIN_AT_0_C)


def to_fahrenheit(pixels: npt.ArrayLike, unit: PixelUnit) -> np.ndarray | float:
    """Convert TLinear pixel values to degrees Fahrenheit (C * 9/5 + 32).

    Args and Raises as :func:`to_kelvin`, naming ``to_fahrenheit`` in the error.

    Returns:
        float, or ndarray float64 of the same shape, degrees Fahrenheit.
    """
    scale = _counts_per_kelvin(unit, "to_fahrenheit")
    celsius = np.asarray(pixels, dtype=np.float64) / scale - KELVIN_AT_0_C
    return _result(celsius * 9.0 / 5.0 + 32.0)


def celsius_to_pixels(celsius: npt.ArrayLike, unit: PixelUnit) -> np.ndarray | float:
    """Inverse of :func:`to_celsius`: the pixel value of a temperature.

    Used for fixed AGC ranges given in degrees Celsius. The result is not
    rounded or clipped to uint16.

    Args:
        celsius: scalar or array, degrees Celsius.
        unit: :attr:`PixelUnit.CENTIKELVIN` or :attr:`PixelUnit.DECIKELVIN`.

    Returns:
        float, or ndarray float64 of the same shape, in pixel units.

    Raises:
        UnitError: ``unit`` is :attr:`PixelUnit.COUNTS`.
    """
    scale = _counts_per_kelvin(unit, "celsius_to_pixels")
    return _result((np.asarray(celsius, dtype=np.float64) + KELVIN_AT_0_C) * scale)


def guess_unit(pixels: npt.ArrayLike) -> PixelUnit:
    """Guess the unit of a frame from its values alone.

    Args:
        pixels: scalar or array of pixel values.

    Returns:
        :attr:`PixelUnit.CENTIKELVIN` when every value lies in 20000..45000
        inclusive (200-450 K), else :attr:`PixelUnit.COUNTS` (also for an
        empty array). Decikelvin is never guessed: 2000-4500 overlaps counts.
        Prefer the telemetry's TLinear flags when they are available.
    """
    values = np.asarray(pixels)
    low, high = CENTIKELVIN_GUESS_RANGE
    if values.size and values.min() >= low and values.max() <= high:
        return PixelUnit.CENTIKELVIN
    return PixelUnit.COUNTS


def unit_for_tlinear_resolution(resolution_k: float) -> PixelUnit:
    """The pixel unit for a TLinear resolution (telemetry row C word 49, IDD §4.8.11).

    Args:
        resolution_k: kelvin per count, 0.01 or 0.1.

    Returns:
        :attr:`PixelUnit.CENTIKELVIN` for 0.01, :attr:`PixelUnit.DECIKELVIN` for 0.1.

    Raises:
        ResolutionError: any other value (also a ``ValueError``).
    """
    if isinstance(resolution_k, numbers.Real) and not isinstance(resolution_k, bool):
        for unit, counts_per_kelvin in _COUNTS_PER_KELVIN.items():
            if math.isclose(float(resolution_k) * counts_per_kelvin, 1.0, rel_tol=1e-9):
                return unit
    raise ResolutionError(resolution_k)
