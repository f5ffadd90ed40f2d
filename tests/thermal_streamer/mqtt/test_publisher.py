"""thermal_streamer.mqtt.publisher in-process (real hub, state and renderer) against a real
Mosquitto, watched by mosquitto_sub: discovery, frames, state, commands, availability, regions and
alarms."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator

from tests.conftest import wait_until
from tests.mosquitto import free_port, mosquitto
from tests.mqtt_clients import Message, Subscriber, publish, publish_lines
from tests.thermal_streamer.parts import JOIN_TIMEOUT_S, Parts, no_ffc, raw_frame
from thermal_streamer.config.values import BrokerUrl
from thermal_streamer.control import colormaps
from thermal_streamer.control.commands import CommandRunner
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.measure import regions
from thermal_streamer.measure.alarms import AlarmEvaluator, AlarmRule
from thermal_streamer.measure.meter import Meter, measure_frame
from thermal_streamer.measure.regions import Region
from thermal_streamer.mqtt.discovery import CameraDevice
from thermal_streamer.mqtt.link import BrokerSettings
from thermal_streamer.mqtt.publisher import MqttPublisher
from thermal_streamer.mqtt.topics import CameraTopics
from thermal_streamer.protocols.wire import parse_frame_message

TIMEOUT_S = 10.0
TOPICS = CameraTopics("thermal", "cam")


def device(**changes: object) -> CameraDevice:
    values: dict = {"topics": TOPICS, "discovery_prefix": "homeassistant",
                    "source_kind": "simulated", "raw": True, "controls": True, "can_ffc": True,
                    "colormaps": colormaps.names(), "expire_after_s": 10}
    return CameraDevice(**{**values, **changes})


@contextlib.contextmanager
def publishing(parts: Parts, port: int, control_token: str = "",
               discovery: CameraDevice | None = None, publish_frames: bool = True,
               interval_s: float = 3600.0,
               measuring: tuple[Meter, AlarmEvaluator] | None = None,
               **commands_options: object) -> Iterator[MqttPublisher]:
    """A publisher wired as the app wires it; its two threads stopped and joined on leaving.
    ``commands_options``: MqttPublisher's command_scope, command_rate_per_s, command_burst."""
    settings = BrokerSettings(BrokerUrl("127.0.0.1", port, False), "publisher-test",
                              keepalive_s=5)
    publisher = MqttPublisher(settings, TOPICS, parts.hub, parts.state,
                              CommandRunner(parts.state, no_ffc, control_token),
                              parts.renderer.snapshot,
                              measuring[0].measure if measuring else measure_frame,
                              discovery, publish_frames, interval_s, interval_s,
                              **commands_options)
    parts.state.add_listener(publisher.notify_state)
    if measuring is not None:
        measuring[1].add_listener(publisher.notify_alarm)
    stop = threading.Event()
    threads = [threading.Thread(target=publisher.link.run, name="mqtt-test"),
               threading.Thread(target=publisher.run, args=(stop,), name="mqtt-publisher-test")]
    for thread in threads:
        thread.start()
    try:
        yield publisher
    finally:
        stop.set()
        publisher.stop()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
            assert not thread.is_alive(), f"{thread.name} did not stop"


def test_discovery_is_retained_and_sent_again_on_home_assistants_birth():
    """On connecting: availability online and every config, retained; HA's birth message
    (homeassistant/status = online) makes the publisher send them again, and the state."""
    def all_configs(messages: list[Message]) -> bool:
        return sum(m.topic.endswith("/config") for m in messages) == 11

    with mosquitto() as broker, publishing(Parts(), broker.port, discovery=device()):
        with Subscriber(broker.port, "homeassistant/#") as first:
            assert first.wait_for(all_configs, TIMEOUT_S)  # sent: now they must be retained
        with Subscriber(broker.port, "homeassistant/#", "thermal/cam/#") as sub:
            assert sub.wait_for(all_configs, TIMEOUT_S)
            assert sub.wait_on("thermal/cam/availability").payload == b"online"
            assert all(m.retained for m in sub.messages)
            publish(broker.port, "homeassistant/status", "offline")  # HA going away: nothing
            publish(broker.port, "homeassistant/status", "online")
            assert sub.wait_for(lambda ms: sum(m.topic.endswith("/config") and not m.retained
                                               for m in ms) == 11, TIMEOUT_S)
            state = sub.wait_on("thermal/cam/state", lambda m: not m.retained)
            assert json.loads(state.payload)["running"] is True
            configs = {m.topic: m.payload for m in sub.messages if m.topic.endswith("/config")}
            camera = json.loads(configs["homeassistant/camera/thermal_cam_picture/config"])
            assert camera["topic"] == "thermal/cam/jpeg"


def test_each_frame_is_the_stream_message_retained():
    """Every published frame arrives on ``frame`` whole (header, JPEG, raw) and is retained;
    the publisher is a viewer of protocol mqtt while it publishes frames."""
    parts = Parts()
    with mosquitto() as broker, publishing(parts, broker.port) as publisher:
        assert wait_until(lambda: parts.hub.viewer_counts() == {"mqtt": 1}, TIMEOUT_S)
        assert wait_until(lambda: publisher.link.connected, TIMEOUT_S)
        with Subscriber(broker.port, TOPICS.frame) as sub:
            for count in range(1, 6):  # one at a time: none is skipped by the mailbox
                encoded = parts.publish()
                assert sub.wait_for(lambda ms, n=count: len(ms) == n, TIMEOUT_S)
                header, jpeg, raw = parse_frame_message(sub.messages[-1].payload)
                assert header == {**encoded.header, "raw": {"rows": 120, "cols": 160,
                                                            "dtype": "<u2",
                                                            "unit": "centikelvin"}}
                assert jpeg == encoded.jpeg
                assert raw == encoded.source_frame.pixels.astype("<u2").tobytes()
        with Subscriber(broker.port, TOPICS.frame) as late:
            newest = late.wait_on(TOPICS.frame)
            assert newest.retained and newest.payload == encoded.stream_message_raw
    viewer_totals = parts.hub.totals()["mqtt"]
    assert viewer_totals["frames_sent"] == 5
    counters = publisher.link.health().counters
    assert counters["published:thermal/cam/frame"] == 5


def test_commands_change_the_state_and_answer_on_cmd_result():
    """A valid command changes the shared state (published, retained) and answers ok with
    its id, without a token even with Control_Token set (the broker's ACL decides; was:
    refused); bad ones answer the WebSocket's error texts and change nothing."""
    parts = Parts()
    with mosquitto() as broker, publishing(parts, broker.port, control_token="s3cret") as pub:
        assert wait_until(lambda: pub.link.connected, TIMEOUT_S)
        with Subscriber(broker.port, TOPICS.cmd_result, TOPICS.state) as sub:
            assert sub.wait_on(TOPICS.state)  # subscribed: the retained state arrived
            commands = [
                '{"cmd": "set", "colormap": "ironbow", "token": "s3cret", "id": 1}',
                '{"cmd": "set", "colormap": "ironbow", "id": "no-token"}',
                '{"cmd": "set", "scale": 99, "token": "s3cret"}',
                'not json',
                '{"cmd": "ffc", "token": "s3cret", "id": 4}',
                '{"cmd": "stop", "pad": "' + "x" * 4096 + '"}',
            ]
            for command in commands:
                publish(broker.port, TOPICS.cmd, command)
            assert sub.wait_for(lambda ms: len([m for m in ms if m.topic == TOPICS.cmd_result])
                                == len(commands), TIMEOUT_S)
            results = [json.loads(m.payload) for m in sub.on(TOPICS.cmd_result)]
            assert results == [
                {"ok": True, "id": 1},
                {"ok": True, "id": "no-token"},
                {"ok": False, "error": "scale must be an integer from 1 to 8"},
                {"ok": False, "error": "malformed command: not valid JSON"},
                {"ok": False, "id": 4, "error": "ffc is only available with a Lepton camera"},
                {"ok": False, "error": "command too large: at most 4096 bytes"},
            ]
            state = sub.wait_on(TOPICS.state, lambda m: b"ironbow" in m.payload)
            assert not state.retained  # sent live, on the change
    assert parts.state.snapshot()["colormap"] == "ironbow"
    assert parts.state.running  # the oversized stop did nothing


def test_a_clean_stop_says_offline_and_the_state_is_retained():
    """stop() publishes availability offline (no will on a clean disconnect); the newest
    state stays retained for a late subscriber."""
    parts = Parts()
    with mosquitto() as broker:
        with publishing(parts, broker.port) as pub:
            assert wait_until(lambda: pub.link.connected, TIMEOUT_S)
            parts.state.set_running(False)
        with Subscriber(broker.port, TOPICS.availability, TOPICS.state) as sub:
            assert sub.wait_on(TOPICS.availability).payload == b"offline"
            assert json.loads(sub.wait_on(TOPICS.state).payload)["running"] is False


def test_without_a_broker_nothing_waits():
    """With no broker, state changes and frames go on at once; what could not be sent is
    counted as dropped; without Publish_Frames the publisher is no viewer."""
    parts = Parts()
    with publishing(parts, free_port()) as pub:
        assert wait_until(lambda: parts.hub.viewer_counts() == {"mqtt": 1}, TIMEOUT_S)
        parts.state.set_running(False)
        parts.state.set_running(True)
        parts.publish()
        assert wait_until(lambda: pub.link.health().counters.get(
            "dropped:thermal/cam/frame") == 1, TIMEOUT_S)
        assert pub.link.health().counters["dropped:thermal/cam/state"] >= 2
    parts = Parts()
    with publishing(parts, free_port(), publish_frames=False):
        parts.publish()
    assert "mqtt" not in parts.hub.totals()  # it never joined (totals keep departed viewers)


PANEL = Region.make_box("panel", 80, 30, 120, 60)
HOT = {"name": "hot", "roi": "panel", "stat": "max", "above": 60, "hysteresis": 5}


def measuring(parts: Parts, rules: tuple[dict, ...] = (HOT,)) -> tuple[Meter,
                                                                        AlarmEvaluator]:
    """A region meter with PANEL and an alarm evaluator, publishing their state parts as
    the app does (the evaluator is fed by hand: no thread)."""
    meter = Meter([PANEL], lambda part: parts.state.set_part("rois", part))
    alarms = AlarmEvaluator(parts.hub, meter.measure,
                            lambda part: parts.state.set_part("alarms", part),
                            [AlarmRule.from_json(rule) for rule in rules])
    return meter, alarms


def panel_at(celsius: float, seq: int) -> RawFrame:
    """raw_frame(seq) with the panel's box at ``celsius`` (its max, min and mean)."""
    frame = raw_frame(seq)
    frame.pixels[30:61, 80:121] = round((celsius + 273.15) * 100)
    return frame


def configs_of(messages: list[Message], kind: str) -> dict[str, bytes]:
    """The newest payload of each discovery topic whose object id has ``kind``."""
    return {m.topic: m.payload for m in messages
            if m.topic.startswith("homeassistant/") and kind in m.topic}


def test_discovery_follows_the_regions_and_alarms_as_they_change():
    """Each region's three sensors and each alarm's binary sensor are announced; a region
    added later is announced, a renamed or deleted one and a deleted alarm get
    empty retained configs (and the alarm's retained state is emptied), so a late
    subscriber finds only what exists."""
    parts = Parts()
    meter, alarms = measuring(parts)
    panel = [f"homeassistant/sensor/thermal_cam_roi_panel_{s}/config" for s in regions.STATS]
    spot = [f"homeassistant/sensor/thermal_cam_roi_spot_d1_{s}/config" for s in regions.STATS]
    moved = [f"homeassistant/sensor/thermal_cam_roi_spot-2_{s}/config" for s in regions.STATS]
    hot = "homeassistant/binary_sensor/thermal_cam_alarm_hot/config"
    with mosquitto() as broker, publishing(parts, broker.port, discovery=device(),
                                           measuring=(meter, alarms)):
        with Subscriber(broker.port, "homeassistant/#", "thermal/cam/alarm/#") as sub:
            assert sub.wait_for(lambda ms: len(configs_of(ms, "/config")) == 11 + 3 + 1)
            state = json.loads(sub.wait_on(TOPICS.alarm_state("hot")).payload)
            assert (state["name"], state["state"], state["roi"]) == ("hot", "ok", "panel")
            binary = json.loads(configs_of(sub.messages, hot)[hot])
            assert (binary["device_class"], binary["state_topic"]) == (
                "heat", "thermal/cam/alarm/hot/state")

            meter.change(lambda rs: regions.added(rs, Region.make_spot("spot.1", 5, 5)))
            assert sub.wait_for(lambda ms: set(spot) <= set(configs_of(ms, "_roi_spot")),
                                TIMEOUT_S)
            sensor = json.loads(configs_of(sub.messages, spot[1])[spot[1]])
            assert (sensor["name"], sensor["state_topic"]) == ("spot.1 max",
                                                               "thermal/cam/roi/spot.1")
            meter.change(lambda rs: regions.renamed(rs, "spot.1", "spot-2"))
            alarms.delete_rule("hot")
            meter.change(lambda rs: regions.deleted(rs, "panel"))
            assert sub.wait_for(lambda ms: [configs_of(ms, t).get(t) for t in (*spot, *panel)]
                                == [b""] * 6, TIMEOUT_S)
            assert sub.wait_on(hot, lambda m: m.payload == b"", TIMEOUT_S)
            assert sub.wait_on(TOPICS.alarm_state("hot"), lambda m: m.payload == b"", TIMEOUT_S)
            assert set(moved) <= set(configs_of(sub.messages, "_roi_spot-2"))
        with Subscriber(broker.port, "homeassistant/#", "thermal/cam/alarm/#") as late:
            assert late.wait_for(lambda ms: ms, TIMEOUT_S)  # subscribed: retained ones came
            publish(broker.port, "thermal/cam/alarm/end", "")  # after every retained one
            assert late.wait_on("thermal/cam/alarm/end", timeout_s=TIMEOUT_S)
            retained = {m.topic for m in late.messages if m.retained}
            assert len(retained) == 11 + 3
            assert set(moved) <= retained and not retained & {*panel, *spot, hot}


def test_region_values_and_alarm_states_and_events():
    """Every Stats_Interval each region's min, max and mean (°C) on roi/<name>; an alarm
    transition sets the retained alarm/<name>/state (before) and publishes the transition
    on alarm/<name>/event."""
    parts = Parts()
    meter, alarms = measuring(parts)
    with mosquitto() as broker, publishing(parts, broker.port, interval_s=0.05,
                                           measuring=(meter, alarms)) as pub:
        assert wait_until(lambda: pub.link.connected, TIMEOUT_S)
        with Subscriber(broker.port, "thermal/cam/roi/#", "thermal/cam/alarm/#") as sub:
            assert sub.wait_on(TOPICS.alarm_state("hot"))  # subscribed: the retained ok
            frame = panel_at(70.0, 1)
            parts.publish(frame)
            seq = parts.hub.raw.latest()[0]
            values = sub.wait_on(TOPICS.roi("panel"), lambda m: json.loads(m.payload)["seq"]
                                 == seq, TIMEOUT_S)
            assert json.loads(values.payload) == {"seq": seq, "timestamp": 1.5e9, "min": 70.0,
                                                  "max": 70.0, "mean": 70.0}
            raised = alarms.evaluate(seq, frame)
            event = sub.wait_on(TOPICS.alarm_event("hot"), timeout_s=TIMEOUT_S)
            assert json.loads(event.payload) == raised[0].as_json() == {
                "alarm": "hot", "state": "alarm", "time": 1.5e9, "value": 70.0, "unit": "C",
                "roi": "panel", "stat": "max", "above": 60.0, "hysteresis": 5.0, "hold_s": 0.0}
            states = sub.on(TOPICS.alarm_state("hot"))
            assert json.loads(states[-1].payload)["state"] == "alarm"
            assert sub.messages.index(states[-1]) < sub.messages.index(event)
            cleared = alarms.evaluate(seq + 1, panel_at(22.0, 2))
            assert [t.state.value for t in cleared] == ["ok"]
            assert sub.wait_for(lambda ms: len(sub.on(TOPICS.alarm_event("hot"))) == 2,
                                TIMEOUT_S)
            assert json.loads(sub.on(TOPICS.alarm_event("hot"))[1].payload)["state"] == "ok"
            assert json.loads(sub.on(TOPICS.alarm_state("hot"))[-1].payload)["state"] == "ok"
            assert not any(m.retained for m in sub.on(TOPICS.alarm_event("hot")))
        with Subscriber(broker.port, TOPICS.alarm_state("hot")) as late:
            state = late.wait_on(TOPICS.alarm_state("hot"))
            assert state.retained and json.loads(state.payload)["raised"] == 1


# -- the cmd topic as a trust boundary (issue 17)

CMD_COUNTER = "{}:thermal/cam/cmd"


def test_a_retained_command_never_runs_and_is_counted(caplog):
    """A command the broker retained (it would run again on every connection) is dropped
    unrun, counted retained_dropped:<topic> and logged once with the fix; a live one runs
    (was: the retained stop ran on every connection)."""
    caplog.set_level(logging.WARNING, "thermal_streamer.mqtt.link")
    parts = Parts()
    with mosquitto() as broker:
        publish(broker.port, TOPICS.cmd, '{"cmd": "stop", "id": "kept"}', "-r")
        with Subscriber(broker.port, TOPICS.cmd_result) as sub, \
                publishing(parts, broker.port) as pub:
            assert wait_until(lambda: pub.link.health().counters.get(
                CMD_COUNTER.format("retained_dropped")) == 1, TIMEOUT_S)
            publish(broker.port, TOPICS.cmd, '{"cmd": "set", "colormap": "ironbow", "id": 2}')
            assert sub.wait_on(TOPICS.cmd_result)
            assert [json.loads(m.payload) for m in sub.on(TOPICS.cmd_result)] == [
                {"ok": True, "id": 2}]
        assert parts.state.running
        assert parts.state.snapshot()["colormap"] == "ironbow"
    lines = [r.getMessage() for r in caplog.records if r.name == "thermal_streamer.mqtt.link"]
    assert lines == ["mqtt: dropped a retained message on thermal/cam/cmd without running it "
                     "(a retained command would run again after every restart); remove it "
                     "from the broker: mosquitto_pub -r -n -t 'thermal/cam/cmd', and publish "
                     "commands without the retain flag"]


def test_commands_over_command_rate_are_dropped_counted_and_answered(caplog):
    """More commands at once than Command_Burst (all MQTT senders share one bucket): the
    excess does not run, is answered "too many commands" with its id and counted
    rate_limited:<topic>, and logged once, not per command (was: no limit)."""
    caplog.set_level(logging.INFO, "thermal_streamer.mqtt.publisher")
    parts = Parts()
    with mosquitto() as broker, publishing(parts, broker.port, command_rate_per_s=0.1,
                                           command_burst=2) as pub:
        assert wait_until(lambda: pub.link.connected, TIMEOUT_S)
        with Subscriber(broker.port, TOPICS.cmd_result, TOPICS.state) as sub:
            assert sub.wait_on(TOPICS.state)  # subscribed
            publish_lines(broker.port, TOPICS.cmd, [
                json.dumps({"cmd": "set", "scale": n, "id": n}) for n in range(1, 6)])
            assert sub.wait_for(lambda ms: len([m for m in ms if m.topic == TOPICS.cmd_result])
                                == 5, TIMEOUT_S)
            results = [json.loads(m.payload) for m in sub.on(TOPICS.cmd_result)]
        too_many = "too many commands: at most 0.1 a second on MQTT (Command_Rate)"
        assert results == [{"ok": True, "id": 1}, {"ok": True, "id": 2},
                           *({"ok": False, "id": n, "error": too_many} for n in (3, 4, 5))]
        assert pub.link.health().counters[CMD_COUNTER.format("rate_limited")] == 3
    assert parts.state.snapshot()["scale"] == 2
    lines = [r.getMessage() for r in caplog.records if "Command_Rate" in r.getMessage()]
    assert lines == ["mqtt: commands on thermal/cam/cmd arrive faster than Command_Rate = 0.1 "
                     "a second: the excess is dropped (each is answered on "
                     "thermal/cam/cmd/result)"]


def test_commands_control_refuses_other_commands_naming_the_setting():
    """[MQTT] Commands = control runs start, stop, set, ffc and refuses the others with an
    answer naming the setting, counted refused:<topic>; all hands them to the runner
    (here one without recordings: unknown). Was: every command ran."""
    delete = '{"cmd": "delete_recording", "name": "a.tsrec", "id": 9}'
    for scope, error in [
            ("control", "command 'delete_recording' is not allowed over MQTT ([MQTT] Commands "
                        "= control allows start, stop, set, ffc; all allows every command)"),
            ("all", "unknown command 'delete_recording'; commands: start, stop, set, ffc")]:
        with mosquitto() as broker, publishing(Parts(), broker.port,
                                               command_scope=scope) as pub:
            assert wait_until(lambda p=pub: p.link.connected, TIMEOUT_S)
            with Subscriber(broker.port, TOPICS.cmd_result, TOPICS.state) as sub:
                assert sub.wait_on(TOPICS.state)
                publish(broker.port, TOPICS.cmd, delete)
                result = sub.wait_on(TOPICS.cmd_result)
            assert result is not None and json.loads(result.payload) == {
                "ok": False, "id": 9, "error": error}
            refused = pub.link.health().counters.get(CMD_COUNTER.format("refused"), 0)
            assert refused == (1 if scope == "control" else 0)


def test_commands_none_does_not_subscribe_to_cmd():
    """[MQTT] Commands = none: the cmd topic is not subscribed, so a stop published there
    does nothing and gets no answer (was: it stopped the camera)."""
    parts = Parts()
    with mosquitto() as broker, publishing(parts, broker.port, discovery=device(),
                                           command_scope="none") as pub:
        assert wait_until(lambda: "homeassistant/status" in broker.log(), TIMEOUT_S)
        assert wait_until(lambda: pub.link.connected, TIMEOUT_S)
        with Subscriber(broker.port, TOPICS.cmd_result, TOPICS.state) as sub:
            assert sub.wait_on(TOPICS.state)
            publish(broker.port, TOPICS.cmd, '{"cmd": "stop", "id": 1}')
            publish(broker.port, "homeassistant/status", "online")  # handled after the stop
            assert sub.wait_on(TOPICS.state, lambda m: not m.retained)
            assert not sub.on(TOPICS.cmd_result)
    assert parts.state.running
    assert "thermal/cam/cmd" not in broker_subscriptions(broker.log())


def broker_subscriptions(log: str) -> list[str]:
    """The topic filters Mosquitto logged as subscribed (``log_type all``: a tab, the
    filter, `` (QoS n)``)."""
    return [line.split("\t", 1)[1].rsplit(" (QoS", 1)[0] for line in log.splitlines()
            if "\t" in line and " (QoS" in line]


def test_a_burst_of_births_resends_discovery_once():
    """Five Home Assistant births at once give one re-send of the discovery and state (at
    most one per 10 s); the other four are counted births_ignored (was: five re-sends)."""
    def live_configs(messages: list[Message]) -> int:
        return sum(m.topic.endswith("/config") and not m.retained for m in messages)

    with mosquitto() as broker, publishing(Parts(), broker.port, discovery=device()) as pub, \
            Subscriber(broker.port, "homeassistant/#", TOPICS.state) as sub:
        assert sub.wait_for(lambda ms: sum(m.topic.endswith("/config") for m in ms) == 11,
                            TIMEOUT_S)
        publish_lines(broker.port, "homeassistant/status", ["online"] * 5)
        assert wait_until(lambda: pub.link.health().counters.get(
            "births_ignored:homeassistant/status") == 4, TIMEOUT_S)
        assert sub.wait_on(TOPICS.state, lambda m: not m.retained)  # the re-send's last
        assert live_configs(sub.messages) == 11
        assert len([m for m in sub.on(TOPICS.state) if not m.retained]) == 1


def test_counts_of_deleted_regions_and_alarms_are_forgotten():
    """300 region renames (and a deleted alarm) leave no per-topic counts of the old
    names in the link's health, so /metrics does not grow with every name ever used."""
    parts = Parts()
    meter, alarms = measuring(parts)
    with mosquitto() as broker, publishing(parts, broker.port, discovery=device(),
                                           measuring=(meter, alarms)) as publisher:
        assert wait_until(lambda: publisher.link.connected, TIMEOUT_S)
        meter.change(lambda rs: regions.added(rs, Region.make_spot("s0", 5, 5)))
        for i in range(300):
            meter.change(lambda rs, i=i: regions.renamed(rs, f"s{i}", f"s{i + 1}"))
        alarms.delete_rule("hot")
        assert wait_until(lambda: not any(
            "_roi_s1_" in key or "/roi/s1" in key or "alarm/hot" in key or "alarm_hot" in key
            for key in publisher.link.health().counters), TIMEOUT_S)
        counters = publisher.link.health().counters
        assert any("_roi_s300_" in key for key in counters)
        assert len(counters) < 60, sorted(counters)


def test_a_huge_command_is_never_sent_to_the_camera():
    """A 1 MiB message on cmd is dropped by the broker (the link's CONNECT says Maximum
    Packet Size): no answer, no memory; the next command runs (was: delivered whole)."""
    parts = Parts()
    with mosquitto() as broker, publishing(parts, broker.port) as pub:
        assert wait_until(lambda: pub.link.connected, TIMEOUT_S)
        with Subscriber(broker.port, TOPICS.cmd_result, TOPICS.state) as sub:
            assert sub.wait_on(TOPICS.state)  # subscribed
            publish(broker.port, TOPICS.cmd, '{"cmd": "stop", "pad": "' + "x" * 2**20 + '"}')
            publish(broker.port, TOPICS.cmd, '{"cmd": "set", "scale": 3, "id": 7}')
            assert sub.wait_on(TOPICS.cmd_result)
            assert [json.loads(m.payload) for m in sub.on(TOPICS.cmd_result)] == [
                {"ok": True, "id": 7}]
    assert parts.state.running and parts.state.snapshot()["scale"] == 3
