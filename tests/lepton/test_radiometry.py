"""lepton.radiometry: pixel units and temperature conversion (docs/vospi.md §9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lepton.errors import LeptonError, RangeError, UnitError
from lepton.radiometry import (
    FluxLinearParams,
    PixelUnit,
    apparent_temperature,
    celsius_to_pixels,
    correct_frame,
    guess_unit,
    object_temperature,
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


# --- emissivity correction (docs/cci.md §7) ---------------------------------------------


def by_hand(apparent_k: float, e: float, background_k: float) -> float:
    """W_obj = (W_meas - (1 - e) W_refl) / e with W = T^4, written out independently."""
    return ((apparent_k ** 4 - (1 - e) * background_k ** 4) / e) ** 0.25


def test_correct_frame_value_by_value():
    """Each centikelvin pixel becomes round(100 x T_obj); 0 K stays 0 (below the background
    alone), a result past 655.35 K is clipped to 65535."""
    params = FluxLinearParams(emissivity=0.9, background_k=295.15)
    frame = np.array([[29515, 31000, 37315], [0, 27315, 65535]], dtype=np.uint16)
    corrected = correct_frame(frame, CK, params)
    assert corrected.dtype == np.uint16 and corrected.shape == (2, 3)
    expected = [[29515, round(100 * by_hand(310.0, 0.9, 295.15)),
                 round(100 * by_hand(373.15, 0.9, 295.15))],
                [0, round(100 * by_hand(273.15, 0.9, 295.15)), 65535]]
    assert corrected.tolist() == expected
    assert expected[0][1:] == [31152, 37930]  # 36.85 C is 38.37 C at 0.9; 100 C is 106.15 C
    assert frame.tolist()[0] == [29515, 31000, 37315]  # the input is not touched


def test_correct_frame_in_decikelvin_and_identity():
    """Decikelvin is scaled by 10; the default parameters return the very same array."""
    params = FluxLinearParams(emissivity=0.5, background_k=300.0)
    frame = np.array([[3500]], dtype=np.uint16)
    assert correct_frame(frame, DK, params).tolist() == [[round(10 * by_hand(350.0, 0.5, 300.0))]]
    assert correct_frame(frame, DK, FluxLinearParams()) is frame


def test_correct_frame_refuses_counts():
    """Counts are not temperatures: UnitError names correct_frame."""
    with pytest.raises(UnitError) as info:
        correct_frame(np.zeros((2, 2), np.uint16), COUNTS, FluxLinearParams(emissivity=0.9))
    assert "correct_frame" in str(info.value)


def test_window_and_atmosphere_terms_invert_exactly():
    """apparent_temperature then object_temperature gives the object back, window included."""
    params = FluxLinearParams(emissivity=0.8, background_k=290.0, window_transmission=0.85,
                              window_k=310.0, atmosphere_transmission=0.9, atmosphere_k=280.0,
                              window_reflection=0.05, window_reflected_k=300.0)
    objects = np.array([250.0, 300.0, 350.0, 600.0])
    apparent = apparent_temperature(objects, params)
    gain = 0.85 * 0.9 * 0.8
    offset = (0.85 * 0.9 * 0.2 * 290.0 ** 4 + 0.85 * 0.1 * 280.0 ** 4
              + (1 - 0.85 - 0.05) * 310.0 ** 4 + 0.05 * 300.0 ** 4)
    assert apparent == pytest.approx((gain * objects ** 4 + offset) ** 0.25, rel=1e-12)
    assert object_temperature(apparent, params) == pytest.approx(objects, rel=1e-12)
    assert isinstance(apparent_temperature(300.0, params), float)


def test_simulated_camera_is_true_only_when_its_parameters_match_the_scene():
    """A scene of emissivity 0.9 read by a camera set to 0.9 gives the true temperatures; set to
    1.0 it reads low above the background and exactly at it."""
    scene = FluxLinearParams(emissivity=0.9)
    true = np.array([[29515, 31000, 37315]], dtype=np.uint16)
    assert correct_frame(true, CK, scene, scene=scene) is true
    naive = correct_frame(true, CK, FluxLinearParams(), scene=scene)
    assert naive.tolist() == [[29515, round(100 * apparent_temperature(310.0, scene)),
                               round(100 * apparent_temperature(373.15, scene))]]
    assert naive[0, 1] < 31000 and naive[0, 2] < 37315
    corrected = correct_frame(true, CK, FluxLinearParams(emissivity=0.9, window_k=300.0),
                              scene=scene)
    assert np.abs(corrected.astype(int) - true).max() <= 1  # rounding of the round trip


@pytest.mark.parametrize(("field", "value", "message"), [
    ("emissivity", 0.0, "emissivity must be 0.01..1, got 0.0"),
    ("window_transmission", 1.5, "window_transmission must be 0.01..1, got 1.5"),
    ("background_k", 700.0, "background_k must be 0 < kelvin <= 655.35, got 700.0"),
    ("window_reflection", 0.5,
     "window_reflection must be 0..0.5 (1 - window_transmission), got 0.5"),
])
def test_flux_params_out_of_range(field, value, message):
    """Each parameter is checked against the camera's range, with the rule in the message."""
    changes = {field: value}
    if field == "window_reflection":
        changes.update(window_transmission=0.5, window_reflection=0.6)
        message = message.replace("got 0.5", "got 0.6")
    with pytest.raises(RangeError) as info:
        FluxLinearParams(**changes)
    assert str(info.value) == message
