"""The ``mqtt`` source: an edge daemon that relays another daemon's camera through a broker.

The origin daemon publishes under ``<Topic_Prefix>/<Camera_ID>/`` (docs/protocol.md,
"Relaying"); the edge subscribes, on the broker of its own ``[MQTT]`` section, to the
topics of ``[Source] MQTT_Camera``:

- ``frame``: the origin's ``/stream`` binary message (raw pixels when the origin has
  them). Each one is validated (:func:`parse_frame_payload`) and becomes a
  :class:`~thermal_streamer.core.frames.RelayedFrame`: viewers of the edge get the origin's JPEG and
  raw bytes and header unchanged; the edge never renders.
- ``state``: the origin's shared state; the edge's own state mirrors its ``running`` and
  render settings (:func:`parse_state_payload`), so every edge viewer sees what the
  camera does. ``clients`` stays the edge's own count.
- ``availability``: ``online`` / ``offline``; commands fail at once while the origin is
  offline.
- ``cmd/result``: the origin's answers to the commands :class:`RelayCommands` sent to
  its ``cmd`` topic.

A message that cannot be used (over ``Max_Frame_Bytes``, shorter than its header says,
or not what the protocol says) is skipped, counted in ``/healthz`` ``source_status``
and logged at most once per 30 s per kind; it never stops the edge.

Threads: the link's network thread (``mqtt-relay``, the source's companion, which the
app runs) validates every message and drops each good frame into a one-slot mailbox;
the source's own thread (``source-mqtt``, :meth:`MqttSource.run`) publishes the newest
one, so a slow publish never delays the broker connection and a burst costs frames,
never a queue.

Error tree::

    BadMessage (ValueError)    one message cannot be used; ``reason`` names its counter
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from lepton.radiometry import PixelUnit
from thermal_streamer.config.loader import Config
from thermal_streamer.control.commands import CommandError, check_token, parse_command
from thermal_streamer.control.fields import SettingError
from thermal_streamer.control.render_settings import FIELDS, RANGE, RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RelayedFrame
from thermal_streamer.core.hub import FrameSlot
from thermal_streamer.core.ratelimit import RateLimitedLog
from thermal_streamer.core.source import Companion, Publish, Source
from thermal_streamer.mqtt.link import PACKET_OVERHEAD_BYTES, BrokerSettings, MqttLink
from thermal_streamer.mqtt.topics import CameraTopics
from thermal_streamer.protocols.signing import Verifier
from thermal_streamer.protocols.wire import HEADER_LENGTH

log = logging.getLogger(__name__)

POLL_S = 0.5  # the source thread's longest wait: how soon it sees stop and expires commands
COMMAND_TIMEOUT_S = 5.0  # a forwarded command with no answer from the origin by then fails
MAX_STATE_BYTES = 4096  # a state message is about 200 bytes
JPEG_SOI, JPEG_EOI = b"\xff\xd8", b"\xff\xd9"  # ITU-T T.81, table B.1
RAW_DTYPE = "<u2"  # the only raw pixel type of /stream (docs/protocol.md §5.2)
RAW_UNITS = tuple(unit.value for unit in PixelUnit)
# reasons a message is skipped; each one is a counter in source_status
OVERSIZED, TRUNCATED, MALFORMED = "oversized", "truncated", "malformed"


class BadMessage(ValueError):
    """A message that cannot be used; the relay skips and counts it.

    Attributes:
        reason: ``oversized`` (over Max_Frame_Bytes or Max_Frame_Pixels), ``truncated``
            (shorter than its header says) or ``malformed`` (anything else).
        detail: what exactly is wrong, for the log.
    """

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _check(ok: bool, detail: str) -> None:
    if not ok:
        raise BadMessage(MALFORMED, detail)


def _check_header(header: Any) -> None:
    """Raise BadMessage(malformed) unless ``header`` has the shape of docs/protocol.md §5.2.

    Fields a viewer relies on are checked for type; fields this version does not know
    are passed through unchanged (a newer origin may add some).
    """
    _check(isinstance(header, dict), "the header is not a JSON object")
    _check(header.get("type") == "frame", "the header's type is not 'frame'")
    _check(_is_int(header.get("seq")) and header["seq"] >= 0, "seq is not an integer >= 0")
    _check(_is_number(header.get("timestamp")), "timestamp is not a number")
    for key in ("width", "height", "jpeg_size"):
        _check(_is_int(header.get(key)) and header[key] > 0, f"{key} is not an integer > 0")
    for key, kind, ok in (("source", "a string", lambda v: isinstance(v, str)),
                          ("unit", "a string", lambda v: isinstance(v, str)),
                          ("fps", "a number", _is_number),
                          ("stats", "an object", lambda v: isinstance(v, dict)),
                          ("agc", "an object", lambda v: isinstance(v, dict)),
                          ("raw", "an object", lambda v: isinstance(v, dict))):
        _check(key not in header or ok(header[key]), f"{key} is not {kind}")
    meta = header.get("meta", {})
    _check(isinstance(meta, dict) and all(
        isinstance(v, str) or _is_number(v) for v in meta.values()),
        "meta is not an object of numbers and strings")


def parse_frame_payload(payload: bytes, max_bytes: int, max_pixels: int) -> RelayedFrame:
    """Validate one ``frame`` message and return it as a RelayedFrame. Pure.

    Args:
        payload: the message: uint32 big-endian header length N, N bytes of UTF-8 JSON
            header, ``jpeg_size`` bytes of JPEG, then ``rows*cols`` uint16 little-endian
            raw pixels when the header has ``raw`` (docs/protocol.md §5.2).
        max_bytes: the largest message accepted (``Max_Frame_Bytes``), bytes.
        max_pixels: the most pixels accepted in the JPEG and in the raw frame
            (``Max_Frame_Pixels``).

    Returns:
        The frame; its ``message`` is ``payload`` itself, unchanged.

    Raises:
        BadMessage: ``oversized`` (over ``max_bytes``, or a picture over ``max_pixels``),
            ``truncated`` (fewer bytes than the header says) or ``malformed`` (a header
            that is not the protocol's JSON object, a JPEG without its start and end
            markers, raw bytes that do not match ``raw``, or bytes left over).
    """
    size = len(payload)
    if size > max_bytes:
        raise BadMessage(OVERSIZED, f"{size} bytes, over Max_Frame_Bytes = {max_bytes}")
    if size < HEADER_LENGTH.size:
        raise BadMessage(TRUNCATED, f"{size} bytes: no header length")
    (length,) = HEADER_LENGTH.unpack_from(payload)
    header_end = HEADER_LENGTH.size + length
    if header_end > size:
        raise BadMessage(TRUNCATED, f"{size} bytes, the header alone says {header_end}")
    try:
        header = json.loads(payload[HEADER_LENGTH.size:header_end])
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadMessage(MALFORMED, "the header is not UTF-8 JSON") from None
    _check_header(header)
    if header["width"] * header["height"] > max_pixels:
        raise BadMessage(OVERSIZED, f"a {header['width']}x{header['height']} JPEG, over "
                                    f"Max_Frame_Pixels = {max_pixels}")
    jpeg_end = header_end + header["jpeg_size"]
    raw_info = header.get("raw")
    raw_size = 0
    if raw_info is not None:
        rows, cols = raw_info.get("rows"), raw_info.get("cols")
        _check(_is_int(rows) and _is_int(cols) and rows > 0 and cols > 0
               and raw_info.get("dtype") == RAW_DTYPE and raw_info.get("unit") in RAW_UNITS,
               f"raw is not {{rows, cols, dtype: {RAW_DTYPE}, unit: one of "
               f"{', '.join(RAW_UNITS)}}}")
        if rows * cols > max_pixels:
            raise BadMessage(OVERSIZED, f"a {cols}x{rows} raw frame, over Max_Frame_Pixels = "
                                        f"{max_pixels}")
        raw_size = rows * cols * 2
    if size < jpeg_end + raw_size:
        raise BadMessage(TRUNCATED, f"{size} bytes, the header says {jpeg_end + raw_size}")
    _check(size == jpeg_end + raw_size, f"{size - jpeg_end - raw_size} bytes left over "
                                        "after the JPEG and raw pixels")
    jpeg = payload[header_end:jpeg_end]
    _check(jpeg.startswith(JPEG_SOI) and jpeg.endswith(JPEG_EOI),
           "the JPEG lacks its start or end marker")
    fields = {k: v for k, v in header.items() if k != "raw"}
    return RelayedFrame(payload, fields, jpeg, raw_info)


def parse_state_payload(payload: bytes) -> tuple[bool, RenderSettings]:
    """Validate the origin's ``state`` message. Pure.

    Args:
        payload: UTF-8 JSON object with ``running`` (bool) and every render setting in
            its JSON form (``range`` a ``[low, high]`` list or null); other fields
            (``clients``) are ignored.

    Returns:
        (running, the render settings).

    Raises:
        BadMessage: ``oversized`` (over MAX_STATE_BYTES) or ``malformed`` (not such an
            object, a setting that is not allowed, or ``fixed`` AGC without a range).
    """
    if len(payload) > MAX_STATE_BYTES:
        raise BadMessage(OVERSIZED, f"a state of {len(payload)} bytes, over {MAX_STATE_BYTES}")
    try:
        state = json.loads(payload)
    except (ValueError, RecursionError):
        raise BadMessage(MALFORMED, "the state is not UTF-8 JSON") from None
    _check(isinstance(state, dict) and isinstance(state.get("running"), bool),
           "the state is not an object with a boolean 'running'")
    missing = [f.name for f in FIELDS if f.name not in state]
    _check(not missing, f"the state lacks {', '.join(missing)}")
    values: dict[str, Any] = {}
    try:
        for field in FIELDS:
            value = state[field.name]  # range may be null: no fixed range
            values[field.name] = (None if field is RANGE and value is None
                                  else field.from_json(value))
        settings = RenderSettings(**values)
    except SettingError as exc:
        raise BadMessage(MALFORMED, f"the state's {exc}") from None
    return state["running"], settings


class RelayCommands:
    """An edge's command runner: validates a viewer's command and forwards it to the origin.

    The same interface as :class:`thermal_streamer.control.commands.CommandRunner` (what the
    WebSocket server and any other channel call). Thread-safe: :meth:`execute` runs in a
    channel's thread, :meth:`on_result` in the link's, :meth:`expire` in the source's.

    Control token: no token ever crosses the broker (every ``thermal/#`` subscriber
    would read it). The edge checks its own viewers' token against its own
    ``Control_Token`` (when set), as a CommandRunner does, and forwards the command
    without its ``token`` field; the origin runs what its ``[MQTT] Commands`` allows
    from whoever the broker's ACL lets publish ``cmd`` (docs/mqtt.md, "Who may send
    commands").

    Args:
        link: the edge's broker connection (publishes ``cmd`` at QoS 1, not retained).
        topics: the origin camera's topics.
        id_prefix: unique among the origin's command senders (the link's client id);
            each command's ``id`` is ``<id_prefix>:<n>`` and the origin echoes it.
        control_token: the edge's own ``Control_Token`` ("" for none).
        timeout_s: how long to wait for the origin's answer.
        clock: monotonic clock, seconds (injectable).
    """

    def __init__(self, link: MqttLink, topics: CameraTopics, id_prefix: str,
                 control_token: str = "", timeout_s: float = COMMAND_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic):
        self._link, self._topics, self._prefix = link, topics, id_prefix
        self._control_token, self._timeout_s, self._clock = control_token, timeout_s, clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[float, concurrent.futures.Future[None]]] = {}
        self.origin_online: bool | None = None  # from the availability topic; None: not heard
        self._counts: collections.Counter[str] = collections.Counter()

    def execute(self, message: str | bytes, connection_token: str | None = None,
                sender: str = "") -> concurrent.futures.Future[None]:
        """Validate one command and send it to the origin's ``cmd`` topic.

        Args:
            message: the command's JSON text (docs/protocol.md §5.2).
            connection_token: the token the channel holds (``/stream?token=``), used when
                the command has no ``token`` field.
            sender: who sent it (unused: the origin logs "mqtt").

        Returns:
            A future that is done when the origin answered on ``cmd/result``: with None
            when the command took effect there (its new state follows on ``state``),
            with CommandError (the origin's error text) when the origin refused it or
            when no answer came within ``timeout_s``.

        Raises:
            TokenError: the edge's own control token is set and was not given.
            CommandError: the message is not a valid command, the origin is offline or
                the broker is not reachable (nothing was sent).
        """
        command = parse_command(message)
        token = command.pop("token", None) or connection_token or ""
        check_token(self._control_token, token)
        return self._forward(command)

    def execute_trusted(self, message: str | bytes,
                        sender: str = "") -> concurrent.futures.Future[None]:
        """Validate one command from a channel that authorised its sender (this edge's
        own MQTT ``cmd``) and send it to the origin; as :meth:`execute`, no token check
        (``sender`` is for the origin's log, which the forwarded command does not carry)."""
        command = parse_command(message)
        command.pop("token", None)
        return self._forward(command)

    def _forward(self, command: dict[str, Any]) -> concurrent.futures.Future[None]:
        if self.origin_online is False:
            raise CommandError(f"camera {self._topics.camera_id} is offline")
        command_id = f"{self._prefix}:{next(self._ids)}"
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._pending[command_id] = (self._clock() + self._timeout_s, future)
        payload = json.dumps({**command, "id": command_id}, separators=(",", ":"))
        if not self._link.publish(self._topics.cmd, payload, qos=1):
            with self._lock:
                self._pending.pop(command_id, None)
            raise CommandError(f"cannot reach camera {self._topics.camera_id}: the broker "
                               "is not connected")
        self._count("forwarded")
        return future

    def on_result(self, _topic: str, payload: bytes) -> None:
        """Link handler for ``cmd/result``: settle the command whose ``id`` it echoes.

        The answer is a JSON object with the command's ``id`` and, when the origin
        refused it, ``error`` (text). Answers to other senders' commands are ignored;
        a message that is not such an object is counted (``bad_results``).
        """
        try:
            result = json.loads(payload)
        except (ValueError, RecursionError):
            result = None
        if not isinstance(result, dict) or not isinstance(result.get("id"), str):
            self._count("bad_results")
            return
        with self._lock:
            _, future = self._pending.pop(result["id"], (0.0, None))
        if future is None:
            return
        error = result.get("error")
        if error:
            self._count("refused")
            future.set_exception(CommandError(str(error)))
        else:
            self._count("answered")
            future.set_result(None)

    def on_availability(self, _topic: str, payload: bytes) -> None:
        """Link handler for ``availability``: ``online`` or ``offline`` (the origin's will)."""
        self.origin_online = payload.strip() == b"online"

    def expire(self) -> None:
        """Fail every command the origin has not answered within ``timeout_s``."""
        now = self._clock()
        with self._lock:
            late = [(i, f) for i, (deadline, f) in self._pending.items() if deadline <= now]
            for command_id, _ in late:
                del self._pending[command_id]
        for _, future in late:
            self._count("timed_out")
            future.set_exception(CommandError(
                f"camera {self._topics.camera_id} did not answer within {self._timeout_s:g} s"))

    def counters(self) -> dict[str, int]:
        """Commands ``forwarded``, ``answered``, ``refused`` (by the origin), ``timed_out``,
        and ``bad_results`` (answers that were not a JSON object with an ``id``)."""
        with self._lock:
            return dict(self._counts)

    def _count(self, event: str) -> None:
        with self._lock:
            self._counts[event] += 1


class MqttSource(Source):
    """Relays the camera ``topics.camera_id`` from the broker (see the module docstring).

    It declares (:mod:`thermal_streamer.core.source`): ``relayed`` frames; ``commands``
    forwarded to the origin (:class:`RelayCommands`), which the app hands to every
    command channel; and :attr:`link` as its companion ``mqtt-relay`` (thread) /
    ``mqtt_relay`` (/healthz component), which the app runs, reports and stops.

    Args:
        settings: the broker connection.
        topics: the origin camera's topics.
        state: the edge's shared state; it mirrors the origin's.
        control_token: the edge's own ``Control_Token`` (see :class:`RelayCommands`).
        max_frame_bytes: ``Max_Frame_Bytes``: a longer ``frame`` message is skipped; the
            link asks the broker (MQTT 5 ``Maximum Packet Size``, this plus
            PACKET_OVERHEAD_BYTES) not to send one at all.
        max_frame_pixels: ``Max_Frame_Pixels``: a larger JPEG or raw frame is skipped.
        command_timeout_s: how long a forwarded command waits for the origin's answer.
        clock: monotonic clock, seconds (injectable).
        signing_key: ``Signing_Key_File``'s key: ``frame``, ``state`` and ``availability``
            messages that are unsigned, signed with another key or replayed are dropped
            before they are used, and counted in the ``mqtt_relay`` component
            (``unsigned``, ``bad_signature``, ``replayed``, per topic); b"": none checked.
    """

    kind = "mqtt"
    relayed = True
    commands: RelayCommands

    def __init__(self, settings: BrokerSettings, topics: CameraTopics, state: AcquisitionState,
                 control_token: str = "", max_frame_bytes: int = 16 << 20,
                 max_frame_pixels: int = 16 << 20,
                 command_timeout_s: float = COMMAND_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic, signing_key: bytes = b""):
        self._topics, self._state = topics, state
        self._max_bytes, self._max_pixels = max_frame_bytes, max_frame_pixels
        self._mailbox: FrameSlot[RelayedFrame] = FrameSlot()
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._last: tuple[int, float] | None = None  # origin (seq, timestamp) of the newest frame
        self._frame_has_raw = True  # until a frame says otherwise: asking costs nothing
        self._warn = RateLimitedLog(log, clock=clock)  # used in the link's thread only
        self.link = MqttLink(settings, "mqtt relay", subscriptions={  # subscribed in this order:
            topics.cmd_result: self._on_result, topics.state: self._on_state,  # the origin's
            topics.frame: self._on_frame, topics.availability: self._on_availability},  # retained
            verifier=Verifier(signing_key, topics.signed) if signing_key else None,
            max_packet_bytes=max_frame_bytes + PACKET_OVERHEAD_BYTES)
        # availability, once heard, says every subscription is in place
        self.commands = RelayCommands(self.link, topics, settings.client_id, control_token,
                                      command_timeout_s, clock)
        self.companions = (Companion("mqtt-relay", "mqtt_relay", self.link),)

    @property
    def has_raw(self) -> bool:  # type: ignore[override]  # known only from the frames
        """True unless the newest frame came without raw pixels (the origin has none)."""
        return self._frame_has_raw

    def run(self, publish: Publish, stop: threading.Event) -> None:
        """Publish the newest relayed frame until ``stop`` (returns within POLL_S of it)."""
        seq = 0
        while not stop.is_set():
            item = self._mailbox.wait_newer(seq, POLL_S)
            if item is not None:
                seq, frame = item
                publish(frame)
            self.commands.expire()

    def status(self) -> dict[str, Any]:
        """Counters for /healthz: ``frames`` relayed; ``skipped`` frame messages (the sum of
        ``oversized``, ``truncated``, ``malformed``); ``repeated`` (the same origin frame
        again, e.g. the retained one after a reconnection); ``origin_frames_missed`` (gaps
        in the origin's ``seq``); ``origin_restarts`` (its ``seq`` went back);
        ``bad_states``; the commands' counts; ``origin`` (online, offline, unknown)."""
        online = self.commands.origin_online
        with self._lock:
            counts = dict(self._counts)
        return {"camera": self._topics.camera_id, "topic": self._topics.frame,
                "link": self.link.health().state,
                "origin": "unknown" if online is None else "online" if online else "offline",
                **{key: counts.get(key, 0) for key in (
                    "frames", "skipped", OVERSIZED, TRUNCATED, MALFORMED, "repeated",
                    "origin_frames_missed", "origin_restarts", "bad_states")},
                **{f"commands_{k}": v for k, v in self.commands.counters().items()}}

    # -- the link's thread

    def _on_frame(self, _topic: str, payload: bytes) -> None:
        try:
            frame = parse_frame_payload(payload, self._max_bytes, self._max_pixels)
        except BadMessage as exc:
            self._count(exc.reason, "skipped")
            self._warn.warning(exc.reason, "mqtt relay: skipped a frame message on %s: %s",
                               self._topics.frame, exc)
            return
        seq, timestamp = frame.header["seq"], frame.timestamp
        if self._last is not None:
            last_seq, last_timestamp = self._last
            if seq == last_seq and timestamp == last_timestamp:
                self._count("repeated")
                return
            if seq <= last_seq:
                self._count("origin_restarts")
                log.info("mqtt relay: camera %s started again (seq %d after %d)",
                         self._topics.camera_id, seq, last_seq)
            elif seq > last_seq + 1:
                self._count("origin_frames_missed", n=seq - last_seq - 1)
        self._last = (seq, timestamp)
        self._frame_has_raw = frame.raw_info is not None
        self._count("frames")
        self._mailbox.publish(frame)

    def _on_state(self, _topic: str, payload: bytes) -> None:
        try:
            running, settings = parse_state_payload(payload)
        except BadMessage as exc:
            self._count("bad_states")
            self._warn.warning("state", "mqtt relay: ignored a state message on %s: %s",
                               self._topics.state, exc)
            return
        changes = {f.name: getattr(settings, f.name) for f in FIELDS}
        self._state.change_settings(**changes)  # valid: RenderSettings checked them together
        self._state.set_running(running)

    def _on_availability(self, topic: str, payload: bytes) -> None:
        self.commands.on_availability(topic, payload)

    def _on_result(self, topic: str, payload: bytes) -> None:
        self.commands.on_result(topic, payload)

    def _count(self, *events: str, n: int = 1) -> None:
        with self._lock:
            for event in events:
                self._counts[event] += n


def make_mqtt_source(config: Config, state: AcquisitionState) -> MqttSource:
    """The ``mqtt`` source of ``config`` (``[Source] MQTT_Camera``, ``[MQTT]``), not started."""
    return MqttSource(BrokerSettings.from_config(config, "relay"),
                      CameraTopics(config.mqtt_topic_prefix, config.mqtt_camera), state,
                      config.control_token, config.max_frame_bytes, config.max_frame_pixels,
                      signing_key=config.mqtt_signing_key)


