"""thermal_streamer.measure.readings: the MQTT stats and region payloads and the /raw payload, value
by value."""

from __future__ import annotations

import numpy as np

from lepton.radiometry import PixelUnit
from thermal_streamer.core.frames import ImageFrame, RawFrame
from thermal_streamer.measure.frame_stats import compute_stats
from thermal_streamer.measure.readings import raw_payload, region_payload, stats_payload
from thermal_streamer.measure.regions import Region, RegionPlan

PIXELS = np.array([[29315, 29415], [29515, 30315]], np.uint16)  # 20, 21, 22, 30 C


def test_stats_of_a_radiometric_frame():
    """Degrees C rounded to 0.01, the FPA temperature from meta, seq, timestamp and fps."""
    frame = RawFrame(PIXELS, PixelUnit.CENTIKELVIN, 1.5e9, {"fpa_temp_c": 31.25})
    assert stats_payload(7, frame, 8.7, compute_stats(PIXELS, frame.unit)) == {
        "seq": 7, "timestamp": 1.5e9, "fps": 8.7, "min": 20.0, "max": 30.0, "mean": 23.25,
        "center": 23.25, "fpa_temp_c": 31.25}


def test_stats_without_temperatures_are_null():
    """Counts, a ready-made JPEG and a missing (or non-numeric) FPA value give None."""
    counts = RawFrame(PIXELS, PixelUnit.COUNTS, 2.0, {"fpa_temp_c": "n/a"})
    image = ImageFrame(b"\xff\xd8\xff\xd9", 1, 1, 3.0)
    for frame, stats in ((counts, compute_stats(PIXELS, counts.unit)), (image, None)):
        payload = stats_payload(1, frame, 0.0, stats)
        assert [payload[k] for k in ("min", "max", "mean", "center", "fpa_temp_c")] == [None] * 5


def test_region_payload_in_celsius_or_null():
    """A region's min, max and mean in degrees C; null for a source in counts or a region
    outside the frame."""
    box = Region.make_box("right", 1, 0, 1, 1)  # 21 and 30 C
    frame = RawFrame(PIXELS, PixelUnit.CENTIKELVIN, 1.5e9, {})
    stats = RegionPlan((box,), PIXELS.shape).measure(PIXELS, frame.unit)["right"]
    assert region_payload(7, frame, stats) == {"seq": 7, "timestamp": 1.5e9, "min": 21.0,
                                               "max": 30.0, "mean": 25.5}
    counts = RawFrame(PIXELS, PixelUnit.COUNTS, 2.0, {})
    assert region_payload(8, counts, stats) == {"seq": 8, "timestamp": 2.0, "min": None,
                                                "max": None, "mean": None}
    assert region_payload(9, frame, None) == {"seq": 9, "timestamp": 1.5e9, "min": None,
                                              "max": None, "mean": None}


def test_raw_payload_is_row_major_celsius():
    """Thermal Vision's form: comma-separated degrees C, two decimals, row by row; temp = FPA."""
    deci = RawFrame(np.array([[2931, 2932]], np.uint16), PixelUnit.DECIKELVIN, 0.0)
    assert raw_payload(deci) == {"data": "19.95,20.05"}
    frame = RawFrame(PIXELS, PixelUnit.CENTIKELVIN, 0.0, {"fpa_temp_c": 31})
    assert raw_payload(frame) == {"data": "20.00,21.00,22.00,30.00", "temp": 31.0}


def test_raw_payload_needs_temperatures():
    """None for a source in counts and for a ready-made JPEG (the route answers 404)."""
    assert raw_payload(RawFrame(PIXELS, PixelUnit.COUNTS, 0.0)) is None
    assert raw_payload(ImageFrame(b"\xff\xd8\xff\xd9", 1, 1, 0.0)) is None
