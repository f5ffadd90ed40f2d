"""What the camera measures, as JSON for other programs: the MQTT ``stats`` and region
messages and ``/raw``.

Pure: a source frame and its measurement (``meter.FrameMeasurement``, measured once per
frame for every reader) in, a JSON-ready dict out. Temperatures are degrees C; a value the
frame does not have (a source in counts, a ready-made JPEG, no telemetry) is ``None``
(JSON ``null``), which Home Assistant's MQTT sensors show as unknown. The payloads are
described in docs/protocol.md (MQTT, and HTTP ``/raw``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lepton.radiometry import to_celsius
from thermal_streamer.core.frames import RawFrame, SourceFrame
from thermal_streamer.measure.frame_stats import FrameStats
from thermal_streamer.measure.regions import STATS, RegionStats

RAW_DECIMALS = 2  # centikelvin resolution: 0.01 K


def stats_payload(seq: int, frame: SourceFrame, fps: float,
                  stats: FrameStats | None) -> dict[str, Any]:
    """The ``stats`` message of one source frame.

    Args:
        seq: the frame's sequence number (as in the ``/stream`` header).
        frame: the source frame.
        fps: the source's frame rate, frames per second.
        stats: the whole frame's statistics (``FrameMeasurement.frame``); None for a frame
            without pixel values (a ready-made JPEG, a relayed frame).

    Returns:
        ``{"seq", "timestamp", "fps", "min", "max", "mean", "center", "fpa_temp_c"}``:
        timestamp in Unix seconds; min, max, mean and center (mean of the central 2x2
        pixels) in degrees C rounded to 0.01, ``None`` unless the frame is radiometric;
        ``fpa_temp_c``, the camera's sensor (focal plane array) temperature from its
        telemetry, ``None`` when the frame has none.
    """
    temperatures: dict[str, float | None] = dict.fromkeys(("min", "max", "mean", "center"))
    if stats is not None and isinstance(frame, RawFrame) and frame.unit.is_temperature:
        temperatures = {"min": stats.min, "max": stats.max, "mean": stats.mean,
                        "center": stats.center}
    return {"seq": seq, "timestamp": frame.timestamp, "fps": fps, **temperatures,
            "fpa_temp_c": _fpa_temp_c(frame)}


def region_payload(seq: int, frame: RawFrame, stats: RegionStats | None) -> dict[str, Any]:
    """The message on a region's topic (``.../roi/<name>``) for one source frame.

    Args:
        seq: the frame's sequence number (as in the ``/stream`` header).
        frame: the source frame the region was measured on.
        stats: the region's statistics in that frame (``FrameMeasurement.regions``), None
            when the region lies outside the frame.

    Returns:
        ``{"seq", "timestamp", "min", "max", "mean"}``: timestamp in Unix seconds; min,
        max and mean of the region's pixels in degrees C rounded to 0.01, each ``None``
        unless the frame is radiometric and the region inside it.
    """
    values: dict[str, float | None] = dict.fromkeys(STATS)
    if stats is not None and frame.unit.is_temperature:
        values = {stat: getattr(stats, stat) for stat in STATS}
    return {"seq": seq, "timestamp": frame.timestamp, **values}


def raw_payload(frame: SourceFrame | None) -> dict[str, Any] | None:
    """``/raw``: the frame's temperatures as the HACS "Thermal Vision" integration polls them.

    That integration (github.com/TheRealWaldo/thermal, ``thermal_vision/client.py``)
    reads ``data``, comma-separated pixel temperatures, and ``temp``, the sensor's own
    temperature, when present; its ``rows`` and ``cols`` options must be set to the
    frame's size (120 and 160 for a Lepton 3).

    Args:
        frame: the newest source frame.

    Returns:
        ``{"data": "t1,t2,..."}``: rows*cols temperatures in degrees C with two decimals,
        row by row, plus ``"temp"`` (degrees C) when the frame carries ``fpa_temp_c``;
        None when there is no frame yet or it has no temperatures (a ready-made JPEG,
        a source in counts).
    """
    if not isinstance(frame, RawFrame) or not frame.unit.is_temperature:
        return None
    celsius = np.asarray(to_celsius(frame.pixels, frame.unit)).ravel()
    payload: dict[str, Any] = {"data": ",".join(f"{t:.{RAW_DECIMALS}f}" for t in celsius.tolist())}
    fpa = _fpa_temp_c(frame)
    if fpa is not None:
        payload["temp"] = fpa
    return payload


def _fpa_temp_c(frame: SourceFrame) -> float | None:
    """The sensor temperature the source attached (a Lepton's telemetry), degrees C."""
    value = frame.meta.get("fpa_temp_c")
    return float(value) if isinstance(value, int | float) else None
