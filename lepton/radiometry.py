"""What a Lepton pixel value means, conversion to temperatures, and emissivity correction.

With TLinear on (the factory default of radiometric Lepton 2.5 and 3.5) a
pixel is the scene temperature in kelvin x 100 (resolution 0.01 K, "centikelvin")
or kelvin x 10 (resolution 0.1 K). Otherwise (TLinear off, Lepton 2.0/3.0, or
AGC on) pixels are sensor counts, not temperatures.
Sources: FLIR Lepton Engineering Datasheet §3.5.1, §4.1 Table 6; Lepton
Software IDD §4.8.9-4.8.11 (docs/vospi.md §9).

The conversions are pure; they accept a scalar or anything ``numpy.asarray``
takes, and return a ``float`` for a scalar, else ``ndarray float64`` of the
same shape.

Emissivity, reflected temperature and window (:class:`FluxLinearParams`,
:func:`apparent_temperature`, :func:`object_temperature`, :func:`correct_frame`):
the thermographic measurement equation, with the Stefan-Boltzmann law standing
for the radiation each body sends (docs/cci.md §7). A radiometric Lepton applies
the same equation itself, from the RAD flux linear parameters set over CCI; the
software version corrects frames from sources without a CCI (a recording, zmq).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers

import numpy as np
import numpy.typing as npt

from .errors import RangeError, ResolutionError, UnitError

__all__ = [
    "CENTIKELVIN_GUESS_RANGE",
    "KELVIN_AT_0_C",
    "MAX_FLUX_KELVIN",
    "MIN_FLUX_FRACTION",
    "FluxLinearParams",
    "PixelUnit",
    "apparent_temperature",
    "celsius_to_pixels",
    "correct_frame",
    "guess_unit",
    "object_temperature",
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


# --- emissivity, reflected temperature, window (docs/cci.md §7) ---------------------
# The camera's own limits (SDK LEPTON_RAD.h, LEP_RAD_FLUX_LINEAR_PARAMS_T; docs/cci.md §7):
# fractions are 3.13 fixed point in [82, 8192] (0.01..1.0), temperatures kelvin x 100
# in a 16-bit word (at most 655.35 K).
MIN_FLUX_FRACTION = 0.01  # encodes as 82
MAX_FLUX_KELVIN = 655.35
ROOM_K = 295.15  # 22 C: what a Lepton 3.5 reports for its flux temperatures at power-on
_UINT16_MAX = 65535


@dataclasses.dataclass(frozen=True)
class FluxLinearParams:
    """The scene parameters of the thermographic measurement equation (the Lepton's
    RAD flux linear parameters, LEP_RAD_FLUX_LINEAR_PARAMS_T; docs/cci.md §7).

    Attributes:
        emissivity: of the object, 0.01..1.0.
        background_k: the reflected (background) temperature the object mirrors, kelvin.
        window_transmission: of a window in front of the lens, 0.01..1.0.
        window_k: the window's own temperature, kelvin.
        atmosphere_transmission: of the air between object and camera, 0.01..1.0.
        atmosphere_k: the air's temperature, kelvin.
        window_reflection: of the window, 0..1 - window_transmission.
        window_reflected_k: what the window mirrors (the camera side), kelvin.

    The defaults (an ideal black body, no window, clear air) leave every temperature
    as it is; the temperatures are 22 C, a Lepton 3.5's power-on values.

    Raises:
        RangeError: a fraction outside its range, a temperature outside 0 < K <= 655.35.
    """

    emissivity: float = 1.0
    background_k: float = ROOM_K
    window_transmission: float = 1.0
    window_k: float = ROOM_K
    atmosphere_transmission: float = 1.0
    atmosphere_k: float = ROOM_K
    window_reflection: float = 0.0
    window_reflected_k: float = ROOM_K

    def __post_init__(self) -> None:
        for name in ("emissivity", "window_transmission", "atmosphere_transmission"):
            value = getattr(self, name)
            if not MIN_FLUX_FRACTION <= value <= 1.0:
                raise RangeError(name, value, f"{MIN_FLUX_FRACTION:g}..1")
        reflection_max = 1.0 - self.window_transmission
        if not 0.0 <= self.window_reflection <= reflection_max + 1e-9:
            raise RangeError("window_reflection", self.window_reflection,
                             f"0..{reflection_max:g} (1 - window_transmission)")
        for name in ("background_k", "window_k", "atmosphere_k", "window_reflected_k"):
            value = getattr(self, name)
            if not 0.0 < value <= MAX_FLUX_KELVIN:
                raise RangeError(name, value, f"0 < kelvin <= {MAX_FLUX_KELVIN:g}")

    @property
    def is_identity(self) -> bool:
        """True when the equation leaves every temperature as it is (nothing to correct)."""
        return (self.emissivity == 1.0 and self.window_transmission == 1.0
                and self.atmosphere_transmission == 1.0 and self.window_reflection == 0.0)

    def _terms(self) -> tuple[float, float]:
        """(gain, offset) of W_meas = gain * W_obj + offset, W = T^4 (sigma cancels)."""
        tau_w, tau_a, e = self.window_transmission, self.atmosphere_transmission, self.emissivity
        offset = (tau_w * tau_a * (1.0 - e) * self.background_k ** 4
                  + tau_w * (1.0 - tau_a) * self.atmosphere_k ** 4
                  + (1.0 - tau_w - self.window_reflection) * self.window_k ** 4
                  + self.window_reflection * self.window_reflected_k ** 4)
        return tau_w * tau_a * e, offset


def apparent_temperature(object_k: npt.ArrayLike, params: FluxLinearParams
                         ) -> np.ndarray | float:
    """What a camera that assumes a black body in clear air (emissivity 1, no window)
    reads for an object at ``object_k``: the measurement equation forwards.

    ``W_meas = tw ta e W(T_obj) + tw ta (1 - e) W(T_bkg) + tw (1 - ta) W(T_atm)
    + (1 - tw - rw) W(T_win) + rw W(T_wrefl)``, W(T) = sigma T^4, and the reading
    is ``(W_meas / sigma)^(1/4)`` (sources and simplifications: docs/cci.md §7).

    Args:
        object_k: scalar or array, kelvin.
        params: the scene: emissivity, background, window, atmosphere.

    Returns:
        float, or ndarray float64 of the same shape, kelvin.
    """
    gain, offset = params._terms()
    kelvin = np.asarray(object_k, dtype=np.float64)
    return _result(np.asarray((gain * kelvin ** 4 + offset) ** 0.25))


def object_temperature(apparent_k: npt.ArrayLike, params: FluxLinearParams
                       ) -> np.ndarray | float:
    """The object's temperature from a black-body reading: the measurement equation
    solved for the object, the inverse of :func:`apparent_temperature`.

    ``W_obj = (W_meas - offset) / (tw ta e)``; with no window and clear air this is the
    usual ``W_obj = (W_meas - (1 - e) W_refl) / e``, ``T = (W_obj / sigma)^(1/4)``.
    A reading below what the surroundings alone send (W_obj < 0) gives 0 K.

    Args:
        apparent_k: scalar or array, kelvin, as read with emissivity 1 and no window.
        params: the scene the reading is corrected for.

    Returns:
        float, or ndarray float64 of the same shape, kelvin.
    """
    gain, offset = params._terms()
    radiance = np.maximum(np.asarray(apparent_k, dtype=np.float64) ** 4 - offset, 0.0)
    return _result(np.asarray((radiance / gain) ** 0.25))


def correct_frame(pixels: np.ndarray, unit: PixelUnit, params: FluxLinearParams,
                  scene: FluxLinearParams | None = None) -> np.ndarray:
    """Correct a frame read at emissivity 1 (no window) for ``params``, in software.

    With ``scene`` the frame is first "measured" the way a black-body camera sees that
    scene (:func:`apparent_temperature`), then corrected: what a radiometric Lepton
    set to ``params`` reports for a scene of true temperatures (the simulator's use).

    Args:
        pixels: ndarray uint16 (rows, cols), centikelvin or decikelvin.
        unit: the pixels' unit.
        params: what the correction assumes (emissivity, background, window).
        scene: the scene's true parameters, or None when ``pixels`` are a reading.

    Returns:
        ndarray uint16 (rows, cols) in ``unit``, rounded and clipped to 0..65535; the
        ``pixels`` array itself when there is nothing to do (identity parameters, or
        ``scene`` equal to ``params``).

    Raises:
        UnitError: ``unit`` is :attr:`PixelUnit.COUNTS`.
    """
    scale = _counts_per_kelvin(unit, "correct_frame")
    if params == scene or (scene is None and params.is_identity):
        return pixels
    kelvin = pixels.astype(np.float64)
    kelvin /= scale
    reading = kelvin if scene is None else apparent_temperature(kelvin, scene)
    corrected = np.asarray(object_temperature(reading, params))
    corrected *= scale
    np.rint(corrected, out=corrected)
    np.clip(corrected, 0, _UINT16_MAX, out=corrected)
    return corrected.astype(np.uint16)
