"""thermal_streamer.measure.region_meter: the live regions, one measurement per frame for every
reader, and the roi command."""

import json

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from thermal_streamer.control.commands import CommandError, CommandRunner
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.measure.region_meter import RegionMeter, RoiCommand
from thermal_streamer.measure.regions import Region


def frame(celsius: float = 25.0) -> RawFrame:
    pixels = np.full((120, 160), round((celsius + 273.15) * 100), np.uint16)
    pixels[10, 12] += 500
    return RawFrame(pixels, PixelUnit.CENTIKELVIN, 1_800_000_000.0)


def test_measured_once_per_frame_for_every_reader():
    """The header part, the alarms and the stats log get the very same result for one seq;
    a new seq or a change of regions measures again; latest() has the newest."""
    meter = RegionMeter([Region.make_spot("s", 12, 10)], lambda part: None)
    first = meter.measure(1, frame())
    assert meter.measure(1, frame(30.0)) is first  # same seq: not measured again
    assert meter.header_part(1, frame()) == {"rois": {"s": {
        "min": 30.0, "max": 30.0, "mean": 30.0, "min_pos": [12, 10], "max_pos": [12, 10]}}}
    meter.change(lambda regions: (*regions, Region.make_box("b", 0, 0, 3, 3)))
    assert list(meter.measure(1, frame())) == ["s", "b"]
    meter.measure(2, frame(30.0))
    latest = meter.latest()
    assert (latest.seq, latest.unit, latest.values["b"].max) == (2, "C", 30.0)
    assert meter.latest_json()["values"]["s"]["mean"] == 35.0


def test_detached_header_part_leaves_the_live_values_alone():
    """A played-back frame is measured with the regions now, even with the live frame's
    seq, and neither the live cache nor latest() sees it."""
    meter = RegionMeter([Region.make_spot("s", 12, 10)], lambda part: None)
    live = meter.measure(7, frame())
    assert meter.detached_header_part(7, frame(30.0)) == {"rois": {"s": {
        "min": 35.0, "max": 35.0, "mean": 35.0, "min_pos": [12, 10], "max_pos": [12, 10]}}}
    assert meter.measure(7, frame()) is live
    assert meter.latest().values["s"].mean == 30.0


def test_roi_command_through_the_runner_changes_the_shared_state():
    """add, move, rename and delete through the CommandRunner (with the token rule) change
    the rois state part every viewer gets; errors change nothing."""
    state = AcquisitionState(RenderSettings())
    saved, renames, users = [], [], {"b2": ["hot"]}
    meter = RegionMeter([], lambda part: state.set_part("rois", part),
                        lambda: saved.append(1))
    runner = CommandRunner(state, lambda: None, "secret", {"roi": RoiCommand(
        meter, lambda name: users.get(name, []), lambda old, new: renames.append((old, new)))})

    def run(**fields):
        runner.execute(json.dumps({"cmd": "roi", "token": "secret", **fields}))

    run(op="add", name="breaker", spot=[80, 60], size=3)
    run(op="add", name="b", box=[1, 2, 30, 40])
    run(op="move", name="b", box=[5, 5, 9, 9])
    run(op="rename", name="b", to="b2")
    assert state.snapshot()["rois"] == [{"name": "breaker", "spot": [80, 60], "size": 3},
                                        {"name": "b2", "box": [5, 5, 9, 9]}]
    assert renames == [("b", "b2")] and len(saved) == 4
    for fields, message in [
        ({"op": "delete", "name": "b2"},
         "region 'b2' is watched by alarm(s) hot: delete or change them first"),
        ({"op": "add", "name": "breaker", "spot": [1, 1]},
         "a region called 'breaker' exists already (names ignore case)"),
        ({"op": "rename", "name": "nope", "to": "x"}, "no region 'nope'; regions: breaker, b2"),
        ({"op": "rename", "name": "b2", "to": "frame"},
         "name must be 1 to 32 letters A-Z a-z, digits, _ . or -, not 'frame': got 'frame'"),
        ({"op": "resize"}, "op must be one of: add, move, rename, delete: got 'resize'"),
        ({"op": "delete"}, "delete needs the region's name"),
    ]:
        with pytest.raises(CommandError) as error:
            run(**fields)
        assert str(error.value) == message
    with pytest.raises(CommandError, match="needs the control token"):
        runner.execute('{"cmd": "roi", "op": "delete", "name": "breaker"}')
    run(op="delete", name="breaker")
    assert [r["name"] for r in state.snapshot()["rois"]] == ["b2"] and len(saved) == 5
