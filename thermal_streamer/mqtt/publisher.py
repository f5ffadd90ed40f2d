"""Publishes one camera to an MQTT broker and takes its commands from there.

Topics and payloads (docs/protocol.md, MQTT), under ``<Topic_Prefix>/<Camera_ID>/``:
``frame`` (every frame, the ``/stream`` binary message, retained), ``jpeg`` (every
JPEG_Interval, retained), ``stats`` (every Stats_Interval), ``state`` (retained, on
every change), ``availability`` (``online``, ``offline`` as the last will, retained),
``cmd`` -> ``cmd/result`` (see "Commands" below); per measurement region ``roi/<name>`` (every
Stats_Interval), per alarm rule ``alarm/<name>/state`` (retained) and
``alarm/<name>/event`` (each transition); plus Home Assistant discovery
(:mod:`thermal_streamer.mqtt.discovery`), sent on every connection and on Home Assistant's birth
message (at most once per BIRTH_INTERVAL_S: a burst of births gives one re-send).

Commands: the broker is the trust boundary (docs/mqtt.md, "Who may send commands"). A
message on ``cmd`` runs without a token, as far as ``[MQTT] Commands`` allows (``none``:
the topic is not subscribed; ``control``: start, stop, set, ffc; ``all``: every
command), at most ``Command_Rate`` a second in bursts of ``Command_Burst`` for all
senders together; a retained one never runs (the link drops it). Every refusal is
answered on ``cmd/result`` and counted in the ``mqtt`` component (``refused:<topic>``,
``rate_limited:<topic>``, ``retained_dropped:<topic>``).

Regions and alarms change live: the ``rois`` and ``alarms`` parts of the shared state say
which exist, and every state change brings the retained messages that follow from them
(discovery configs, alarm states) up to date: new ones are published, changed ones
again, and those of a deleted or renamed region or rule are emptied (an empty retained
message deletes the retained one, and Home Assistant deletes the entity).

Nothing here waits for the broker: every message goes through :class:`MqttLink`, whose
``publish_newest`` is a one-slot mailbox per topic (a message is dropped and counted
while the previous one on its topic is unwritten). Frames are read from ``hub.encoded``
like any viewer's (newest only), so a slow broker skips frames and never slows the
source or the other viewers.

Threads: :meth:`MqttPublisher.run` (``mqtt-publisher``) publishes frames, JPEGs and
statistics; the link's own thread (``mqtt``) runs paho, the connection callback and the
``cmd`` and birth handlers; :meth:`MqttPublisher.notify_state` runs in whichever thread
changed the state, :meth:`MqttPublisher.notify_alarm` in the alarm evaluator's. None of
them blocks.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from lepton.errors import LeptonError
from thermal_streamer.config.loader import Config
from thermal_streamer.control.commands import COMMANDS, CommandError
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import EncodedFrame, RawFrame
from thermal_streamer.core.hub import Hub, Viewer
from thermal_streamer.core.ratelimit import TokenBucket
from thermal_streamer.core.source import Commands, Source
from thermal_streamer.measure.alarms import Transition
from thermal_streamer.measure.meter import Measure
from thermal_streamer.measure.readings import region_payload, stats_payload
from thermal_streamer.mqtt.discovery import (
    BIRTH_ONLINE,
    CameraDevice,
    birth_topic,
    discovery_messages,
)
from thermal_streamer.mqtt.link import PACKET_OVERHEAD_BYTES, BrokerSettings, MqttLink, Will
from thermal_streamer.mqtt.topics import CameraTopics
from thermal_streamer.protocols.signing import Signer
from thermal_streamer.protocols.wire import MAX_COMMAND_BYTES

log = logging.getLogger(__name__)

PROTOCOL = "mqtt"  # the publisher's viewer protocol in the hub (/healthz, /metrics)
ONLINE, OFFLINE = b"online", b"offline"
POLL_S = 0.5  # longest wait between looks at the stop flag
BIRTH_INTERVAL_S = 10.0  # Home Assistant's births re-send everything at most this often
# [MQTT] Commands -> the commands cmd may run (None: every one; empty: cmd not subscribed)
COMMAND_SCOPES: dict[str, frozenset[str] | None] = {
    "none": frozenset(), "control": frozenset(COMMANDS), "all": None}


def publisher_from_config(config: Config, source: Source, hub: Hub, state: AcquisitionState,
                          commands: Commands, snapshot: Callable[[], EncodedFrame | None],
                          measure: Measure, configuration_url: str) -> MqttPublisher | None:
    """The publisher ``[MQTT]`` describes, or None when no ``Broker`` is set (MQTT off).

    Args:
        config: the daemon's settings (``[MQTT]``, ``Control_Token``).
        source: what the camera can do (its kind, raw pixels, FFC), for discovery.
        configuration_url: the viewer page, announced as the device's configuration URL.
        hub, state, commands, snapshot, measure: as :class:`MqttPublisher` takes them.
    """
    if config.mqtt_broker is None:
        return None
    topics = CameraTopics(config.mqtt_topic_prefix, config.mqtt_camera_id)
    device = (CameraDevice.from_config(config, topics, source, configuration_url)
              if config.mqtt_discovery_prefix else None)
    signer = (Signer(config.mqtt_signing_key, topics.signed)
              if config.mqtt_signing_key else None)
    return MqttPublisher(BrokerSettings.from_config(config), topics, hub, state, commands,
                         snapshot, measure, device, config.mqtt_publish_frames,
                         config.mqtt_jpeg_interval_s, config.mqtt_stats_interval_s,
                         config.mqtt_commands, config.command_rate_per_s,
                         config.command_burst, signer=signer)


class MqttPublisher:
    """One camera on a broker: frames, pictures, statistics, state, availability, commands.

    Args:
        settings: the broker; the publisher's own :class:`MqttLink` (``link``) is built
            from them, with ``offline`` on ``availability`` as its last will.
        topics: the camera's topics.
        hub: frames (``encoded`` while publishing frames, ``raw`` for statistics) and
            where the publisher joins as a viewer (protocol ``mqtt``) so frames are
            rendered at the source rate.
        state: the shared acquisition state (published; ``running`` pauses ``jpeg``).
        commands: runs ``cmd`` messages (``execute_trusted``: the WebSocket's validation,
            no Control_Token).
        snapshot: the newest source frame rendered (the renderer's), None before any.
        measure: (seq, raw frame) -> the frame's measurement (``Meter.measure``, computed
            once per frame whoever asks): the whole frame's statistics go on ``stats``,
            each region's on ``roi/<name>`` (``meter.measure_frame``: no regions).
        device: what Home Assistant discovery announces; None: no discovery.
        publish_frames: publish every frame on ``frame`` (Publish_Frames).
        jpeg_interval_s, stats_interval_s: seconds between ``jpeg`` and between
            ``stats`` messages (> 0).
        command_scope: ``[MQTT] Commands``: ``none``, ``control`` or ``all`` (a key of
            COMMAND_SCOPES).
        command_rate_per_s, command_burst: the ``cmd`` topic's token bucket
            (``Command_Rate``, ``Command_Burst``), for all senders together.
        clock: monotonic clock, seconds (injectable).
        signer: signs ``frame``, ``state`` and ``availability`` (and the will) with the
            Signing_Key_File key (the link then speaks MQTT 5); None: nothing is signed.

    Attributes:
        link: the broker connection; the app runs ``link.run`` in its own thread and
            reports ``link.health()`` as the component ``mqtt``.
    """

    def __init__(self, settings: BrokerSettings, topics: CameraTopics, hub: Hub,
                 state: AcquisitionState, commands: Commands,
                 snapshot: Callable[[], EncodedFrame | None],
                 measure: Measure,
                 device: CameraDevice | None, publish_frames: bool, jpeg_interval_s: float,
                 stats_interval_s: float, command_scope: str = "control",
                 command_rate_per_s: float = 10.0, command_burst: int = 20,
                 clock: Callable[[], float] = time.monotonic, signer: Signer | None = None):
        self._topics, self._hub, self._state = topics, hub, state
        self._commands, self._snapshot, self._measure = commands, snapshot, measure
        self._device = device
        self._publish_frames = publish_frames
        self._jpeg_interval_s, self._stats_interval_s = jpeg_interval_s, stats_interval_s
        self._clock = clock
        self._state_lock = threading.Lock()
        self._address = f"{settings.url.host}:{settings.url.port}"
        # what the broker retains of the per-region and per-alarm topics, as far as this
        # publisher knows (topic -> payload; absent: nothing), and the discovery messages
        # of the newest names; both under _state_lock
        self._retained: dict[str, bytes] = {}
        self._discovery: tuple[tuple[str, ...], tuple[str, ...], list[tuple[str, bytes]]] | \
            None = None
        self._command_scope, self._allowed = command_scope, COMMAND_SCOPES[command_scope]
        self._command_rate_per_s = command_rate_per_s
        self._command_bucket = TokenBucket(command_rate_per_s, command_burst, clock)
        self._limiting = False  # commands are being dropped over the rate (link thread)
        self._last_birth: float | None = None  # when a birth last re-sent everything
        self._names: tuple[set[str], set[str]] = (set(), set())  # regions', alarms' (_sync)
        subscriptions: dict[str, Callable[[str, bytes], None]] = {}
        if self._allowed != frozenset():
            subscriptions[topics.cmd] = self._on_command
        if device:
            subscriptions[birth_topic(device.discovery_prefix)] = self._on_birth
        self.link = MqttLink(settings, "mqtt", Will(topics.availability, OFFLINE),
                             self._on_connected, subscriptions, signer=signer,
                             live_only=(topics.cmd,),
                             # what it receives are commands and births: the broker drops a
                             # 200 MiB "command" instead of sending it (one over
                             # MAX_COMMAND_BYTES still arrives, to be answered)
                             max_packet_bytes=2 * MAX_COMMAND_BYTES + PACKET_OVERHEAD_BYTES)

    # -- any thread

    def notify_state(self, _state: Mapping[str, Any]) -> None:
        """Publish the shared state, retained, and bring the discovery configs and alarm
        states up to date with its regions and alarms (an AcquisitionState listener;
        never blocks).

        The snapshot is taken again under a lock: listeners of two changes (or a change
        and a reconnection) may run in any order, and the retained state must end newest.
        """
        self._sync(full=False)

    def notify_alarm(self, transition: Transition) -> None:
        """Publish an alarm transition on ``alarm/<name>/event``, QoS 1, not retained (an
        AlarmEvaluator listener; never blocks): ``Transition.as_json``, the webhook's body.

        The evaluator publishes its state part before it calls listeners, so the rule's
        retained ``state`` message is queued before its event."""
        self.link.publish(self._topics.alarm_event(transition.rule.name),
                          json.dumps(transition.as_json()), qos=1)

    def _sync(self, full: bool) -> None:
        """Publish the state and what follows from it; ``full``: every retained message
        again (a new connection, Home Assistant's birth), else only what changed."""
        with self._state_lock:
            snapshot = self._state.snapshot()
            wanted = self._wanted(snapshot)
            for topic, payload in wanted.items():
                if full or self._retained.get(topic, b"") != payload:
                    self._retain(topic, payload)
            gone = [t for t in self._retained if t not in wanted]
            for topic in gone:
                self._retain(topic, b"")
            self.link.publish(self._topics.state, json.dumps(snapshot), retain=True)
            self._forget_gone(snapshot, gone)

    def _forget_gone(self, snapshot: Mapping[str, Any], gone: list[str]) -> None:
        """Drop the link's counts of the topics of deleted regions and alarms (their
        emptied retained messages, values and events): /metrics keeps no series of them."""
        names = ({region["name"] for region in snapshot.get("rois") or []},
                 {entry["name"] for entry in snapshot.get("alarms") or []})
        topics = set(gone)
        topics.update(self._topics.roi(name) for name in self._names[0] - names[0])
        for name in self._names[1] - names[1]:
            topics.update((self._topics.alarm_event(name), self._topics.alarm_state(name)))
        self._names = names
        if topics:
            self.link.forget(topics)

    def _wanted(self, snapshot: Mapping[str, Any]) -> dict[str, bytes]:
        """The retained messages the state calls for, in order: every discovery message
        (an empty one for a fixed entity this camera lacks), then each alarm's state,
        JSON, its entry of the state's ``alarms`` part."""
        alarms = {entry["name"]: entry for entry in snapshot.get("alarms") or []}
        wanted: dict[str, bytes] = {}
        if self._device is not None:
            names = (tuple(region["name"] for region in snapshot.get("rois") or []),
                     tuple(alarms))
            if self._discovery is None or self._discovery[:2] != names:
                self._discovery = (*names, discovery_messages(self._device, *names))
            wanted.update(self._discovery[2])
        wanted.update((self._topics.alarm_state(name), json.dumps(entry).encode())
                      for name, entry in alarms.items())
        return wanted

    def _retain(self, topic: str, payload: bytes) -> None:
        """Publish retained (QoS 1) and remember what the broker holds; while disconnected
        nothing is remembered, and the next connection sends everything again."""
        if self.link.publish(topic, payload, retain=True, qos=1):
            if payload:
                self._retained[topic] = payload
            else:
                self._retained.pop(topic, None)

    def stop(self) -> None:
        """Say ``offline`` (a clean disconnect sends no will), then disconnect the link."""
        self.link.publish(self._topics.availability, OFFLINE, retain=True, qos=1)
        self.link.stop()

    # -- the publisher's thread

    def run(self, stop: threading.Event) -> None:
        """Publish frames, JPEGs and statistics until ``stop`` is set (within POLL_S)."""
        viewer = self._hub.join(PROTOCOL, self._address) if self._publish_frames else None
        try:
            self._loop(stop, viewer)
        finally:
            if viewer is not None:
                self._hub.leave(viewer)

    def _loop(self, stop: threading.Event, viewer: Viewer | None) -> None:
        seq = last_stats_seq = 0
        last_jpeg: EncodedFrame | None = None
        next_jpeg = next_stats = self._clock()
        while not stop.is_set():
            wait_s = min(POLL_S, max(0.0, min(next_jpeg, next_stats) - self._clock()))
            if viewer is None:
                stop.wait(wait_s)
            elif (item := self._hub.encoded.wait_newer(seq, wait_s)) is not None:
                seq, frame = item
                self._publish_frame(viewer, frame)
            now = self._clock()
            if now >= next_jpeg:
                next_jpeg = now + self._jpeg_interval_s
                last_jpeg = self._publish_jpeg(last_jpeg)
            if now >= next_stats:
                next_stats = now + self._stats_interval_s
                last_stats_seq = self._publish_stats(last_stats_seq)

    def _publish_frame(self, viewer: Viewer, frame: EncodedFrame) -> None:
        message = frame.stream_message_raw
        if self.link.publish_newest(self._topics.frame, message, retain=True):
            viewer.count_sent(len(message))
        else:
            viewer.frames_skipped += 1

    def _publish_jpeg(self, last: EncodedFrame | None) -> EncodedFrame | None:
        """Publish the newest picture unless paused or already sent; returns the one sent."""
        frame = self._snapshot() if self._state.running else None
        if frame is None or frame is last:  # the renderer caches: same object, same picture
            return last
        self.link.publish_newest(self._topics.jpeg, frame.jpeg, retain=True)
        return frame

    def _publish_stats(self, last_seq: int) -> int:
        """Publish the newest source frame's statistics unless already sent; returns its seq."""
        seq, frame = self._hub.raw.latest()
        if frame is None or seq == last_seq:  # a stuck camera must let the sensors expire
            return last_seq
        raw = frame if isinstance(frame, RawFrame) else None  # a picture has no pixel values
        measurement = None if raw is None else self._measure(seq, raw)
        payload = stats_payload(seq, frame, self._hub.source_rate.rate,
                                None if measurement is None else measurement.frame)
        self.link.publish_newest(self._topics.stats, json.dumps(payload))
        if raw is not None and measurement is not None:
            for name, stats in measurement.regions.items():
                self.link.publish_newest(self._topics.roi(name),
                                         json.dumps(region_payload(seq, raw, stats)))
        return seq

    # -- the link's thread (handlers must not block)

    def _on_connected(self) -> None:
        self.link.publish(self._topics.availability, ONLINE, retain=True, qos=1)
        self._sync(full=True)

    def _on_birth(self, topic: str, payload: bytes) -> None:
        """Home Assistant (re)started: it needs the discovery and then the states again
        (at most once per BIRTH_INTERVAL_S; a birth within it is counted, ignored)."""
        if payload != BIRTH_ONLINE:
            return
        now = self._clock()
        if self._last_birth is not None and now - self._last_birth < BIRTH_INTERVAL_S:
            self.link.count("births_ignored", topic)
            return
        self._last_birth = now
        self._sync(full=True)

    def _on_command(self, _topic: str, payload: bytes) -> None:
        """Run one ``cmd`` message; the answer goes to ``cmd/result`` (an FFC's when done)."""
        if len(payload) > MAX_COMMAND_BYTES:
            self._result(None, f"command too large: at most {MAX_COMMAND_BYTES} bytes")
            return
        command_id, name = _command_id_and_name(payload)
        if not self._command_bucket.take():
            self._refuse("rate_limited", command_id, "too many commands: at most "
                         f"{self._command_rate_per_s:g} a second on MQTT (Command_Rate)")
            if not self._limiting:
                self._limiting = True
                log.warning("mqtt: commands on %s arrive faster than Command_Rate = %g a "
                            "second: the excess is dropped (each is answered on %s)",
                            self._topics.cmd, self._command_rate_per_s, self._topics.cmd_result)
            return
        if self._limiting:
            self._limiting = False
            log.info("mqtt: commands on %s are within Command_Rate again", self._topics.cmd)
        if self._allowed is not None and name is not None and name not in self._allowed:
            self._refuse("refused", command_id, f"command {name!r} is not allowed over MQTT "
                         f"([MQTT] Commands = {self._command_scope} allows "
                         f"{', '.join(c for c in COMMANDS if c in self._allowed)}; all allows "
                         "every command)")
            return
        try:
            future = self._commands.execute_trusted(payload, sender="mqtt")
        except CommandError as exc:
            self._result(command_id, str(exc))
            return
        future.add_done_callback(lambda done: self._result(command_id, _failure(done)))

    def _refuse(self, reason: str, command_id: str | int | None, error: str) -> None:
        self.link.count(reason, self._topics.cmd)
        self._result(command_id, error)

    def _result(self, command_id: str | int | None, error: str | None) -> None:
        result: dict[str, Any] = {"ok": error is None}
        if command_id is not None:
            result["id"] = command_id
        if error is not None:
            result["error"] = error
        self.link.publish(self._topics.cmd_result, json.dumps(result))


def _failure(done: concurrent.futures.Future[None]) -> str | None:
    """The error text of a finished command (None if it succeeded), as the WebSocket words it."""
    error = done.exception()
    if error is None:
        return None
    if isinstance(error, LeptonError):  # the camera refused or did not answer
        return f"ffc failed: {error}"
    return str(error)


def _command_id_and_name(payload: bytes) -> tuple[str | int | None, str | None]:
    """The command's optional ``id`` (a string or integer, echoed in its result) and its
    ``cmd`` (None when there is no string ``cmd``: the runner then says what is wrong)."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    value, name = data.get("id"), data.get("cmd")
    return (value if isinstance(value, str | int) and not isinstance(value, bool) else None,
            name if isinstance(name, str) else None)
