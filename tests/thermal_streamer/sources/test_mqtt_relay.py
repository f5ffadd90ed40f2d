"""thermal_streamer.sources.mqtt_relay: the relay's parsers byte by byte, then an in-process edge
against a real Mosquitto (real hub, state, renderer and WebSocket server; the origin is
tests.mqtt_origin)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import wait_until
from tests.mosquitto import mosquitto
from tests.mqtt_clients import Subscriber
from tests.mqtt_origin import StandInOrigin, real_frames, running
from tests.thermal_streamer.outputs.test_ws_server import hello, next_binary, next_state
from tests.thermal_streamer.parts import Parts, ws_server
from thermal_streamer.config.values import BrokerUrl
from thermal_streamer.control.commands import CommandError, TokenError
from thermal_streamer.control.render_settings import FIELDS, RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.mqtt.link import PACKET_OVERHEAD_BYTES, BrokerSettings
from thermal_streamer.mqtt.topics import CameraTopics
from thermal_streamer.protocols.signing import PROPERTY, sign
from thermal_streamer.protocols.wire import frame_message, parse_frame_message
from thermal_streamer.sources.mqtt_relay import (
    BadMessage,
    MqttSource,
    parse_frame_payload,
    parse_state_payload,
)

TIMEOUT_S = 10.0
MAX_BYTES = 1 << 20
MAX_PIXELS = 1 << 20


@pytest.fixture(scope="module")
def origin_message() -> bytes:
    """A real origin message: the Renderer's /stream?raw=1 message of a real capture."""
    parts = Parts()
    return parts.renderer.encode(7, real_frames()[0]).stream_message_raw


def test_a_real_message_parses_to_the_same_bytes(origin_message):
    """The origin's message is kept whole; header (without raw), JPEG and raw are the origin's."""
    frame = parse_frame_payload(origin_message, MAX_BYTES, MAX_PIXELS)
    header, jpeg, raw = parse_frame_message(origin_message)
    assert frame.message is origin_message and frame.jpeg == jpeg and len(raw) == 120 * 160 * 2
    assert frame.raw_info == header.pop("raw") == {"rows": 120, "cols": 160, "dtype": "<u2",
                                                   "unit": "centikelvin"}
    assert dict(frame.header) == header and list(frame.header) == list(header)
    assert (frame.width, frame.height, frame.header["seq"]) == (160, 120, 7)


def test_every_truncation_is_counted_as_truncated(origin_message):
    """Each strict prefix of a message (cut in the length, header, JPEG or raw) is truncated."""
    for cut in range(len(origin_message)):
        with pytest.raises(BadMessage) as error:
            parse_frame_payload(origin_message[:cut], MAX_BYTES, MAX_PIXELS)
        assert error.value.reason == "truncated", cut


def test_oversized_messages_and_pictures_are_refused(origin_message):
    """Over Max_Frame_Bytes, or a JPEG or raw frame over Max_Frame_Pixels, is oversized."""
    size = len(origin_message)
    with pytest.raises(BadMessage, match=f"^oversized: {size} bytes, over Max_Frame_Bytes = "
                                         f"{size - 1}$"):
        parse_frame_payload(origin_message, size - 1, MAX_PIXELS)
    with pytest.raises(BadMessage, match="^oversized: a 160x120 JPEG, over Max_Frame_Pixels "
                                         "= 19199$"):
        parse_frame_payload(origin_message, MAX_BYTES, 19199)


def message(header: dict, jpeg: bytes = b"\xff\xd8jpeg\xff\xd9", raw: bytes = b"") -> bytes:
    return frame_message({"type": "frame", "seq": 1, "timestamp": 1.5e9, "width": 4,
                          "height": 3, "jpeg_size": len(jpeg), **header}, jpeg, raw)


@pytest.mark.parametrize("payload, detail", [
    (struct.pack(">I", 3) + b"{x}", "the header is not UTF-8 JSON"),
    (struct.pack(">I", 2) + b"\xff\xfe", "the header is not UTF-8 JSON"),
    (struct.pack(">I", 2) + b"[]", "the header is not a JSON object"),
    (message({"type": "state"}), "the header's type is not 'frame'"),
    (message({"seq": True}), "seq is not an integer >= 0"),
    (message({"seq": -1}), "seq is not an integer >= 0"),
    (message({"timestamp": "now"}), "timestamp is not a number"),
    (message({"width": 0}), "width is not an integer > 0"),
    (message({"fps": "fast"}), "fps is not a number"),
    (message({"stats": []}), "stats is not an object"),
    (message({"meta": {"a": [1]}}), "meta is not an object of numbers and strings"),
    (message({"raw": {"rows": 1, "cols": 1, "dtype": "<f4", "unit": "counts"}}, raw=b"\0\0"),
     "raw is not {rows, cols, dtype: <u2, unit: one of centikelvin, decikelvin, counts}"),
    (message({}, raw=b"\0\0"), "2 bytes left over after the JPEG and raw pixels"),
    (message({}, jpeg=b"\xff\xd8jpeg!!"), "the JPEG lacks its start or end marker"),
])
def test_malformed_messages_say_what_is_wrong(payload, detail):
    """Headers that are not the protocol's, wrong raw shapes and bad JPEGs are malformed."""
    with pytest.raises(BadMessage) as error:
        parse_frame_payload(payload, MAX_BYTES, MAX_PIXELS)
    assert (error.value.reason, error.value.detail) == ("malformed", detail)


def test_state_messages_are_validated():
    """A real state parses to (running, settings); bad ones are refused with the reason."""
    state = AcquisitionState(RenderSettings(colormap="ironbow", agc="fixed", range=(20, 40)))
    state.set_running(False)
    assert parse_state_payload(json.dumps(state.snapshot()).encode()) == (
        False, RenderSettings(colormap="ironbow", agc="fixed", range=(20.0, 40.0)))
    good = AcquisitionState(RenderSettings()).snapshot()
    for payload, detail in [
        (b"nope", "the state is not UTF-8 JSON"),
        (json.dumps({**good, "running": 1}).encode(),
         "the state is not an object with a boolean 'running'"),
        (json.dumps({"running": True}).encode(),
         "the state lacks " + ", ".join(f.name for f in FIELDS)),
        (json.dumps({**good, "scale": 9}).encode(),
         "the state's scale must be an integer from 1 to 8"),
        (json.dumps({**good, "agc": "fixed"}).encode(),
         "the state's range must be set when agc is fixed"),
    ]:
        with pytest.raises(BadMessage) as error:
            parse_state_payload(payload)
        assert error.value.detail == detail
    with pytest.raises(BadMessage, match="^oversized: a state of 4097 bytes, over 4096$"):
        parse_state_payload(b" " * 4097)


# -- an in-process edge against a real broker


class Edge:
    """An edge's parts: hub, state, renderer, WebSocket server and the mqtt source."""

    def __init__(self, parts: Parts, source: MqttSource, ws_port: int):
        self.parts, self.source, self.ws_port = parts, source, ws_port

    def viewer(self, raw: bool = True):
        return connect(f"ws://127.0.0.1:{self.ws_port}/stream{'?raw=1' if raw else ''}",
                       open_timeout=TIMEOUT_S)


@contextlib.contextmanager
def edge(port: int, camera: str = "origin", control_token: str = "",
         max_frame_bytes: int = MAX_BYTES, command_timeout_s: float = 5.0,
         signing_key: bytes = b"") -> Iterator[Edge]:
    """An edge relaying ``camera`` from the broker at 127.0.0.1:``port``, every thread joined."""
    parts = Parts()
    settings = BrokerSettings(BrokerUrl("127.0.0.1", port, False), "thermal-edge-relay")
    source = MqttSource(settings, CameraTopics("thermal", camera), parts.state, control_token,
                        max_frame_bytes, MAX_PIXELS, command_timeout_s,
                        signing_key=signing_key)
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(parts.renderer.receive, stop),
                              name="source-mqtt")
    with ws_server(parts) as server, running(source.link, "mqtt-relay"):
        thread.start()
        try:
            yield Edge(parts, source, server.port)
        finally:
            stop.set()
            thread.join(TIMEOUT_S)
            assert not thread.is_alive()


@contextlib.contextmanager
def origin_and_edge(origin_key: bytes = b"",
                    **edge_options) -> Iterator[tuple[StandInOrigin, Edge]]:
    """A broker of its own with a stand-in origin and an edge on it, both connected."""
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(mosquitto()).port
        origin = StandInOrigin(port, signing_key=origin_key)
        stack.enter_context(running(origin.link, "origin"))
        relay = stack.enter_context(edge(port, **edge_options))
        assert origin.connected.wait(TIMEOUT_S)
        assert wait_until(lambda: relay.source.status()["origin"] == "online", TIMEOUT_S)
        yield origin, relay


def test_viewers_get_the_origins_bytes():
    """JPEG, raw and header (seq, timestamp, meta, stats) reach edge viewers as the origin
    made them; a viewer without raw=1 gets the same header and JPEG without raw."""
    with origin_and_edge() as (origin, relay), relay.viewer() as raw_viewer, \
            relay.viewer(raw=False) as plain_viewer:
        hello(raw_viewer), hello(plain_viewer)
        for frame in real_frames():
            sent = origin.publish(frame)
            assert next_binary(raw_viewer) == sent
            header, jpeg, raw = parse_frame_message(sent)
            assert raw and parse_frame_message(next_binary(plain_viewer)) == (
                {k: v for k, v in header.items() if k != "raw"}, jpeg, b"")
        status = relay.source.status()
        assert status["frames"] == 3 and status["skipped"] == 0 and status["origin"] == "online"
        assert relay.source.has_raw


def test_bad_messages_are_skipped_counted_and_logged_once(caplog, origin_message):
    """Malformed, truncated and oversized frame messages never reach viewers or stop the
    relay; each kind is counted, and logged once (rate-limited), not per message."""
    caplog.set_level(logging.WARNING, "thermal_streamer.sources.mqtt_relay")
    with origin_and_edge(max_frame_bytes=len(origin_message) + 100) as (
            origin, relay), relay.viewer() as viewer:
        hello(viewer)
        bad = [origin_message[:-1], origin_message[:10], b"\0\0\0\x05{}}}}",
               origin_message + b"\0" * 200]
        for payload in bad * 3:
            origin.link.publish(origin.topics.frame, payload, qos=1)
        assert wait_until(lambda: relay.source.status()["skipped"] == 12, TIMEOUT_S)
        sent = origin.publish(real_frames()[1])
        assert next_binary(viewer) == sent  # nothing bad came before it
    status = relay.source.status()
    assert (status["truncated"], status["malformed"], status["oversized"]) == (6, 3, 3)
    lines = [r.getMessage() for r in caplog.records
             if r.name == "thermal_streamer.sources.mqtt_relay"]
    assert len(lines) == 3, lines
    assert any("skipped a frame message on thermal/origin/frame: oversized: "
               f"{len(origin_message) + 200} bytes, over Max_Frame_Bytes" in line
               for line in lines)


def test_origin_restarts_and_repeats_keep_frames_flowing():
    """The origin's seq going back (a restart) still reaches viewers (the hub's own seq
    increases); the same frame again (the retained one after a reconnection) is skipped."""
    with origin_and_edge() as (origin, relay), relay.viewer() as viewer:
        hello(viewer)
        frames = real_frames()
        first = origin.publish(frames[0])
        assert next_binary(viewer) == first
        origin.link.publish(origin.topics.frame, first, qos=1)  # the same frame again
        origin.restart()
        again = origin.publish(frames[1])
        assert parse_frame_message(again)[0]["seq"] == 1
        assert next_binary(viewer) == again
        later = origin.publish(frames[2])  # seq 2 after 1: no gap
        assert next_binary(viewer) == later
    status = relay.source.status()
    assert (status["repeated"], status["origin_restarts"], status["frames"]) == (1, 1, 3)
    assert status["origin_frames_missed"] == 0


def test_the_state_is_mirrored_to_every_viewer():
    """The origin's state (retained) becomes the edge's; changes reach every edge viewer;
    a bad state is counted and changes nothing."""
    with origin_and_edge() as (origin, relay):
        with relay.viewer() as a, relay.viewer(raw=False) as b:
            hello(a), hello(b)
            origin.state.change_settings(colormap="ironbow", scale=2)
            origin.state.set_running(False)
            for viewer in (a, b):
                next_state(viewer, colormap="ironbow", scale=2, running=False)
            origin.link.publish(origin.topics.state, b'{"running": "yes"}', qos=1)
            assert wait_until(lambda: relay.source.status()["bad_states"] == 1, TIMEOUT_S)
        assert relay.parts.state.render_settings() == RenderSettings(colormap="ironbow", scale=2)
        assert relay.parts.state.running is False


def test_commands_go_to_the_origin_and_its_state_comes_back():
    """A command on the edge's runner is validated, reaches the origin's cmd topic, is
    applied there, and the origin's new state reaches every edge viewer."""
    with origin_and_edge() as (origin, relay), relay.viewer() as a, relay.viewer() as b:
        hello(a), hello(b)
        relay.source.commands.execute('{"cmd":"set","colormap":"gray","range":[1,2]}',
                                      "from-url").result(TIMEOUT_S)
        sent = json.loads(origin.commands_seen[-1])
        assert sent == {"cmd": "set", "colormap": "gray", "range": [1.0, 2.0],
                        "id": "thermal-edge-relay:1"}  # the token stayed at the edge
        assert origin.state.render_settings().colormap == "gray"
        for viewer in (a, b):
            next_state(viewer, colormap="gray", range=[1.0, 2.0])
        with pytest.raises(CommandError, match="^scale must be an integer from 1 to 8$"):
            relay.source.commands.execute('{"cmd":"set","scale":9}')
        failed = relay.source.commands.execute('{"cmd":"ffc"}')
        with pytest.raises(CommandError, match="^ffc is only available with a Lepton"):
            failed.result(TIMEOUT_S)
    assert len(origin.commands_seen) == 2  # the invalid one never left the edge
    assert relay.source.status()["commands_forwarded"] == 2


def test_the_edge_checks_its_own_token_and_no_token_crosses_the_broker():
    """The edge checks its viewers' token against its own Control_Token and forwards the
    command without it: a thermal/# subscriber never reads a token (was: sent along)."""
    token = "edge-secret-0123456789"
    with origin_and_edge(control_token=token) as (origin, relay), \
            Subscriber(origin.port, "thermal/#") as spy:
        commands = relay.source.commands
        with pytest.raises(TokenError):
            commands.execute('{"cmd":"stop","token":"wrong"}')
        commands.execute('{"cmd":"stop"}', token).result(TIMEOUT_S)
        commands.execute(json.dumps({"cmd": "start", "token": token})).result(TIMEOUT_S)
        assert origin.state.running is True
        assert [json.loads(c) for c in origin.commands_seen] == [
            {"cmd": "stop", "id": "thermal-edge-relay:1"},
            {"cmd": "start", "id": "thermal-edge-relay:2"}]  # the wrong one never left
        assert spy.wait_on("thermal/origin/cmd/result",
                           lambda m: b"thermal-edge-relay:2" in m.payload)
        assert spy.wait_on("thermal/origin/cmd")
    assert not [m for m in spy.messages if token.encode() in m.payload]


def test_a_trusted_command_is_forwarded_without_the_edges_token():
    """execute_trusted (the edge's own MQTT cmd, authorised by the broker's ACL) skips the
    edge's Control_Token and forwards the command without any token field."""
    with origin_and_edge(control_token="edge-secret-0123456789") as (origin, relay):
        relay.source.commands.execute_trusted('{"cmd":"stop","token":"x"}').result(TIMEOUT_S)
        assert origin.state.running is False
        assert json.loads(origin.commands_seen[-1]) == {"cmd": "stop",
                                                       "id": "thermal-edge-relay:1"}


def test_the_broker_never_sends_the_edge_a_frame_over_max_frame_bytes(origin_message):
    """The edge's CONNECT carries MQTT 5 Maximum Packet Size (Max_Frame_Bytes plus the
    packet's overhead): the broker drops a longer frame message instead of sending it, so
    it never reaches the edge's memory (was: received whole, then counted oversized)."""
    limit = len(origin_message) + 100
    with origin_and_edge(max_frame_bytes=limit) as (origin, relay), relay.viewer() as viewer:
        hello(viewer)
        origin.link.publish(origin.topics.frame, b"\0" * (limit + PACKET_OVERHEAD_BYTES),
                            qos=1)
        sent = origin.publish(real_frames()[1])
        assert next_binary(viewer) == sent
        status = relay.source.status()
        assert (status["frames"], status["skipped"]) == (1, 0)


def test_unanswered_and_offline_commands_fail():
    """No answer within the timeout fails the command; an origin that said ``offline``
    fails commands at once, and nothing is sent."""
    with mosquitto() as broker, edge(broker.port, "nobody", command_timeout_s=0.1) as relay:
        assert wait_until(lambda: relay.source.link.connected, TIMEOUT_S)
        with pytest.raises(CommandError, match="^camera nobody did not answer within 0.1 s$"):
            relay.source.commands.execute('{"cmd":"stop"}').result(TIMEOUT_S)
        assert relay.source.status()["commands_timed_out"] == 1
    with origin_and_edge() as (origin, relay):
        origin.link.publish(origin.topics.availability, b"offline", retain=True, qos=1)
        assert wait_until(lambda: relay.source.status()["origin"] == "offline", TIMEOUT_S)
        with pytest.raises(CommandError, match="^camera origin is offline$"):
            relay.source.commands.execute('{"cmd":"stop"}')
    assert not origin.commands_seen


def test_results_for_other_edges_are_ignored():
    """An answer with another sender's id settles nothing; one without an id is counted."""
    with origin_and_edge() as (origin, relay):
        commands = relay.source.commands
        origin.link.publish(origin.topics.cmd_result, b'{"id":"elsewhere:1","error":null}', qos=1)
        origin.link.publish(origin.topics.cmd_result, b'not json', qos=1)
        assert wait_until(lambda: commands.counters().get("bad_results") == 1, TIMEOUT_S)
        assert "answered" not in commands.counters()
        future: concurrent.futures.Future = commands.execute('{"cmd":"start"}')
        assert future.result(TIMEOUT_S) is None


KEY = bytes(range(32))


def forge(port: int, topic: str, payload: bytes, folder: Path, signature: str = "") -> None:
    """Publish retained as another broker client would: ``mosquitto_pub`` (MQTT 3.1.1, no
    property), or MQTT 5 with a ``thermal-sig`` user property of our choosing."""
    path = folder / "payload"
    path.write_bytes(payload)
    args = ["-V", "5", "-D", "publish", "user-property", PROPERTY, signature] if signature else []
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-r",
                    "-q", "1", "-f", str(path), *args], check=True, timeout=TIMEOUT_S)


def test_with_a_signing_key_only_the_origins_messages_are_used(tmp_path, origin_message):
    """With the origin's key, its signed frames, state and availability are used; a retained
    frame and ``offline`` forged without a signature, with another key's, or replayed with
    an old counter are dropped, counted per topic and logged once per kind; the edge keeps
    serving the origin's frames and forwarding commands."""
    with origin_and_edge(origin_key=KEY, signing_key=KEY) as (origin, relay), \
            relay.viewer() as viewer:
        hello(viewer)
        assert origin.signer is not None
        first = origin.publish(real_frames()[0])
        assert next_binary(viewer) == first
        port, topics = origin.port, origin.topics
        forge(port, topics.frame, origin_message, tmp_path)
        forge(port, topics.availability, b"offline", tmp_path)
        forge(port, topics.frame, origin_message, tmp_path,
              sign(bytes(32), topics.frame, origin_message, origin.signer.boot, 1 << 40))
        forge(port, topics.availability, b"offline", tmp_path,  # the origin's key, an old counter
              sign(KEY, topics.availability, b"offline", origin.signer.boot, 1))
        assert wait_until(lambda: sum(relay.source.link.health().counters.get(
            f"{reason}:{topic}", 0) for reason in ("unsigned", "bad_signature", "replayed")
            for topic in (topics.frame, topics.availability)) == 4, TIMEOUT_S)
        counts = relay.source.link.health().counters
        assert {k: v for k, v in counts.items() if k.split(":")[0] in (
            "unsigned", "bad_signature", "replayed")} == {
            f"unsigned:{topics.frame}": 1, f"unsigned:{topics.availability}": 1,
            f"bad_signature:{topics.frame}": 1, f"replayed:{topics.availability}": 1}
        assert relay.source.status()["origin"] == "online"
        later = origin.publish(real_frames()[1])
        assert next_binary(viewer) == later  # no forged frame came before it
        relay.source.commands.execute('{"cmd":"stop"}').result(TIMEOUT_S)
        assert origin.state.running is False
        assert relay.source.status()["frames"] == 2


def test_an_edge_with_a_key_refuses_an_unsigned_origin(caplog):
    """An origin without the key (or an older one) is not relayed: its frame, state and
    availability are dropped and counted, and the log says why, once per kind."""
    caplog.set_level(logging.WARNING, "thermal_streamer.mqtt.link")
    with mosquitto() as broker:
        origin = StandInOrigin(broker.port)
        with running(origin.link, "origin"), edge(broker.port, signing_key=KEY) as relay:
            assert origin.connected.wait(TIMEOUT_S)
            origin.publish(real_frames()[0])
            topics = origin.topics
            assert wait_until(lambda: all(relay.source.link.health().counters.get(
                f"unsigned:{t}") == 1 for t in (topics.frame, topics.state,
                                                topics.availability)), TIMEOUT_S)
            status = relay.source.status()
            assert (status["frames"], status["origin"]) == (0, "unknown")
    lines = [r.getMessage() for r in caplog.records if "dropped a message" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(
        "mqtt relay: dropped a message on thermal/origin/") and lines[0].endswith(
        ": unsigned: no thermal-sig property (only the origin, with the same "
        "Signing_Key_File, can sign)")


def test_the_origins_signed_will_reaches_the_edge():
    """The broker's ``offline`` for a vanished origin carries its signature (the highest
    counter of its connection), so the edge accepts it; the origin's next connection's
    ``online`` is newer still."""
    with origin_and_edge(origin_key=KEY, signing_key=KEY) as (origin, relay):
        origin.link.client.socket().close()  # vanish without DISCONNECT: the broker sends the will
        assert wait_until(lambda: relay.source.status()["origin"] == "offline", TIMEOUT_S)
        assert wait_until(lambda: relay.source.status()["origin"] == "online", 3 * TIMEOUT_S)
        assert not any(k.split(":")[0] in ("unsigned", "bad_signature", "replayed")
                       for k in relay.source.link.health().counters)
