"""thermal_streamer.mqtt.discovery: the discovery payloads, checked against Home Assistant's
schema."""

from __future__ import annotations

import json
import re

import pytest

from thermal_streamer.config.loader import load_config
from thermal_streamer.control import colormaps
from thermal_streamer.control.commands import parse_command
from thermal_streamer.mqtt.discovery import (
    CameraDevice,
    birth_topic,
    discovery_messages,
    entities,
    object_key,
)
from thermal_streamer.mqtt.topics import CameraTopics
from thermal_streamer.sources.factory import make_source

TOPICS = CameraTopics("thermal", "garage")

# What Home Assistant's documentation requires of each platform's discovery payload
# (integrations/<platform>.mqtt: "required: true"), and the options each one documents.
REQUIRED = {"camera": {"topic"}, "sensor": {"state_topic"},
            "select": {"command_topic", "options"}, "switch": {"command_topic"},
            "button": {"command_topic"}, "binary_sensor": {"state_topic"}}
COMMON = {"name", "unique_id", "device", "origin", "availability", "entity_category", "icon",
          "enabled_by_default", "encoding", "json_attributes_topic", "qos"}
DOCUMENTED = {
    "camera": COMMON | {"topic", "image_encoding"},
    "sensor": COMMON | {"state_topic", "value_template", "device_class", "state_class",
                        "unit_of_measurement", "expire_after", "force_update",
                        "suggested_display_precision"},
    "select": COMMON | {"command_topic", "command_template", "options", "state_topic",
                        "value_template", "optimistic", "retain"},
    "switch": COMMON | {"command_topic", "state_topic", "payload_on", "payload_off", "state_on",
                        "state_off", "value_template", "optimistic", "retain", "device_class"},
    "button": COMMON | {"command_topic", "payload_press", "command_template", "retain",
                        "device_class"},
    "binary_sensor": COMMON | {"state_topic", "value_template", "payload_on", "payload_off",
                               "device_class", "expire_after", "force_update", "off_delay"},
}
# binary_sensor.mqtt's device_class: one of binary_sensor's classes ("heat": on means hot)
BINARY_SENSOR_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold",
                         "connectivity", "door", "garage_door", "gas", "heat", "light", "lock",
                         "moisture", "motion", "moving", "occupancy", "opening", "plug",
                         "power", "presence", "problem", "running", "safety", "smoke", "sound",
                         "tamper", "update", "vibration", "window"}
DISCOVERY_TOPIC = re.compile(r"homeassistant/(camera|sensor|select|switch|button|binary_sensor)/"
                             r"([a-zA-Z0-9_-]+)/config")


def camera(**changes: object) -> CameraDevice:
    values: dict = {"topics": TOPICS, "discovery_prefix": "homeassistant",
                    "source_kind": "lepton", "raw": True, "controls": True, "can_ffc": True,
                    "colormaps": colormaps.names(), "expire_after_s": 10,
                    "configuration_url": "http://garage-pi:8080/"}
    return CameraDevice(**{**values, **changes})


def configs(device: CameraDevice, regions: tuple[str, ...] = (),
            alarms: tuple[str, ...] = ()) -> dict[str, dict]:
    """The announced configs by discovery topic (empty payloads left out)."""
    return {topic: json.loads(payload) for topic, payload
            in discovery_messages(device, regions, alarms) if payload}


def test_every_payload_follows_the_documented_schema():
    """Each config has its platform's required options, only documented ones, and the
    unique_id, device, origin and availability Home Assistant needs."""
    announced = configs(camera(), ("panel", "hot_end.2"), ("panel-hot",))
    assert len(announced) == 11 + 2 * 3 + 1
    for topic, config in announced.items():
        component, object_id = DISCOVERY_TOPIC.fullmatch(topic).groups()
        assert REQUIRED[component] <= set(config), topic
        assert set(config) <= DOCUMENTED[component], set(config) - DOCUMENTED[component]
        assert config["unique_id"] == object_id  # HA's best practice: object_id = unique_id
        assert config["device"] == {"identifiers": ["thermal_garage"],
                                    "name": "Thermal camera garage",
                                    "model": "thermal-camera (lepton source)",
                                    "configuration_url": "http://garage-pi:8080/"}
        assert config["origin"] == {"name": "thermal-camera"}
        assert config["availability"] == [{"topic": "thermal/garage/availability"}]
        assert config.get("entity_category") in (None, "config", "diagnostic")
        if component == "sensor" and "entity_category" in config:
            assert config["entity_category"] == "diagnostic"  # the only one sensors allow
        if component == "binary_sensor":
            assert config["device_class"] in BINARY_SENSOR_CLASSES


def test_the_entities():
    """The picture, five temperature sensors, the frame rate, two selects, a switch, a button."""
    announced = configs(camera())
    assert announced["homeassistant/camera/thermal_garage_picture/config"]["topic"] == \
        "thermal/garage/jpeg"
    assert announced["homeassistant/camera/thermal_garage_picture/config"]["name"] is None
    for key, field in (("max", "max"), ("min", "min"), ("mean", "mean"), ("center", "center"),
                       ("fpa", "fpa_temp_c")):
        sensor = announced[f"homeassistant/sensor/thermal_garage_{key}/config"]
        assert sensor["state_topic"] == "thermal/garage/stats"
        assert (sensor["device_class"], sensor["state_class"], sensor["unit_of_measurement"],
                sensor["expire_after"]) == ("temperature", "measurement", "°C", 10)
        assert sensor["value_template"] == f"{{{{ value_json.{field} }}}}"
    fps = announced["homeassistant/sensor/thermal_garage_fps/config"]
    assert (fps["unit_of_measurement"], fps["value_template"]) == ("fps", "{{ value_json.fps }}")
    palette = announced["homeassistant/select/thermal_garage_palette/config"]
    assert palette["options"][:4] == ["ironbow", "rainbow", "white-hot", "black-hot"]
    assert (palette["command_topic"], palette["state_topic"]) == ("thermal/garage/cmd",
                                                                  "thermal/garage/state")
    assert palette["command_template"] == '{"cmd": "set", "colormap": {{ value | tojson }}}'
    agc = announced["homeassistant/select/thermal_garage_agc/config"]
    assert agc["options"] == ["linear", "percentile", "histogram", "fixed"]
    running = announced["homeassistant/switch/thermal_garage_running/config"]
    assert (running["payload_on"], running["payload_off"]) == ('{"cmd": "start"}',
                                                               '{"cmd": "stop"}')
    assert running["value_template"] == "{{ 'ON' if value_json.running else 'OFF' }}"
    assert (running["state_on"], running["state_off"]) == ("ON", "OFF")
    ffc = announced["homeassistant/button/thermal_garage_ffc/config"]
    assert (ffc["command_topic"], ffc["payload_press"]) == ("thermal/garage/cmd",
                                                           '{"cmd": "ffc"}')


def test_command_payloads_are_commands_the_daemon_accepts():
    """What HA sends (payload_on/off/press, command_template with a value) parses as a command."""
    announced = configs(camera())
    running = announced["homeassistant/switch/thermal_garage_running/config"]
    assert parse_command(running["payload_on"]) == {"cmd": "start"}
    assert parse_command(running["payload_off"]) == {"cmd": "stop"}
    ffc = announced["homeassistant/button/thermal_garage_ffc/config"]
    assert parse_command(ffc["payload_press"]) == {"cmd": "ffc"}
    for key, value in (("palette", "ironbow"), ("agc", "histogram")):
        template = announced[f"homeassistant/select/thermal_garage_{key}/config"][
            "command_template"]
        rendered = template.replace("{{ value | tojson }}", json.dumps(value))  # what Jinja does
        command = parse_command(rendered)
        assert command["cmd"] == "set" and value in command.values()


def test_what_a_camera_lacks_is_removed():
    """An entity the camera does not have gets an empty retained payload (HA deletes it)."""
    image = dict(discovery_messages(camera(raw=False, can_ffc=False, source_kind="file")))
    assert {topic for topic, payload in image.items() if payload} == {
        "homeassistant/camera/thermal_garage_picture/config",
        "homeassistant/sensor/thermal_garage_fps/config",
        "homeassistant/switch/thermal_garage_running/config"}
    assert image["homeassistant/button/thermal_garage_ffc/config"] == b""
    assert len(image) == 11  # the same topics every time, announced or emptied


def test_no_controls_without_commands():
    """With [MQTT] Commands = none the selects, switch and button are not announced."""
    announced = {topic.split("/")[1] for topic in configs(camera(controls=False))}
    assert announced == {"camera", "sensor"}
    assert sum(config is not None for config in entities(camera(controls=False)).values()) == 7


def test_topics_and_birth():
    """Another discovery prefix moves every config topic and the birth topic with it."""
    device = camera(discovery_prefix="ha", configuration_url="")
    assert all(topic.startswith("ha/") for topic, _ in discovery_messages(device))
    assert "configuration_url" not in device.device()
    assert birth_topic("ha") == "ha/status"


def test_each_region_gets_three_temperature_sensors_from_its_own_topic():
    """A region's max, min and mean: °C sensors on .../roi/<name>, ids from its name."""
    announced = configs(camera(), regions=("panel", "hot_end.2"))
    for name, key in (("panel", "panel"), ("hot_end.2", "hot__end_d2")):
        for stat in ("min", "max", "mean"):
            topic = f"homeassistant/sensor/thermal_garage_roi_{key}_{stat}/config"
            sensor = announced[topic]
            assert {k: v for k, v in sensor.items()
                    if k not in ("device", "origin", "availability")} == {
                "name": f"{name} {stat}", "unique_id": f"thermal_garage_roi_{key}_{stat}",
                "state_topic": f"thermal/garage/roi/{name}",
                "value_template": f"{{{{ value_json.{stat} }}}}",
                "device_class": "temperature", "state_class": "measurement",
                "unit_of_measurement": "°C", "suggested_display_precision": 1,
                "expire_after": 10}


def test_each_alarm_gets_a_heat_binary_sensor_from_its_retained_state():
    """An alarm rule: a binary_sensor of device_class heat, ON while its state is alarm."""
    announced = configs(camera(), alarms=("panel-hot",))
    sensor = announced["homeassistant/binary_sensor/thermal_garage_alarm_panel-hot/config"]
    assert {k: v for k, v in sensor.items()
            if k not in ("device", "origin", "availability")} == {
        "name": "panel-hot", "unique_id": "thermal_garage_alarm_panel-hot",
        "device_class": "heat", "state_topic": "thermal/garage/alarm/panel-hot/state",
        "json_attributes_topic": "thermal/garage/alarm/panel-hot/state",
        "value_template": "{{ 'ON' if value_json.state == 'alarm' else 'OFF' }}",
        "payload_on": "ON", "payload_off": "OFF"}
    assert sensor["device"] == camera().device()


def test_object_keys_are_topic_safe_and_never_shared():
    """Names map to [a-zA-Z0-9_-] keys, one key per name, none the prefix of another's
    key plus a statistic."""
    names = ["a", "a_", "a.", "a_d", "a__", "a_max", "A", "a-b", "a.b", "a_b", "a_db"]
    keys = [object_key(name) for name in names]
    assert keys == ["a", "a__", "a_d", "a__d", "a____", "a__max", "A", "a-b", "a_db", "a__b",
                    "a__db"]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]+", key) for key in keys)
    region_ids = [f"{key}_{stat}" for key in keys for stat in ("min", "max", "mean")]
    assert len(set(region_ids)) == len(region_ids)


def test_regions_and_alarms_need_raw_frames():
    """A source of ready-made pictures measures nothing: no region or alarm entities."""
    image = discovery_messages(camera(raw=False), ("panel",), ("panel-hot",))
    assert image == discovery_messages(camera(raw=False))


@pytest.mark.parametrize("lines, controls, expire_after_s", [
    ("", True, 10),  # Stats_Interval 1 s: three missed would be 3 s, but at least 10 s
    ("Stats_Interval = 5\n", True, 15),
    ("Commands = none\n", False, 10),
    ("[Security]\nControl_Token = secret-0123456789ab\n", True, 10),  # was: False
])
def test_the_device_from_the_config(tmp_path, lines, controls, expire_after_s):
    """CameraDevice.from_config: the source's kind and abilities, controls unless Commands =
    none (a Control_Token no longer hides them: MQTT asks no token), sensors expiring
    after three missed stats messages (at least 10 s)."""
    path = tmp_path / "server.conf"
    path.write_text(f"[MQTT]\nBroker = mqtt://127.0.0.1:1883\nCamera_ID = cam1\n{lines}")
    config = load_config(["-c", str(path), "--source", "simulated"])
    source = make_source(config)
    device = CameraDevice.from_config(config, CameraTopics("thermal", "cam1"), source,
                                      "http://pi:8080/")
    assert (device.discovery_prefix, device.source_kind, device.raw, device.can_ffc) == (
        "homeassistant", "simulated", True, source.can_ffc)
    assert (device.controls, device.expire_after_s) == (controls, expire_after_s)
    assert device.configuration_url == "http://pi:8080/"
    assert list(device.colormaps) == colormaps.names()
