"""thermal_streamer.measure.regions: region definitions, changes to the set, and their
statistics."""

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from thermal_streamer.measure.regions import (
    MAX_REGIONS,
    Region,
    RegionError,
    RegionPlan,
    added,
    checked,
    deleted,
    moved,
    parse_box,
    parse_spot,
    renamed,
)


def brute_force(pixels, region, unit):
    """The statistics the slow, obvious way: (min, max, mean, min_pos, max_pos)."""
    rows, cols = pixels.shape
    y0, y1 = max(region.y0, 0), min(region.y1, rows - 1)
    x0, x1 = max(region.x0, 0), min(region.x1, cols - 1)
    sub = pixels[y0:y1 + 1, x0:x1 + 1].astype(np.float64)
    i, j = int(sub.argmin()), int(sub.argmax())
    width = x1 - x0 + 1

    def shown(value):
        return round(value / 100 - 273.15, 2) if unit is PixelUnit.CENTIKELVIN else round(value, 2)

    return (shown(sub.min()), shown(sub.max()), shown(sub.mean()),
            (x0 + i % width, y0 + i // width), (x0 + j % width, y0 + j // width))


@pytest.mark.parametrize("unit", [PixelUnit.CENTIKELVIN, PixelUnit.COUNTS])
def test_statistics_equal_the_obvious_computation(unit):
    """16 random spots and boxes (some reaching past the edge) give exactly the statistics
    of slicing each one, in degrees C or counts."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(29000, 31000, (120, 160)).astype(np.uint16)
    regions = []
    for n in range(MAX_REGIONS):
        x, y = int(rng.integers(0, 160)), int(rng.integers(0, 120))
        if n % 2:
            regions.append(Region.make_spot(f"s{n}", x, y, int(rng.choice([1, 3, 5]))))
        else:
            regions.append(Region.make_box(f"b{n}", x, y, x + int(rng.integers(0, 40)),
                                           y + int(rng.integers(0, 30))))
    measured = RegionPlan(regions, pixels.shape).measure(pixels, unit)
    assert list(measured) == [r.name for r in regions]
    for region in regions:
        stats = measured[region.name]
        low, high, mean, low_at, high_at = brute_force(pixels, region, unit)
        assert (stats.min_pos, stats.max_pos) == (low_at, high_at), region
        assert (stats.min, stats.max, stats.mean) == pytest.approx((low, high, mean),
                                                                   abs=0.0051), region


def test_first_extreme_in_row_order_and_the_header_form():
    """Ties give the first minimum/maximum in row order; positions are [x, y] of the frame."""
    pixels = np.full((6, 8), 30000, np.uint16)
    pixels[2, 5] = pixels[3, 2] = 31000  # two maxima: row 2 comes first
    pixels[4, 1] = pixels[4, 3] = 29000  # two minima in one row: column 1 comes first
    box = Region.make_box("b", 1, 2, 6, 5)
    stats = RegionPlan([box], pixels.shape).measure(pixels, PixelUnit.CENTIKELVIN)["b"]
    assert stats.as_header() == {"min": 16.85, "max": 36.85, "mean": 26.85,
                                 "min_pos": [1, 4], "max_pos": [5, 2]}


def test_a_region_outside_the_frame_measures_none():
    """A region wholly outside a (smaller) frame gives None; the others still measure."""
    regions = [Region.make_box("far", 100, 100, 110, 110), Region.make_spot("near", 0, 0, 3)]
    pixels = np.arange(80 * 60, dtype=np.uint16).reshape(60, 80)
    measured = RegionPlan(regions, pixels.shape).measure(pixels, PixelUnit.COUNTS)
    assert measured["far"] is None
    assert measured["near"].as_header() == {"min": 0.0, "max": 81.0, "mean": 40.5,
                                            "min_pos": [0, 0], "max_pos": [1, 1]}
    empty = RegionPlan([regions[0]], pixels.shape).measure(pixels, PixelUnit.COUNTS)
    assert empty == {"far": None}


def test_plan_refuses_another_frame_size():
    """A plan is for one frame size."""
    plan = RegionPlan([Region.make_spot("a", 1, 1)], (60, 80))
    with pytest.raises(ValueError, match=r"frame of shape \(120, 160\), plan for \(60, 80\)"):
        plan.measure(np.zeros((120, 160), np.uint16), PixelUnit.COUNTS)


def test_json_forms_round_trip_and_spots_centre_their_square():
    """A spot keeps its centre and size, a box its corners, through as_json/from_json."""
    spot = Region.make_spot("breaker", 80, 60, 3)
    assert (spot.x0, spot.y0, spot.x1, spot.y1) == (79, 59, 81, 61)
    assert spot.as_json() == {"name": "breaker", "spot": [80, 60], "size": 3}
    box = Region.make_box("panel", 10, 20, 40, 50)
    assert box.as_json() == {"name": "panel", "box": [10, 20, 40, 50]}
    for region in (spot, box, Region.make_spot("edge", 0, 0, 5)):
        assert Region.from_json(region.as_json()) == region
    assert Region.from_json({"name": "x", "spot": [1, 2]}).size == 1


@pytest.mark.parametrize("data, message", [
    ({"name": "a"}, "a region needs either spot [x, y] or box [x0, y0, x1, y1]"),
    ({"name": "a", "spot": [1, 2], "box": [1, 2, 3, 4]},
     "a region needs either spot [x, y] or box [x0, y0, x1, y1]"),
    ({"name": "a", "spot": [1]}, "spot must be 2 integers from 0 to 4095: got [1]"),
    ({"name": "a", "spot": [1, True]}, "spot must be 2 integers from 0 to 4095: got [1, True]"),
    ({"name": "a", "spot": [1, 4096]}, "spot must be 2 integers from 0 to 4095: got [1, 4096]"),
    ({"name": "a", "spot": [1, 2], "size": 2}, "size must be one of 1, 3, 5, 7, 9: got 2"),
    ({"name": "a", "spot": [1, 2], "size": 3.0}, "size must be one of 1, 3, 5, 7, 9: got 3.0"),
    ({"name": "a", "box": [5, 1, 4, 2]},
     "box must be [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1: got [5, 1, 4, 2]"),
    ({"name": "Frame", "spot": [1, 2]},
     "name must be 1 to 32 letters A-Z a-z, digits, _ . or -, not 'frame': got 'Frame'"),
    ({"name": "a b", "spot": [1, 2]},
     "name must be 1 to 32 letters A-Z a-z, digits, _ . or -, not 'frame': got 'a b'"),
    ({"spot": [1, 2]},
     "name must be 1 to 32 letters A-Z a-z, digits, _ . or -, not 'frame': got None"),
])
def test_bad_definitions_say_what_is_allowed(data, message):
    """Each bad JSON definition raises RegionError with the exact text."""
    with pytest.raises(RegionError) as error:
        Region.from_json(data)
    assert str(error.value) == message


def test_config_text_forms():
    """Spot = X Y [SIZE] and Box = X0 Y0 X1 Y1; anything else says the form."""
    assert parse_spot("s", " 80 60 ") == Region.make_spot("s", 80, 60)
    assert parse_spot("s", "80 60 5") == Region.make_spot("s", 80, 60, 5)
    assert parse_box("b", "1 2 3 4") == Region.make_box("b", 1, 2, 3, 4)
    with pytest.raises(RegionError, match=r"^must be X Y or X Y SIZE: pixel column"):
        parse_spot("s", "80,60")
    with pytest.raises(RegionError, match=r"^must be X0 Y0 X1 Y1: corners in pixels"):
        parse_box("b", "1 2 3 -4")


def test_changes_to_the_set():
    """add appends, move replaces in place, rename keeps the place, delete removes; each
    refuses what does not fit with the exact text."""
    a, b = Region.make_spot("a", 1, 1), Region.make_box("b", 0, 0, 9, 9)
    regions = added(added((), a), b)
    assert moved(regions, Region.make_box("a", 2, 2, 3, 3))[0].as_json() == {
        "name": "a", "box": [2, 2, 3, 3]}
    assert [r.name for r in renamed(regions, "a", "c")] == ["c", "b"]
    assert renamed(regions, "a", "A")[0].name == "A"  # only the case changes
    assert deleted(regions, "a") == (b,)
    with pytest.raises(RegionError, match=r"^a region called 'B' exists already \(names ignore "
                                          r"case\)$"):
        added(regions, Region.make_spot("B", 0, 0))
    with pytest.raises(RegionError, match=r"^a region called 'b' exists already"):
        renamed(regions, "a", "b")
    with pytest.raises(RegionError, match=r"^no region 'z'; regions: a, b$"):
        deleted(regions, "z")
    with pytest.raises(RegionError, match=r"^no region 'z'; regions: none$"):
        moved((), Region.make_spot("z", 0, 0))
    full = checked(Region.make_spot(f"r{n}", n, n) for n in range(MAX_REGIONS))
    with pytest.raises(RegionError, match=r"^at most 16 regions: delete one first$"):
        added(full, Region.make_spot("one-more", 0, 0))
