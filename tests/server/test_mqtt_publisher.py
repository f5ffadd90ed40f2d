"""server.mqtt_publisher in-process (real hub, state and renderer) against a real Mosquitto,
watched by mosquitto_sub: discovery, frames, state, commands, availability."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator

from server import colormaps
from server.commands import CommandRunner
from server.config import BrokerUrl
from server.ha_discovery import CameraDevice
from server.mqtt_link import BrokerSettings
from server.mqtt_publisher import MqttPublisher
from server.mqtt_topics import CameraTopics
from server.wire import parse_frame_message
from tests.conftest import wait_until
from tests.mosquitto import free_port, mosquitto
from tests.mqtt_clients import Message, Subscriber, publish
from tests.server.outputs import JOIN_TIMEOUT_S, Parts, no_ffc

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
               interval_s: float = 3600.0) -> Iterator[MqttPublisher]:
    """A publisher wired as the app wires it; its two threads stopped and joined on leaving."""
    settings = BrokerSettings(BrokerUrl("127.0.0.1", port, False), "publisher-test",
                              keepalive_s=5)
    publisher = MqttPublisher(settings, TOPICS, parts.hub, parts.state,
                              CommandRunner(parts.state, no_ffc, control_token),
                              parts.renderer.snapshot, discovery, publish_frames,
                              interval_s, interval_s)
    parts.state.add_listener(publisher.notify_state)
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
    its id; bad ones answer the WebSocket's error texts and change nothing."""
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
                {"ok": False, "id": "no-token",
                 "error": "this command needs the control token (Control_Token)"},
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
