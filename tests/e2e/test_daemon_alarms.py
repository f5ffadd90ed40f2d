"""Regions and alarms end to end: a replayed scene where a hot object enters a box, a real
webhook endpoint, endpoints that hang or refuse, roi/alarm commands that every viewer
sees and that survive a restart (State_File), and Home Assistant's entities over MQTT."""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np
from websockets.sync.client import connect

from tests.conftest import wait_until
from tests.e2e.clients import FrameCounter
from tests.e2e.test_daemon_control import next_json, wait_state
from tests.mosquitto import mosquitto
from tests.mqtt_clients import Subscriber, publish
from tests.webhook_sink import WebhookSink, refused_url

FRAME_S = 1 / 8.7  # the replay's unique frame period
ROOM_CK = round((22 + 273.15) * 100)


def write_scene(tmp_path, hot: range, warm: range, length: int) -> str:
    """A looped recording (length frames of 120x160 centikelvin): a 22 °C room; during
    ``hot`` a 70 °C object sits in rows 40..49, columns 90..99 (inside the box 80..120 x
    30..60), during ``warm`` it has cooled to 57 °C (inside the hysteresis band)."""
    frames = np.full((length, 120, 160), ROOM_CK, np.uint16)
    for indices, celsius in ((hot, 70.0), (warm, 57.0)):
        for i in indices:
            frames[i, 40:50, 90:100] = round((celsius + 273.15) * 100)
    path = tmp_path / "scene.npy"
    np.save(path, frames)
    return str(path)


def start(start_daemon, tmp_path, recording: str, webhook: str, extra: str = ""):
    conf = tmp_path / "server.conf"
    conf.write_text(f"[ROI panel]\nBox = 80 30 120 60\n[Alarm hot]\nROI = panel\nStat = max\n"
                    f"Above = 60\nHysteresis = 5\nHold_Seconds = 0.5\nWebhook = {webhook}\n"
                    f"[Measurement]\nWebhook_Timeout = 1\nWebhook_Retries = 2\n{extra}")
    return start_daemon("-c", str(conf), "--source", "replay", "--replay", recording)


def get_json(daemon, path: str) -> dict:
    with urllib.request.urlopen(daemon.http_url + path, timeout=5) as response:
        return json.load(response)


def test_hot_object_raises_the_alarm_clears_with_hysteresis_and_posts_each_transition(
        start_daemon, tmp_path):
    """The alarm rises within one frame of the crossing plus Hold_Seconds (measured on the
    frames a viewer received), stays while the object has cooled inside the hysteresis
    band, clears when the box is cold, and the webhook gets exactly one POST per transition."""
    recording = write_scene(tmp_path, hot=range(20, 40), warm=range(40, 45), length=60)
    with WebhookSink() as sink:
        daemon = start(start_daemon, tmp_path, recording, sink.url)
        viewer = FrameCounter(daemon.ws_url + "/stream", duration_s=9.0)
        viewer.start()
        viewer.join(15)
        assert viewer.error is None and not viewer.is_alive()
        report = get_json(daemon, "/alarms.json")
        posts = sink.wait_for(len(report["recent"]))
    transitions = report["recent"]
    assert len(transitions) >= 2 and [p[2] for p in posts[:len(transitions)]] == transitions
    assert [t["state"] for t in transitions] == ["alarm", "ok"] * (len(transitions) // 2) + (
        ["alarm"] if len(transitions) % 2 else [])
    assert all(p[0] == "/hook" and p[1] == "application/json" for p in posts)
    assert {(t["state"], t["value"]) for t in transitions} == {("alarm", 70.0), ("ok", 22.0)}

    maxima = [(h["timestamp"], h["rois"]["panel"]["max"]) for h in viewer.headers]
    edges = [t for (_, before), (t, now) in zip(maxima, maxima[1:], strict=False)
             if before < 60 <= now]
    raised = [t["time"] for t in transitions if t["state"] == "alarm"]
    checked = 0
    for edge in edges:
        later = [r for r in raised if r >= edge]
        if later:
            assert 0.5 <= later[0] - edge <= 0.5 + FRAME_S + 0.02, (edge, later[0])
            checked += 1
    assert checked >= 1, (edges, raised)
    health = daemon.health()
    assert health["components"]["webhook"]["counters"]["posted"] == len(transitions)


def test_a_webhook_that_hangs_or_refuses_changes_nothing_for_the_viewers(start_daemon,
                                                                          tmp_path):
    """With a transition every 1.15 s posted to an endpoint that never answers (one daemon)
    or refuses (another), a viewer still gets every frame the source produced."""
    recording = write_scene(tmp_path, hot=range(10, 20), warm=range(0), length=20)
    with WebhookSink(hang=True) as hanging:
        daemons = []
        for name, url in (("hang", hanging.url), ("refuse", refused_url())):
            (tmp_path / name).mkdir()
            daemons.append(start(start_daemon, tmp_path / name, recording, url))
        for daemon in daemons:
            daemon.wait_for_frames(1)
        before = [d.health()["frames_captured"] for d in daemons]
        viewers = [FrameCounter(d.ws_url + "/stream", duration_s=4.0) for d in daemons]
        for viewer in viewers:
            viewer.start()
        for viewer in viewers:
            viewer.join(10)
        after = [d.health() for d in daemons]
        for viewer, daemon, first, health in zip(viewers, daemons, before, after, strict=True):
            produced = health["frames_captured"] - first
            assert viewer.error is None and produced >= 25, (produced, daemon.log())
            assert len(viewer.headers) >= produced - 3, (len(viewer.headers), produced)
            assert health["components"]["webhook"]["ok"] is False
            # a raise every loop of the 2.3 s recording: the second may come just after
            assert wait_until(lambda d=daemon: d.health()["alarms"]["alarms"][0]["raised"] >= 2,
                              10)
        assert "timed out" in after[0]["components"]["webhook"]["last_error"]
        assert "refused" in after[1]["components"]["webhook"]["last_error"]
        for daemon in daemons:
            started = time.monotonic()
            assert daemon.stop() == 0 and time.monotonic() - started < 3


def test_roi_and_alarm_commands_reach_every_viewer_and_survive_a_restart(start_daemon,
                                                                         tmp_path):
    """roi and alarm commands from one viewer change every viewer's state; the header gains
    the region's values; /metrics and /alarms.json show them; after a restart the state
    file brings them back."""
    conf = tmp_path / "server.conf"
    conf.write_text("[Measurement]\nState_File = state.json\n")
    args = ("-c", str(conf), "--source", "simulated")
    daemon = start_daemon(*args)
    url = daemon.ws_url + "/stream"
    with connect(url, open_timeout=5) as a, connect(url, open_timeout=5) as b:
        next_json(a, "hello")
        next_json(b, "hello")
        a.send(json.dumps({"cmd": "roi", "op": "add", "name": "door", "box": [0, 0, 159, 59]}))
        a.send(json.dumps({"cmd": "roi", "op": "add", "name": "breaker", "spot": [80, 60],
                           "size": 3}))
        a.send(json.dumps({"cmd": "alarm", "op": "set", "name": "warm", "roi": "door",
                           "stat": "max", "above": 100, "hold_s": 2}))
        state = wait_state(b, "alarms", [{"name": "warm", "roi": "door", "stat": "max",
                                          "above": 100.0, "hysteresis": 1.0, "hold_s": 2.0,
                                          "webhook": False, "state": "ok", "since": None,
                                          "value": None, "raised": 0}])
        assert state["rois"] == [{"name": "door", "box": [0, 0, 159, 59]},
                                 {"name": "breaker", "spot": [80, 60], "size": 3}]
        a.send(json.dumps({"cmd": "roi", "op": "delete", "name": "door"}))
        error = next_json(a, "error")["error"]
        assert error == "region 'door' is watched by alarm(s) warm: delete or change them first"
        b.send(json.dumps({"cmd": "roi", "op": "rename", "name": "door", "to": "hall"}))
        state = wait_state(a, "rois", [{"name": "hall", "box": [0, 0, 159, 59]},
                                       {"name": "breaker", "spot": [80, 60], "size": 3}])
        assert wait_until(lambda: daemon.health()["state"]["alarms"][0]["roi"] == "hall", 5)
    # the alarm thread measures every frame, watched or not (the viewers have left)
    assert wait_until(lambda: (get_json(daemon, "/alarms.json")["alarms"][0]["current"]
                               or 0) > 15, 10)
    metrics = urllib.request.urlopen(daemon.http_url + "/metrics", timeout=5).read().decode()
    assert 'thermal_roi_temperature{roi="breaker",stat="mean"}' in metrics
    assert 'thermal_alarm_active{alarm="warm",roi="hall",stat="max"} 0' in metrics
    assert daemon.stop() == 0

    kept = json.loads((tmp_path / "state.json").read_text())
    assert [r["name"] for r in kept["rois"]] == ["hall", "breaker"]
    daemon = start_daemon(*args)
    assert "2 regions and 1 alarms from" in daemon.log()
    with connect(daemon.ws_url + "/stream", open_timeout=5) as c:
        hello = next_json(c, "hello")["state"]
        assert [r["name"] for r in hello["rois"]] == ["hall", "breaker"]
        assert hello["alarms"][0]["name"] == "warm" and hello["alarms"][0]["roi"] == "hall"
        deadline = time.monotonic() + 5
        while True:
            message = c.recv(timeout=max(deadline - time.monotonic(), 0.01))
            if isinstance(message, bytes):
                break
    header = json.loads(message[4:4 + int.from_bytes(message[:4], "big")])
    assert list(header["rois"]) == ["hall", "breaker"]
    assert set(header["rois"]["breaker"]) == {"min", "max", "mean", "min_pos", "max_pos"}
    assert 15 < header["rois"]["breaker"]["mean"] < 45


def test_an_alarm_records_while_it_holds(start_daemon, tmp_path):
    """With Record = event, an alarm starts a recording (trigger: the event) and the rule
    replaced by command so that it no longer holds ends it after Post_Seconds."""
    conf = tmp_path / "server.conf"
    conf.write_text(f"[Recording]\nRecord = event\nRecordings_Dir = {tmp_path / 'rec'}\n"
                    "Pre_Seconds = 0\nPost_Seconds = 0.5\n"
                    "[Alarm warm]\nROI = frame\nStat = max\nAbove = 0\n")
    (tmp_path / "rec").mkdir()
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    assert wait_until(lambda: daemon.health()["state"]["recording"]["state"] == "recording",
                      10), daemon.log()
    assert daemon.health()["state"]["alarms"][0]["state"] == "alarm"
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        ws.send(json.dumps({"cmd": "alarm", "op": "set", "name": "warm", "roi": "frame",
                            "stat": "max", "above": 500}))
        wait_state(ws, "alarms", [{"name": "warm", "roi": "frame", "stat": "max",
                                   "above": 500.0, "hysteresis": 1.0, "hold_s": 0.0,
                                   "webhook": False, "state": "ok", "since": None,
                                   "value": None, "raised": 0}])
    assert wait_until(lambda: daemon.health()["state"]["recording"]["state"] == "idle", 10)
    listing = get_json(daemon, "/recordings.json")
    assert len(listing["recordings"]) == 1, listing


def test_regions_and_alarms_become_home_assistant_entities_over_mqtt(start_daemon, tmp_path):
    """With [MQTT], the region's sensors and the alarm's binary sensor are announced and
    retained; the region's values come on roi/<name>; a region added by the roi command
    is announced and, deleted, emptied; the alarm's retained state turns alarm, then its
    event follows, and both return to ok when the box cools."""
    recording = write_scene(tmp_path, hot=range(20, 40), warm=range(0), length=60)
    base, discovery = "thermal/cam", "homeassistant"
    panel = [f"{discovery}/sensor/thermal_cam_roi_panel_{stat}/config"
             for stat in ("min", "max", "mean")]
    door = [config.replace("_panel_", "_door_") for config in panel]
    hot = f"{discovery}/binary_sensor/thermal_cam_alarm_hot/config"
    with mosquitto() as broker, Subscriber(broker.port, f"{discovery}/#", f"{base}/roi/#",
                                           f"{base}/alarm/#", f"{base}/cmd/result") as sub:
        conf = tmp_path / "server.conf"
        conf.write_text(f"[ROI panel]\nBox = 80 30 120 60\n[Alarm hot]\nROI = panel\n"
                        f"Stat = max\nAbove = 60\nHysteresis = 5\nHold_Seconds = 0.5\n"
                        f"[MQTT]\nBroker = {broker.url}\nCamera_ID = cam\n"
                        f"Stats_Interval = 0.25\nPublish_Frames = no\n"
                        "Commands = all\n")  # roi over MQTT needs all (default: control)
        daemon = start_daemon("-c", str(conf), "--source", "replay", "--replay", recording)
        assert sub.wait_for(lambda ms: {*panel, hot} <= {m.topic for m in ms}, 15)
        sensor = json.loads(sub.wait_on(panel[1]).payload)
        assert (sensor["state_topic"], sensor["device_class"], sensor["unit_of_measurement"]) \
            == (f"{base}/roi/panel", "temperature", "°C")
        assert json.loads(sub.wait_on(hot).payload)["device_class"] == "heat"
        values = json.loads(sub.wait_on(f"{base}/roi/panel", timeout_s=10).payload)
        assert set(values) == {"seq", "timestamp", "min", "max", "mean"}
        assert values["min"] == 22.0 and values["max"] in (22.0, 70.0)
        with Subscriber(broker.port, f"{discovery}/#") as late:
            assert late.wait_for(lambda ms: {*panel, hot} <= {m.topic for m in ms if m.retained},
                                 10)

        publish(broker.port, f"{base}/cmd",
                '{"cmd": "roi", "op": "add", "name": "door", "spot": [5, 5], "id": 1}')
        assert sub.wait_for(lambda ms: set(door) <= {m.topic for m in ms if m.payload}, 10)
        publish(broker.port, f"{base}/cmd", '{"cmd": "roi", "op": "delete", "name": "door"}')
        assert sub.wait_for(lambda ms: set(door) <= {m.topic for m in ms if not m.payload}, 10)
        assert sub.wait_for(lambda ms: len(sub.on(f"{base}/cmd/result")) == 2, 10)
        assert [json.loads(m.payload) for m in sub.on(f"{base}/cmd/result")] == [
            {"ok": True, "id": 1}, {"ok": True}]

        event = f"{base}/alarm/hot/event"
        raised = sub.wait_on(event, lambda m: json.loads(m.payload)["state"] == "alarm", 15)
        cleared = sub.wait_on(event, lambda m: json.loads(m.payload)["state"] == "ok"
                              and m.time >= raised.time, 15)
        assert json.loads(raised.payload)["value"] == 70.0
        assert json.loads(cleared.payload)["value"] == 22.0
        states = [(m, json.loads(m.payload)["state"]) for m in sub.on(f"{base}/alarm/hot/state")]
        assert states[0][1] == "ok"  # announced at connection
        on = next(m for m, state in states if state == "alarm")
        assert sub.messages.index(on) < sub.messages.index(raised)
        with Subscriber(broker.port, f"{base}/alarm/hot/state") as late:
            state = late.wait_on(f"{base}/alarm/hot/state", timeout_s=10)
            assert state.retained and json.loads(state.payload)["raised"] >= 1
        assert daemon.stop() == 0
