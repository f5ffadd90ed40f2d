"""One connection to an MQTT broker (``paho-mqtt``), kept up in a thread of its own.

The thin shell around paho that every MQTT part of the daemon shares (the publisher and
the ``mqtt`` relay source): it connects in the background (a broker that is down at
start is not an error), reconnects with back-off (1 s doubling to 30 s), logs once per
change of state (never per message or per attempt), counts what it published and
dropped per topic, and reports its health. Publishing never waits for the broker:
:meth:`MqttLink.publish_newest` drops a message while the previous one on its topic is
still unwritten (a one-slot mailbox per topic), so a slow broker costs frames, never
time, and paho's send queue cannot grow.

It speaks MQTT 5, for two of its CONNECT properties' sake: ``Maximum Packet Size``
(``max_packet_bytes``: the broker drops a longer message before sending it, so one
200 MiB publish never reaches the daemon's memory) and, for the HMAC signatures, user
properties. Retained messages on a ``live_only`` topic (the commands) are dropped
and counted, never handled: a retained command would run again after every restart.

Signed messages (``[MQTT] Signing_Key_File``, :mod:`thermal_streamer.protocols.signing`):
with a :class:`~thermal_streamer.protocols.signing.Signer` the link adds
the ``thermal-sig`` user property to every message on the signer's topics (its will too);
with a :class:`~thermal_streamer.protocols.signing.Verifier` it drops, counts (``unsigned``,
``bad_signature``, ``replayed`` per topic) and logs at a limited rate every message on the
verifier's topics that is not signed with the key or not newer than the last one.

Thread: :meth:`MqttLink.run` is the paho network loop (``loop_forever``), run in a
thread the app starts; message handlers run in it and must not block.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import ssl
import threading
from collections.abc import Callable, Collection, Mapping

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from thermal_streamer.config.loader import Config
from thermal_streamer.config.values import BrokerUrl
from thermal_streamer.core.health import ComponentHealth
from thermal_streamer.core.ratelimit import RateLimitedLog
from thermal_streamer.protocols.signing import PROPERTY, SignatureError, Signer, Verifier

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
MQTT_MAX_PACKET_BYTES = 268_435_455  # the largest remaining length (MQTT 5.0 §1.5.5)
# a PUBLISH packet's bytes beside its payload: fixed header (<= 5), topic (<= 2 + a few
# dozen), properties (a signature's user property is about 100): generous
PACKET_OVERHEAD_BYTES = 4096
MessageHandler = Callable[[str, bytes], None]  # (topic, payload)


@dataclasses.dataclass(frozen=True)
class BrokerSettings:
    """How to reach and log in to the broker ([MQTT] in server.conf).

    Attributes:
        url: host, port and whether to use TLS.
        client_id: the MQTT client identifier (unique per broker).
        username, password: credentials; empty for none.
        ca_file: PEM file of the CA that signed the broker's certificate; empty: the
            system's CAs (TLS only).
        keepalive_s: the MQTT keepalive, seconds; the broker publishes the will after
            1.5 times this without a word from us.
    """

    url: BrokerUrl
    client_id: str
    username: str = ""
    password: str = ""
    ca_file: str = ""
    keepalive_s: int = 30

    @classmethod
    def from_config(cls, config: Config, role: str = "") -> BrokerSettings:
        """The connection ``[MQTT]`` describes (``config.mqtt_broker`` must be set).

        Args:
            config: the daemon's settings.
            role: appended to the client id as ``-<role>`` ("relay" for the ``mqtt``
                source), so an edge that also publishes keeps two distinct connections;
                the client id is ``Client_ID``, by default ``thermal-<Camera_ID>``.
        """
        assert config.mqtt_broker is not None, "[MQTT] Broker is empty: MQTT is off"
        client_id = config.mqtt_client_id or f"thermal-{config.mqtt_camera_id}"
        return cls(config.mqtt_broker, f"{client_id}-{role}" if role else client_id,
                   config.mqtt_username, config.mqtt_password, config.mqtt_ca_file,
                   config.mqtt_keepalive_s)


class LinkState(enum.Enum):
    """Where the connection is."""

    CONNECTING = "connecting"  # never connected yet
    CONNECTED = "connected"
    REFUSED = "refused"  # the broker answered CONNACK with an error (e.g. credentials)
    UNREACHABLE = "unreachable"  # no TCP or TLS connection (down, wrong port, wrong CA)
    DISCONNECTED = "disconnected"  # was connected, lost it


@dataclasses.dataclass(frozen=True)
class Will:
    """The message the broker publishes for us when we vanish (MQTT last will)."""

    topic: str
    payload: bytes
    retain: bool = True


class MqttLink:
    """A broker connection that keeps itself up.

    Args:
        settings: broker address and credentials.
        name: what the log calls it ("mqtt", "mqtt relay").
        will: published by the broker if we vanish (e.g. availability ``offline``).
        on_connected: called in the link's thread after each (re)connection, before any
            message arrives (re-send retained state, discovery, ...). Must not block.
        subscriptions: topic filter -> handler(topic, payload); subscribed on every
            connection. Handlers run in the link's thread; an exception in one is logged
            (rate-limited) and counted, never fatal.
        signer: signs the messages (and the will) on its topics; None: nothing is signed.
        verifier: checks the messages on its topics before their handler; None: none.
        live_only: topic filters among ``subscriptions`` whose retained messages are
            dropped unhandled, counted ``retained_dropped:<topic>`` and logged once per
            connection (a retained command would run again on every connection).
        max_packet_bytes: the MQTT 5 ``Maximum Packet Size`` sent in CONNECT (the whole
            PUBLISH packet: header, topic, properties and payload): the broker drops a
            longer message for this client instead of sending it. 0: no limit.
    """

    def __init__(self, settings: BrokerSettings, name: str = "mqtt", will: Will | None = None,
                 on_connected: Callable[[], None] = lambda: None,
                 subscriptions: Mapping[str, MessageHandler] | None = None,
                 signer: Signer | None = None, verifier: Verifier | None = None,
                 live_only: Collection[str] = (), max_packet_bytes: int = 0):
        self._settings, self._name, self._on_connected = settings, name, on_connected
        self._signer, self._verifier, self._will = signer, verifier, will
        self._sign_lock = threading.Lock()  # a topic's counters reach paho in order
        self._subscriptions = dict(subscriptions or {})
        self._live_only = tuple(live_only)
        self._retained_warned: set[str] = set()  # topics warned about on this connection
        self._connect_properties: Properties | None = None
        if max_packet_bytes:
            self._connect_properties = Properties(PacketTypes.CONNECT)
            self._connect_properties.MaximumPacketSize = min(max_packet_bytes,
                                                             MQTT_MAX_PACKET_BYTES)
        self._lock = threading.Lock()
        self._state = LinkState.CONNECTING
        self._last_error = ""
        self._counts: collections.Counter[str] = collections.Counter()
        self._in_flight: dict[str, paho.MQTTMessageInfo] = {}
        self._stopped = False  # stop() was called: run() must not (re)start
        self._lifecycle = threading.Lock()  # orders stop() against run()'s first connect
        self._warn = RateLimitedLog(log)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                                  protocol=paho.MQTTv5)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password or None)
        if settings.url.tls:
            self.client.tls_set(ca_certs=settings.ca_file or None,
                                tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if will is not None:
            self.client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        self.client.on_connect = self._connected
        self.client.on_connect_fail = self._connect_failed
        self.client.on_disconnect = self._disconnected
        self.client.on_message = self._message
        if signer is not None:
            self.client.on_pre_connect = self._pre_connect

    # -- any thread

    @property
    def connected(self) -> bool:
        return self._state is LinkState.CONNECTED

    def publish(self, topic: str, payload: bytes | str, retain: bool = False,
                qos: int = 0) -> bool:
        """Queue a message (state, discovery, results); never blocks.

        Returns:
            False (counted as dropped) while not connected; the ``on_connected`` callback
            re-sends what must survive a reconnection.
        """
        if not self.connected:
            self._count("dropped", topic)
            return False
        info = self._publish(topic, payload, qos, retain)
        return self._queued(topic, info)

    def publish_newest(self, topic: str, payload: bytes | str, retain: bool = False) -> bool:
        """Queue a message unless the previous one on ``topic`` is still unwritten (QoS 0).

        The one-slot mailbox for frames: a broker (or link) slower than the source gets
        fewer messages, never a growing queue. Returns True if queued; a skipped message
        is counted as dropped.
        """
        previous = self._in_flight.get(topic)
        if not self.connected or (previous is not None and not previous.is_published()):
            self._count("dropped", topic)
            return False
        info = self._publish(topic, payload, 0, retain)
        self._in_flight[topic] = info
        return self._queued(topic, info)

    def count(self, outcome: str, topic: str) -> None:
        """Count one event ``<outcome>:<topic>`` in :meth:`health`'s counters (any thread)."""
        self._count(outcome, topic)

    def health(self) -> ComponentHealth:
        """Connection state, published/dropped counts per topic, the newest error."""
        with self._lock:
            return ComponentHealth(self._state.value, self._state is LinkState.CONNECTED,
                                   dict(self._counts), self._last_error,
                                   {"connected": 1.0 if self.connected else 0.0})

    def forget(self, topics: Collection[str]) -> None:
        """Drop the counts of ``topics`` (a deleted region's or alarm's), so that
        /healthz and /metrics keep no series of what is gone (thread-safe)."""
        with self._lock:
            for key in [k for k in self._counts if k.partition(":")[2] in topics]:
                del self._counts[key]

    def stop(self) -> None:
        """Disconnect (after sending what is queued); :meth:`run` returns within 1 s, or
        at once if it had not started."""
        with self._lifecycle:  # (paho may call on_disconnect inside disconnect())
            self._stopped = True
            self.client.disconnect()

    # -- the link's thread

    def run(self) -> None:
        """Connect and serve the connection until :meth:`stop` (blocks the calling thread)."""
        url = self._settings.url
        client = self.client
        # What paho's loop_start() sets up, done in this named thread of ours (paho's own
        # would be an anonymous daemon): with _thread set and the socket pair made,
        # publish() from any other thread only queues its packet and wakes this loop,
        # which does every socket write. Without them publish() writes from the calling
        # thread while this loop writes too, and packets interleave (the broker then drops
        # the connection: test_publishing_from_other_threads_never_interleaves_packets).
        client._sockpairR, client._sockpairW = paho._socketpair_compat()
        client._thread = threading.current_thread()
        try:
            with self._lifecycle:  # either stop() came first, or its disconnect() ends the loop
                if self._stopped:
                    return
                client.connect_async(url.host, url.port, self._settings.keepalive_s,
                                     properties=self._connect_properties)
            client.loop_forever(retry_first_connection=True)
        finally:
            client._thread = None

    def _pre_connect(self, _client: paho.Client, _userdata: object) -> None:
        """Before each connection attempt: a new connection's counters, and its signed will."""
        assert self._signer is not None
        self._signer.new_connection()
        will = self._will
        if will is not None and will.topic in self._signer.topics:
            self.client.will_set(will.topic, will.payload, qos=1, retain=will.retain,
                                 properties=_signed(PacketTypes.WILLMESSAGE,
                                                    self._signer.sign_will(will.topic,
                                                                           will.payload)))

    def _connected(self, client: paho.Client, _userdata: object, _flags: object,
                   reason: ReasonCode, _properties: Properties | None) -> None:
        if self._stopped:  # a reconnect raced stop(): paho's reconnect() overwrote the
            client.disconnect()  # disconnecting state stop() set, so say it again
            return
        if reason.is_failure:
            self._change(LinkState.REFUSED, f"the broker refused the connection: {reason}")
            return
        self._change(LinkState.CONNECTED, "")
        for topic in self._subscriptions:
            client.subscribe(topic, qos=0)
        self._in_flight = {}
        self._retained_warned = set()
        try:
            self._on_connected()
        except Exception:  # a bug in the callback must not take the link down
            log.exception("%s: on_connected failed", self._name)

    def _connect_failed(self, client: paho.Client, _userdata: object) -> None:
        if self._stopped:  # as in _connected: no socket now, so this ends loop_forever
            client.disconnect()
            return
        self._change(LinkState.UNREACHABLE, "cannot connect (broker down, wrong address, "
                                            "or a TLS or CA problem)")

    def _disconnected(self, _client: paho.Client, _userdata: object, _flags: object,
                      reason: ReasonCode, _properties: Properties | None) -> None:
        if self._stopped:
            with self._lock:
                self._state = LinkState.DISCONNECTED
            log.info("%s: disconnected", self._name)
        elif self._state is LinkState.CONNECTED:
            self._change(LinkState.DISCONNECTED, f"connection lost: {reason}")

    def _message(self, _client: paho.Client, _userdata: object,
                 message: paho.MQTTMessage) -> None:
        if message.retain and any(paho.topic_matches_sub(topic_filter, message.topic)
                                  for topic_filter in self._live_only):
            self._drop_retained(message.topic)
            return
        if self._verifier is not None:
            user = dict(getattr(message.properties, "UserProperty", None) or ())
            try:
                self._verifier.check(message.topic, bytes(message.payload), user.get(PROPERTY))
            except SignatureError as exc:
                self._count(exc.reason, message.topic)
                self._warn.warning(exc.reason, "%s: dropped a message on %s: %s (only the "
                                   "origin, with the same Signing_Key_File, can sign)",
                                   self._name, message.topic, exc)
                return
        for topic_filter, handler in self._subscriptions.items():
            if paho.topic_matches_sub(topic_filter, message.topic):
                try:
                    handler(message.topic, bytes(message.payload))
                except Exception as exc:  # a bug or a message we did not foresee
                    self._count("handler_errors", message.topic)
                    self._warn.log(logging.ERROR, "handler", "%s: handling a message on %s "
                                   "failed: %r", self._name, message.topic, exc)

    def _drop_retained(self, topic: str) -> None:
        self._count("retained_dropped", topic)
        if topic not in self._retained_warned:
            self._retained_warned.add(topic)
            log.warning("%s: dropped a retained message on %s without running it (a retained "
                        "command would run again after every restart); remove it from the "
                        "broker: mosquitto_pub -r -n -t '%s', and publish commands without "
                        "the retain flag", self._name, topic, topic)

    # -- helpers

    def _publish(self, topic: str, payload: bytes | str, qos: int,
                 retain: bool) -> paho.MQTTMessageInfo:
        """paho's publish, with the signature when ``topic`` is signed."""
        if self._signer is None or topic not in self._signer.topics:
            return self.client.publish(topic, payload, qos=qos, retain=retain)
        data = payload.encode() if isinstance(payload, str) else payload
        with self._sign_lock:
            value = self._signer.sign(topic, data)
            assert value is not None
            return self.client.publish(topic, data, qos=qos, retain=retain,
                                       properties=_signed(PacketTypes.PUBLISH, value))

    def _queued(self, topic: str, info: paho.MQTTMessageInfo) -> bool:
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._count("dropped", topic)
            return False
        self._count("published", topic)
        return True

    def _count(self, outcome: str, topic: str) -> None:
        with self._lock:
            self._counts[f"{outcome}:{topic}"] += 1

    def _change(self, state: LinkState, error: str) -> None:
        with self._lock:
            changed, self._state = state is not self._state, state
            if error:
                self._last_error = error
        if not changed:
            return
        url = self._settings.url
        where = f"{'mqtts' if url.tls else 'mqtt'}://{url.host}:{url.port}"
        if state is LinkState.CONNECTED:
            log.info("%s: connected to %s", self._name, where)
        else:
            log.warning("%s: %s: %s; retrying with back-off up to %d s (frames keep flowing "
                        "to local viewers)", self._name, where, error, RECONNECT_MAX_S)


def _signed(packet_type: int, value: str) -> Properties:
    """MQTT 5 properties holding the ``thermal-sig`` user property."""
    properties = Properties(packet_type)
    properties.UserProperty = [(PROPERTY, value)]
    return properties
