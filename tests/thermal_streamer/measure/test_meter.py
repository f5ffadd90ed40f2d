"""thermal_streamer.measure.meter: one measurement per frame (the whole frame and the live
regions) for every reader, and the roi command."""

import ast
import contextlib
import csv
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from tests.mosquitto import mosquitto
from tests.mqtt_clients import Subscriber
from tests.thermal_streamer.parts import no_ffc, running
from thermal_streamer.config.values import BrokerUrl
from thermal_streamer.control.commands import CommandError, CommandRunner
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.measure.alarms import AlarmEvaluator, AlarmRule
from thermal_streamer.measure.frame_stats import compute_stats
from thermal_streamer.measure.meter import CACHED_FRAMES, Meter, RoiCommand, measure_frame
from thermal_streamer.measure.regions import FRAME, Region, RegionPlan, RegionStats
from thermal_streamer.mqtt.link import BrokerSettings
from thermal_streamer.mqtt.publisher import MqttPublisher
from thermal_streamer.mqtt.topics import CameraTopics
from thermal_streamer.outputs.stats_log import StatsLog
from thermal_streamer.render.renderer import Renderer

TIMEOUT_S = 10.0
PRODUCT = Path(__file__).resolve().parents[3] / "thermal_streamer"


def frame(celsius: float = 25.0) -> RawFrame:
    pixels = np.full((120, 160), round((celsius + 273.15) * 100), np.uint16)
    pixels[10, 12] += 500
    return RawFrame(pixels, PixelUnit.CENTIKELVIN, 1_800_000_000.0)


def test_measured_once_per_frame_for_every_reader():
    """The header part, the alarms and the stats log get the very same result for one seq;
    a new seq or a change of regions measures again; latest() has the newest."""
    meter = Meter([Region.make_spot("s", 12, 10)], lambda part: None)
    first = meter.measure(1, frame())
    assert meter.measure(1, frame(30.0)) is first  # same seq: not measured again
    assert meter.header_part(1, frame()) == {"rois": {"s": {
        "min": 30.0, "max": 30.0, "mean": 30.0, "min_pos": [12, 10], "max_pos": [12, 10]}}}
    meter.change(lambda regions: (*regions, Region.make_box("b", 0, 0, 3, 3)))
    assert list(meter.measure(1, frame()).regions) == ["s", "b"]
    meter.measure(2, frame(30.0))
    latest = meter.latest()
    assert (latest.seq, latest.unit, latest.regions["b"].max) == (2, "C", 30.0)
    assert meter.latest_json()["values"]["s"]["mean"] == 35.0


def test_detached_header_part_leaves_the_live_values_alone():
    """A played-back frame is measured with the regions now, even with the live frame's
    seq, and neither the live cache nor latest() sees it."""
    meter = Meter([Region.make_spot("s", 12, 10)], lambda part: None)
    live = meter.measure(7, frame())
    assert meter.detached_header_part(7, frame(30.0)) == {"rois": {"s": {
        "min": 35.0, "max": 35.0, "mean": 35.0, "min_pos": [12, 10], "max_pos": [12, 10]}}}
    assert meter.measure(7, frame()) is live
    assert meter.latest().regions["s"].mean == 30.0


def test_roi_command_through_the_runner_changes_the_shared_state():
    """add, move, rename and delete through the CommandRunner (with the token rule) change
    the rois state part every viewer gets; errors change nothing."""
    state = AcquisitionState(RenderSettings())
    saved, renames, users = [], [], {"b2": ["hot"]}
    meter = Meter([], lambda part: state.set_part("rois", part),
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


def test_measure_frame_is_the_whole_frame_and_each_region():
    """measure_frame gives compute_stats of the whole frame, each region's values (None
    outside the frame), the pseudo-region "frame", and the /healthz rois form; no plan, no
    regions."""
    pixels = np.array([[29315, 29415], [29515, 30315]], np.uint16)  # 20, 21, 22, 30 C
    raw = RawFrame(pixels, PixelUnit.CENTIKELVIN, 1.5e9)
    plan = RegionPlan((Region.make_box("right", 1, 0, 1, 1), Region.make_spot("far", 9, 9)),
                      pixels.shape)
    measured = measure_frame(7, raw, plan)
    assert (measured.seq, measured.timestamp, measured.unit) == (7, 1.5e9, "C")
    assert measured.frame == compute_stats(pixels, PixelUnit.CENTIKELVIN)
    assert measured.region(FRAME) is measured.frame
    assert measured.region("right") == RegionStats(21.0, 30.0, 25.5, (1, 0), (1, 1))
    assert measured.region("far") is None and measured.region("gone") is None
    assert measured.rois_json() == {"seq": 7, "timestamp": 1.5e9, "unit": "C", "values": {
        "right": {"min": 21.0, "max": 30.0, "mean": 25.5, "min_pos": [1, 0], "max_pos": [1, 1]},
        "far": None}}
    alone = measure_frame(8, RawFrame(pixels, PixelUnit.COUNTS, 2.0))
    assert (alone.regions, alone.unit, alone.frame.max) == ({}, "counts", 30315.0)


def test_a_reader_a_frame_behind_gets_the_shared_measurement():
    """The newest CACHED_FRAMES measurements are kept by seq: a late reader of an older
    frame gets the same object; an older one is measured again without becoming latest."""
    meter = Meter([Region.make_spot("s", 12, 10)], lambda part: None)
    first = meter.measure(1, frame())
    meter.measure(2, frame(30.0))
    assert meter.measure(1, frame()) is first and meter.measured == 2
    for seq in range(3, 3 + CACHED_FRAMES):
        meter.measure(seq, frame())
    assert meter.measure(1, frame()) is not first and meter.measured == 3 + CACHED_FRAMES
    assert meter.latest().seq == 2 + CACHED_FRAMES


def test_only_the_meter_computes_statistics():
    """No module but meter.py uses compute_stats or RegionPlan, and the others name
    measure_frame only as a parameter's default: every reader measures through the
    Measure it is handed (the app hands each the Meter's)."""
    for path in sorted(PRODUCT.rglob("*.py")):
        if path.relative_to(PRODUCT).as_posix() in ("measure/meter.py", "measure/regions.py",
                                                     "measure/frame_stats.py"):
            continue
        tree = ast.parse(path.read_text())
        defaults = {id(d) for node in ast.walk(tree) if isinstance(node, ast.arguments)
                    for d in (*node.defaults, *node.kw_defaults) if d is not None}
        names = [n for n in ast.walk(tree) if isinstance(n, ast.Name)]
        assert not [n.id for n in names if n.id in ("compute_stats", "RegionPlan")], path
        assert all(id(n) in defaults for n in names if n.id == "measure_frame"), path


def test_every_reader_shares_one_measurement_per_frame(tmp_path):
    """The renderer (stats, rois), the alarms (a frame rule and a region rule), the stats
    log and the MQTT publisher (stats, roi/NAME, a real Mosquitto) all read N frames: the
    meter computes N measurements, and every reader shows the same values."""
    state = AcquisitionState(RenderSettings())
    hub = Hub(on_viewer_count=state.set_clients)
    meter = Meter([Region.make_spot("s", 12, 10)], lambda part: None)
    renderer = Renderer(hub, state, "simulated", [meter.header_part], meter.measure)
    alarms = AlarmEvaluator(hub, meter.measure, lambda part: None, [
        AlarmRule.from_json({"name": "warm", "roi": "frame", "stat": "mean", "above": 23.5}),
        AlarmRule.from_json({"name": "hot", "roi": "s", "stat": "max", "above": 40})])
    topics = CameraTopics("thermal", "cam")
    frames = [frame(20.0 + n) for n in range(1, 6)]  # mean 21..25 C, the spot 5 C above
    stop = threading.Event()
    with mosquitto() as broker, contextlib.closing(
            StatsLog(hub, str(tmp_path / "stats.csv"), measure=meter.measure)) as stats_log:
        publisher = MqttPublisher(
            BrokerSettings(BrokerUrl("127.0.0.1", broker.port, False), "meter-test",
                           keepalive_s=5), topics, hub, state,
            CommandRunner(state, no_ffc, ""), renderer.snapshot, meter.measure, None,
            False, 0.05, 0.05)
        with Subscriber(broker.port, topics.stats, topics.roi("s")) as sub, \
                running(publisher.link.run, publisher.stop, "mqtt-test"), \
                running(lambda: publisher.run(stop), stop.set, "mqtt-publisher-test"):
            raised = []
            for raw in frames:
                seq = hub.publish_source_frame(raw)
                header = renderer.encode(seq, raw).header
                raised += [(seq, t.rule.name) for t in alarms.evaluate(seq, raw)]
                stats_log.write(seq, raw)
                published = [json.loads(sub.wait_on(
                    topic, lambda m, n=seq: json.loads(m.payload)["seq"] == n, TIMEOUT_S).payload)
                    for topic in (topics.stats, topics.roi("s"))]
                assert header["stats"]["max"] == header["rois"]["s"]["max"] == \
                    published[0]["max"] == published[1]["max"] == 25.0 + seq
    assert raised == [(4, "warm")]  # mean 24 C: the frame rule, from the same measurement
    assert [row[1] for row in csv.reader((tmp_path / "stats.csv").open())][1:] == \
        ["1", "2", "3", "4", "5"]
    assert meter.measured == len(frames)
    assert meter.latest_json()["seq"] == len(frames)
