"""Home Assistant MQTT discovery: the config messages that make one camera a device there.

Pure: a :class:`CameraDevice` in, ``(topic, payload)`` pairs out. Every field name and
value follows Home Assistant's documentation (home-assistant.io, source of each fact):

- ``integrations/mqtt`` "MQTT Discovery": the topic
  ``<discovery_prefix>/<component>/<object_id>/config`` ("best practice for entities with
  a ``unique_id`` is to set ``<object_id>`` to ``unique_id`` and omit the ``<node_id>``",
  characters ``[a-zA-Z0-9_-]``); the payload is a JSON object checked like
  configuration.yaml, unknown keys ignored; an empty payload deletes the entity;
  ``origin`` (``name`` required) is recommended; the birth message ``online`` on
  ``<discovery_prefix>/status`` is the signal to (re)send discovery.
- ``integrations/mqtt`` "Using Availability topics": ``availability`` is a list of
  ``{"topic"}`` with ``payload_available`` ``online`` and ``payload_not_available``
  ``offline`` by default.
- ``integrations/camera.mqtt``: ``topic`` (required), the raw image bytes.
- ``integrations/sensor.mqtt``: ``state_topic`` (required), ``value_template``,
  ``device_class``, ``state_class``, ``unit_of_measurement``, ``expire_after`` (integer
  seconds), ``suggested_display_precision``; ``entity_category`` must be ``diagnostic``
  for sensors; a template result of ``None`` makes the state unknown.
- ``integrations/select.mqtt``: ``command_topic`` and ``options`` (required),
  ``command_template``, ``state_topic``, ``value_template``.
- ``integrations/switch.mqtt``: ``command_topic`` (required), ``payload_on`` /
  ``payload_off`` (sent as commands), ``state_on`` / ``state_off`` (compared with the
  ``value_template`` result).
- ``integrations/button.mqtt``: ``command_topic`` (required), ``payload_press``.
- ``integrations/binary_sensor.mqtt``: ``state_topic`` (required), ``value_template``
  whose result is compared with ``payload_on`` (default ``ON``) and ``payload_off``
  (default ``OFF``), ``device_class`` (``heat``: on means hot), ``json_attributes_topic``
  (a JSON object whose keys become the entity's attributes).
- Every platform: ``name`` (``null`` names the entity after its device), ``unique_id``,
  ``device`` (``identifiers``, ``name``, ``model``, ``configuration_url``: http(s) only),
  ``entity_category`` (``config`` or ``diagnostic``), ``icon``.

Besides the camera's fixed entities, each measurement region gets three sensors (its max,
min and mean) and each alarm rule a ``binary_sensor``; their unique ids are made from the
region's or rule's name by :func:`object_key`, so they stay the same across restarts.

The payloads on the camera's own topics are described in docs/protocol.md (MQTT).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

from thermal_streamer.config.loader import Config
from thermal_streamer.control import colormaps
from thermal_streamer.control.render_settings import AGC_MODES
from thermal_streamer.core.source import Source
from thermal_streamer.measure.regions import STATS
from thermal_streamer.mqtt.topics import CameraTopics

ORIGIN = {"name": "thermal-camera"}
BIRTH_ONLINE = b"online"  # Home Assistant's default birth payload
TEMPERATURE_PRECISION = 1  # decimals Home Assistant shows (the values carry 0.01)
EXPIRE_INTERVALS = 3  # the sensors expire after this many missed stats messages
EXPIRE_MIN_S = 10  # ... but not sooner than this (seconds)


def birth_topic(discovery_prefix: str) -> str:
    """Where Home Assistant publishes its birth message (``online``) when it (re)starts."""
    return f"{discovery_prefix}/status"


@dataclasses.dataclass(frozen=True)
class CameraDevice:
    """What Home Assistant is told about one camera.

    Attributes:
        topics: the camera's topics (state, stats, jpeg, availability, cmd).
        discovery_prefix: Home Assistant's discovery prefix (``homeassistant``).
        source_kind: the daemon's source ("lepton", "simulated", "file", ...), the model.
        raw: the source has pixel values (raw frames): announce the temperature sensors
            (unknown for a source in counts) and the palette and AGC selects.
        controls: commands need no control token: announce the selects, switch and
            button (a token would have to travel in the retained discovery messages,
            readable by every client of the broker).
        can_ffc: the camera can run a flat-field correction: announce its button.
        colormaps: the palette names the palette select offers.
        expire_after_s: seconds without a stats message after which the sensors become
            unavailable (> 0).
        configuration_url: the viewer page (``http://HOST:PORT/``), or "" for none.
    """

    topics: CameraTopics
    discovery_prefix: str
    source_kind: str
    raw: bool
    controls: bool
    can_ffc: bool
    colormaps: Sequence[str]
    expire_after_s: int
    configuration_url: str = ""

    @classmethod
    def from_config(cls, config: Config, topics: CameraTopics, source: Source,
                    configuration_url: str) -> CameraDevice:
        """The device ``[MQTT]`` announces for ``source`` (``Discovery_Prefix`` must be set):
        controls unless ``[MQTT] Commands = none`` (no token is asked over MQTT: a
        ``Control_Token`` no longer hides them), the sensors expiring after
        EXPIRE_INTERVALS missed ``stats`` messages (at least EXPIRE_MIN_S seconds)."""
        assert config.mqtt_discovery_prefix, "[MQTT] Discovery_Prefix is empty: no discovery"
        return cls(topics, config.mqtt_discovery_prefix, source.kind, raw=source.has_raw,
                   controls=config.mqtt_commands != "none", can_ffc=source.can_ffc,
                   colormaps=colormaps.names(),
                   expire_after_s=max(EXPIRE_MIN_S, math.ceil(EXPIRE_INTERVALS
                                                              * config.mqtt_stats_interval_s)),
                   configuration_url=configuration_url)

    @property
    def device_id(self) -> str:
        return f"thermal_{self.topics.camera_id}"

    def device(self) -> dict[str, Any]:
        """The ``device`` mapping shared by every entity (ties them into one device)."""
        device: dict[str, Any] = {"identifiers": [self.device_id],
                                  "name": f"Thermal camera {self.topics.camera_id}",
                                  "model": f"thermal-camera ({self.source_kind} source)"}
        if self.configuration_url:
            device["configuration_url"] = self.configuration_url
        return device


def _temperature(name: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "device_class": "temperature", "state_class": "measurement",
            "unit_of_measurement": "°C", "suggested_display_precision": TEMPERATURE_PRECISION,
            "value_template": f"{{{{ value_json.{key} }}}}", **extra}


def _set_select(name: str, field: str, options: Sequence[str], icon: str) -> dict[str, Any]:
    return {"name": name, "options": list(options), "entity_category": "config", "icon": icon,
            "value_template": f"{{{{ value_json.{field} }}}}",
            "command_template": f'{{"cmd": "set", "{field}": {{{{ value | tojson }}}}}}'}


def entities(camera: CameraDevice) -> dict[tuple[str, str], dict[str, Any] | None]:
    """Every entity this daemon may announce: (component, key) -> its config, or None when
    this camera does not have it (its discovery topic is then emptied, which removes what
    an earlier run announced).

    The picture and the frame rate always; with raw frames the temperature sensors and
    the palette and AGC selects; with ``controls`` the selects, the streaming switch and
    (``can_ffc``) the FFC button.
    """
    t = camera.topics
    stats = {"state_topic": t.stats, "expire_after": camera.expire_after_s}
    control = {"command_topic": t.cmd, "state_topic": t.state}
    raw, controls = camera.raw, camera.controls
    wanted = {
        ("camera", "picture"): (True, {"name": None, "topic": t.jpeg}),
        ("sensor", "max"): (raw, _temperature("Max temperature", "max", **stats)),
        ("sensor", "min"): (raw, _temperature("Min temperature", "min", **stats)),
        ("sensor", "mean"): (raw, _temperature("Mean temperature", "mean", **stats)),
        ("sensor", "center"): (raw, _temperature("Centre temperature", "center", **stats)),
        ("sensor", "fpa"): (raw, _temperature("Sensor temperature", "fpa_temp_c",
                                              entity_category="diagnostic", **stats)),
        ("sensor", "fps"): (True, {"name": "Frame rate", "unit_of_measurement": "fps",
                                   "state_class": "measurement", "icon": "mdi:speedometer",
                                   "entity_category": "diagnostic",
                                   "suggested_display_precision": 1,
                                   "value_template": "{{ value_json.fps }}", **stats}),
        ("select", "palette"): (raw and controls, {
            **_set_select("Palette", "colormap", camera.colormaps, "mdi:palette"), **control}),
        ("select", "agc"): (raw and controls, {
            **_set_select("AGC mode", "agc", AGC_MODES, "mdi:contrast-box"), **control}),
        ("switch", "running"): (controls, {
            "name": "Streaming", "icon": "mdi:play-pause", "payload_on": '{"cmd": "start"}',
            "payload_off": '{"cmd": "stop"}', "state_on": "ON", "state_off": "OFF",
            "value_template": "{{ 'ON' if value_json.running else 'OFF' }}", **control}),
        ("button", "ffc"): (controls and camera.can_ffc, {
            "name": "Flat-field correction", "icon": "mdi:camera-iris",
            "entity_category": "config", "payload_press": '{"cmd": "ffc"}',
            "command_topic": t.cmd}),
    }
    return {key: config if announced else None for key, (announced, config) in wanted.items()}


def object_key(name: str) -> str:
    """A region's or alarm's name as a part of a unique id and discovery topic.

    Names are ``[A-Za-z0-9_.-]`` (regions.NAME_PATTERN, alarms.ALARM_NAME_RULE), a
    discovery object id only ``[a-zA-Z0-9_-]``: ``_`` is written ``__`` and ``.``
    ``_d``, so two names never share a key (``panel.2`` -> ``panel_d2``, ``hot_end`` ->
    ``hot__end``), and a key followed by ``_max`` cannot be read as another name's.
    """
    return name.replace("_", "__").replace(".", "_d")


def region_entities(camera: CameraDevice, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Region ``name``'s sensors: (``sensor``, ``roi_<object_key>_<stat>``) -> config for
    its min, max and mean, °C, from its own topic (``.../roi/<name>``, Stats_Interval)."""
    values = {"state_topic": camera.topics.roi(name), "expire_after": camera.expire_after_s}
    return {("sensor", f"roi_{object_key(name)}_{stat}"): _temperature(f"{name} {stat}", stat,
                                                                       **values)
            for stat in STATS}


def alarm_entities(camera: CameraDevice, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Alarm ``name``'s binary sensor: (``binary_sensor``, ``alarm_<object_key>``) -> config;
    on while the rule is in alarm, read from its retained state (``.../alarm/<name>/state``),
    whose fields (region, threshold, since, value) become the entity's attributes."""
    state = camera.topics.alarm_state(name)
    return {("binary_sensor", f"alarm_{object_key(name)}"): {
        "name": name, "device_class": "heat", "state_topic": state,
        "value_template": "{{ 'ON' if value_json.state == 'alarm' else 'OFF' }}",
        "payload_on": "ON", "payload_off": "OFF", "json_attributes_topic": state}}


def discovery_messages(camera: CameraDevice, regions: Sequence[str] = (),
                       alarms: Sequence[str] = ()) -> list[tuple[str, bytes]]:
    """The discovery messages to publish (retained), in a stable order.

    Args:
        camera: the camera.
        regions, alarms: the names of the measurement regions and alarm rules now; their
            entities are announced for sources with raw frames (``camera.raw``).

    Returns:
        ``(topic, payload)`` for every entity of :func:`entities`, then each region's
        (:func:`region_entities`) and each alarm's (:func:`alarm_entities`): a JSON
        config with ``unique_id`` ``thermal_<camera_id>_<key>``, the shared ``device``,
        ``origin`` and ``availability`` (the camera's ``availability`` topic); or an empty
        payload for a fixed entity this camera does not have.
    """
    announced: dict[tuple[str, str], dict[str, Any] | None] = dict(entities(camera))
    if camera.raw:
        for region in regions:
            announced.update(region_entities(camera, region))
        for alarm in alarms:
            announced.update(alarm_entities(camera, alarm))
    messages = []
    availability = [{"topic": camera.topics.availability}]
    for (component, key), config in announced.items():
        unique_id = f"{camera.device_id}_{key}"
        topic = f"{camera.discovery_prefix}/{component}/{unique_id}/config"
        if config is None:
            messages.append((topic, b""))
            continue
        payload = {**config, "unique_id": unique_id, "device": camera.device(),
                   "origin": ORIGIN, "availability": availability}
        messages.append((topic, json.dumps(payload, ensure_ascii=False).encode()))
    return messages
