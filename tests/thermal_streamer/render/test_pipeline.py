"""thermal_streamer.render.pipeline: AGC modes, colorize, enlarge, JPEG."""

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from lepton.radiometry import PixelUnit
from thermal_streamer.control.render_settings import AGC_MODES, RenderSettings
from thermal_streamer.render.pipeline import (
    apply_agc,
    colorize,
    draw_isotherm,
    enlarge,
    isotherm_mask,
    render_jpeg,
)

CK_20C = 29315  # 20.00 C in centikelvin


def ramp() -> np.ndarray:
    """A 120x160 frame whose values rise by one per pixel in row-major order."""
    return (np.arange(120 * 160, dtype=np.uint16) + 20000).reshape(120, 160)


@pytest.mark.parametrize("mode", ["linear", "percentile", "histogram"])
def test_constant_frame_maps_to_middle_level(mode):
    """A constant frame gives the middle level everywhere, without NaN or warnings."""
    pixels = np.full((60, 80), 8000, np.uint16)
    with np.errstate(all="raise"):
        result = apply_agc(pixels, PixelUnit.COUNTS, RenderSettings(agc=mode))
    assert (result.levels == 127).all()


def test_linear_maps_min_to_0_and_max_to_255():
    """linear: the frame's min is level 0, its max 255, monotone in between."""
    result = apply_agc(ramp(), PixelUnit.COUNTS, RenderSettings(agc="linear"))
    assert result.levels.flat[0] == 0 and result.levels.flat[-1] == 255
    assert (np.diff(result.levels.ravel().astype(int)) >= 0).all()
    assert (result.low, result.high) == (20000, 20000 + 19199)


def test_percentile_ignores_one_hot_pixel():
    """percentile: one hot pixel does not squash the rest of the picture into dark levels."""
    pixels = ramp()
    pixels[0, 0] = 65000
    linear = apply_agc(pixels, PixelUnit.COUNTS, RenderSettings(agc="linear"))
    clipped = apply_agc(pixels, PixelUnit.COUNTS, RenderSettings(agc="percentile", clip_percent=1))
    assert linear.levels[60].max() < 80  # the hot pixel took the range
    assert clipped.levels.ravel()[200] == 0 and clipped.levels[0, 0] == 255
    assert clipped.high == pytest.approx(20000 + 0.99 * 19200, abs=2)
    assert clipped.levels[60, 80] == 129  # (9680 - 192) / 18816 of the way up


def test_histogram_equalises():
    """histogram: levels are spread evenly over pixels, whatever the value distribution."""
    pixels = np.concatenate([np.full(9600, 8000), np.arange(8001, 8001 + 9600)]).astype(np.uint16)
    result = apply_agc(pixels.reshape(120, 160), PixelUnit.COUNTS, RenderSettings(agc="histogram"))
    counts = np.bincount(result.levels.ravel(), minlength=256)
    assert result.levels.min() == 0 and result.levels.max() == 255
    assert 9600 <= counts[0] < 9600 + 20  # the flat half is one level, the ramp shares the rest
    assert counts[128:].sum() == pytest.approx(4800, rel=0.02)


def test_fixed_range_in_celsius():
    """fixed: the range is in C for radiometric frames; values outside clip."""
    pixels = np.array([[CK_20C, CK_20C + 500, CK_20C + 1000, CK_20C + 3000]], np.uint16)
    result = apply_agc(pixels, PixelUnit.CENTIKELVIN, RenderSettings(agc="fixed", range=(20, 30)))
    assert result.levels.tolist() == [[0, 128, 255, 255]]


@pytest.mark.parametrize("mode", AGC_MODES)
@pytest.mark.parametrize("scale, interpolation", [(1, "bilinear"), (4, "nearest"), (4, "bicubic")])
def test_render_sizes(mode, scale, interpolation):
    """render_jpeg gives a decodable JPEG of cols*scale x rows*scale for every AGC mode."""
    settings = RenderSettings(agc=mode, range=(20, 30), scale=scale, interpolation=interpolation)
    jpeg, width, height, _ = render_jpeg(ramp(), PixelUnit.CENTIKELVIN, settings)
    image = Image.open(io.BytesIO(jpeg))
    assert image.size == (width, height) == (160 * scale, 120 * scale)
    assert image.mode == "RGB"


def test_colormap_changes_pixels():
    """The same frame in two colormaps gives different pictures."""
    frames = [render_jpeg(ramp(), PixelUnit.COUNTS, RenderSettings(colormap=c))[0]
              for c in ("inferno", "white-hot")]
    a, b = (np.asarray(Image.open(io.BytesIO(f)), float) for f in frames)
    assert np.abs(a - b).mean() > 20
    assert np.abs(b[..., 0] - b[..., 2]).max() < 12  # white-hot is grey


def test_isotherm_mask_includes_both_ends_in_celsius_and_counts():
    """20..40 C takes 29315..31315 cK inclusive (20 C is not lost to float noise); a counts
    band rounds inwards; bounds past uint16 are clipped."""
    pixels = np.array([[29314, 29315, 29316], [31315, 31316, 65535]], np.uint16)
    mask = isotherm_mask(pixels, PixelUnit.CENTIKELVIN, (20.0, 40.0))
    assert mask.tolist() == [[False, True, True], [True, False, False]]
    assert isotherm_mask(pixels, PixelUnit.DECIKELVIN, (-273.15, 7000.0)).all()
    counts = isotherm_mask(pixels, PixelUnit.COUNTS, (29315.5, 70000.0))
    assert counts.tolist() == [[False, False, True], [True, True, True]]


def test_draw_isotherm_paints_whole_sensor_pixels_in_the_colour():
    """At scale 3 each masked sensor pixel becomes a 3x3 block of exactly #00ff00; the rest
    keep the palette's colours."""
    levels = np.array([[0, 128], [255, 64]], np.uint8)
    image = colorize(enlarge(levels, 3, "nearest"), "gray")
    before = np.asarray(image).copy()
    draw_isotherm(image, np.array([[False, True], [False, False]]), "#00ff00")
    after = np.asarray(image)
    assert (after[0:3, 3:6] == [0, 255, 0]).all()
    untouched = np.ones((6, 6), bool)
    untouched[0:3, 3:6] = False
    assert (after[untouched] == before[untouched]).all()


def test_render_with_isotherm_marks_the_band_only():
    """A rendered frame shows the isotherm colour where 30..35 C pixels are and the palette
    elsewhere; without an isotherm the JPEG is the same as before the setting existed."""
    pixels = ramp()
    band_low, band_high = 20000 + 160 * 40, 20000 + 160 * 80 - 1  # rows 40..79
    celsius = (band_low / 100 - 273.15, band_high / 100 - 273.15)
    settings = RenderSettings(colormap="gray", isotherm=celsius, isotherm_color="#ff0000",
                              jpeg_quality=95)
    jpeg, _, _, _ = render_jpeg(pixels, PixelUnit.CENTIKELVIN, settings)
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
    inside, outside = rgb[45:75, 10:150], np.concatenate([rgb[5:35], rgb[85:115]])
    assert (np.abs(inside - [255, 0, 0]) < 24).all()
    assert (np.abs(outside[..., 0] - outside[..., 1]) < 24).all()  # grey, no red
    plain = RenderSettings(colormap="gray")
    assert render_jpeg(pixels, PixelUnit.CENTIKELVIN, plain)[0] == render_jpeg(
        pixels, PixelUnit.CENTIKELVIN, dataclasses.replace(plain, isotherm=None))[0]
