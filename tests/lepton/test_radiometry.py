"""lepton.radiometry: pixel units and temperature conversion (docs/vospi.md §9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lepton.errors import LeptonError
from lepton.radiometry import (
    PixelUnit,
    celsius_to_pixels,
    guess_unit,
    to_celsius,
    to_fahrenheit,
    to_kelvin,
    unit_for_tlinear_resolution,
)

CK, DK, COUNTS = PixelUnit.CENTIKELVIN, PixelUnit.DECIKELVIN, PixelUnit.COUNTS


def test_scalar_conversions():
    """30000 cK is 300 K, 26.85 C, 80.33 F; 3000 dK is the same temperature; scalars give floats."""
    assert to_kelvin(30000, CK) == 300.0
    assert to_kelvin(3000, DK) == 300.0
    assert isinstance(to_kelvin(30000, CK), float)
    assert to_celsius(30000, CK) == pytest.approx(26.85)
    assert to_celsius(3000, DK) == pytest.approx(26.85)
    assert to_fahrenheit(30000, CK) == pytest.approx(80.33)
    assert to_celsius(np.uint16(27315), CK) == pytest.approx(0.0)


def test_array_conversions_keep_shape(load_data):
    """A real radiometric frame converts to float64 Celsius of the same shape and range."""
    frame = load_data("Jkillelea_Lepton-3-Module__raw1.npy")
    celsius = to_celsius(frame, CK)
    assert celsius.shape == (120, 160) and celsius.dtype == np.float64
    assert celsius.min() == pytest.approx(29549 / 100 - 273.15)
    assert celsius.max() == pytest.approx(30687 / 100 - 273.15)
    assert to_kelvin([30000, 31000], CK).tolist() == [300.0, 310.0]


@pytest.mark.parametrize("function", [to_kelvin, to_celsius, to_fahrenheit, celsius_to_pixels])
def test_counts_are_not_temperatures(function):
    """Every conversion refuses COUNTS with a ValueError naming the unit and the function."""
    with pytest.raises(ValueError) as caught:
        function(8000, COUNTS)
    assert str(caught.value) == (
        f"{function.__name__} needs pixels in CENTIKELVIN or DECIKELVIN (TLinear on), got COUNTS: "
        "counts are not temperatures"
    )
    assert isinstance(caught.value, LeptonError)
    assert caught.value.unit is COUNTS


@given(st.floats(-273.0, 380.0), st.sampled_from([CK, DK]))
def test_celsius_to_pixels_inverts_to_celsius(celsius, unit):
    """celsius_to_pixels is the inverse of to_celsius."""
    assert to_celsius(celsius_to_pixels(celsius, unit), unit) == pytest.approx(celsius, abs=1e-9)


def test_celsius_to_pixels_arrays():
    """celsius_to_pixels takes arrays: 0 C and 100 C in centikelvin."""
    assert celsius_to_pixels(np.array([0.0, 100.0]), CK) == pytest.approx([27315.0, 37315.0])
    assert isinstance(celsius_to_pixels(20, DK), float)


def test_guess_unit(load_data):
    """Real centikelvin frames guess CENTIKELVIN; Lepton 2 and Cacophony counts guess COUNTS."""
    assert guess_unit(load_data("Jkillelea_Lepton-3-Module__raw6.npy")) is CK
    assert guess_unit(load_data("brandoncurtis_LeptonModule__raw1.npy")) is COUNTS
    assert guess_unit(load_data("TheCacophonyProject_python-cptv__v1.frame000.npy")) is COUNTS


def test_guess_unit_bounds():
    """The centikelvin range is 20000..45000 inclusive; anything outside, or nothing, is COUNTS."""
    assert guess_unit([20000, 45000]) is CK
    assert guess_unit(30000) is CK
    assert guess_unit([19999, 30000]) is COUNTS
    assert guess_unit([30000, 45001]) is COUNTS
    assert guess_unit(np.zeros((0,), np.uint16)) is COUNTS
    assert guess_unit(np.full((60, 80), 255, np.uint16)) is COUNTS  # AGC output


def test_unit_for_tlinear_resolution():
    """0.01 K is centikelvin, 0.1 K decikelvin, anything else a ValueError naming the value."""
    assert unit_for_tlinear_resolution(0.01) is CK
    assert unit_for_tlinear_resolution(0.1) is DK
    assert unit_for_tlinear_resolution(1 / 100) is CK
    for bad in (0.05, 1, "0.01"):
        with pytest.raises(ValueError) as caught:
            unit_for_tlinear_resolution(bad)
        assert str(caught.value) == f"TLinear resolution must be 0.01 or 0.1 K, got {bad!r}"


def test_is_temperature():
    """Only the TLinear units are temperatures; enum values are the wire names."""
    assert CK.is_temperature and DK.is_temperature and not COUNTS.is_temperature
    assert [u.value for u in PixelUnit] == ["centikelvin", "decikelvin", "counts"]
    assert math.isclose(to_kelvin(1, DK), 0.1)
