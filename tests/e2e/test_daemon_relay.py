"""An edge daemon (``--source mqtt``) behind a bridged second broker serves 100 WebSocket viewers.

Two Mosquitto processes: the origin's broker A, and the edge's broker B bridging
``thermal/#`` in from A and ``thermal/+/cmd`` out to it (docs/mqtt.md's per-site bridge).
The origin is tests.mqtt_origin (the real Renderer's messages of real captures, the real
state and CommandRunner) on A; the edge is the real daemon on B.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import urllib.request
from collections.abc import Coroutine

from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import wait_until
from tests.mosquitto import free_port, mosquitto
from tests.mqtt_origin import StandInOrigin, real_frames, running
from thermal_streamer.protocols.wire import frame_message, parse_frame_message

VIEWERS = 100
FRAMES = 6
TIMEOUT_S = 10.0


def run_in_own_loop(coroutine: Coroutine[object, object, None]) -> None:
    """asyncio.run in a thread of its own (the browser tests' Playwright keeps a loop
    running in this one); its exception, if any, is raised here."""
    errors: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    thread = threading.Thread(target=main, name="relay-viewers")
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the viewers did not finish"
    if errors:
        raise errors[0]


def bridge_config(port_a: int) -> str:
    """Broker B's bridge to broker A: frames, state and answers in; commands out."""
    return "\n".join(["connection site-a", f"address 127.0.0.1:{port_a}",
                      "topic thermal/# in 0", "topic thermal/+/cmd out 1"])


async def next_binary(ws: ClientConnection) -> bytes:
    while isinstance(message := await asyncio.wait_for(ws.recv(), TIMEOUT_S), str):
        pass
    return message


async def next_state(ws: ClientConnection, key: str, value: object) -> dict:
    while True:
        message = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        if isinstance(message, str) and (decoded := json.loads(message)).get(key) == value:
            return decoded


async def watch(url: str, origin: StandInOrigin) -> None:
    """Connect VIEWERS (half with raw=1); each new origin frame must reach every one of
    them byte for byte (its JPEG and raw, and its header with the origin's seq); then an
    origin state change must reach them all."""
    viewers = [await connect(f"{url}/stream{'?raw=1' if i % 2 else ''}", open_timeout=TIMEOUT_S)
               for i in range(VIEWERS)]
    try:
        for ws in viewers:
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))["type"] == "hello"
        for frame in real_frames() * (FRAMES // 3):
            sent = origin.publish(frame)
            header, jpeg, raw = parse_frame_message(sent)
            plain = ({k: v for k, v in header.items() if k != "raw"}, jpeg, b"")
            got = await asyncio.gather(*(next_binary(ws) for ws in viewers))
            for i, message in enumerate(got):
                if i % 2:
                    assert message == sent, f"viewer {i}, origin seq {header['seq']}"
                else:
                    assert parse_frame_message(message) == plain, f"viewer {i}"
        origin.state.change_settings(colormap="ironbow")
        await asyncio.gather(*(next_state(ws, "colormap", "ironbow") for ws in viewers))
    finally:
        await asyncio.gather(*(ws.close() for ws in viewers))


def test_an_edge_behind_a_bridge_serves_100_viewers_the_origins_bytes(start_daemon, tmp_path):
    """Through broker A, the bridge and broker B, 100 edge viewers get every origin frame
    byte-identical (JPEG and raw; header with the origin's seq, timestamp, meta) and the
    origin's state changes; /healthz shows the relay's counts and the broker link."""
    port_a = free_port()
    with mosquitto(port=port_a) as broker_a, \
            mosquitto(extra_config=bridge_config(port_a)) as broker_b:
        origin = StandInOrigin(broker_a.port)
        with running(origin.link, "origin"):
            assert origin.connected.wait(TIMEOUT_S)
            config = tmp_path / "edge.conf"
            config.write_text(f"[MQTT]\nBroker = {broker_b.url}\nCamera_ID = edge\n")
            edge = start_daemon("-c", str(config), "--source", "mqtt", "--mqtt-camera", "origin")
            assert wait_until(lambda: edge.health()["source_status"]["origin"] == "online",
                              TIMEOUT_S), edge.log()
            run_in_own_loop(watch(edge.ws_url, origin))
            health = edge.health()
    status = health["source_status"]
    assert status["skipped"] == 0 and status["origin_frames_missed"] == 0
    assert status["frames"] >= FRAMES  # and the retained one, when it came before the viewers
    relay = health["components"]["mqtt_relay"]
    assert relay["ok"] and relay["gauges"] == {"connected": 1.0}
    assert health["state"]["colormap"] == "ironbow"


def test_a_real_origin_daemon_relayed_by_an_edge_daemon(start_daemon, tmp_path):
    """Origin daemon -> Mosquitto -> edge daemon -> a WebSocket viewer: the edge serves the
    origin's JPEG and header (its seq) byte for byte, and a command typed on the edge
    changes the origin's state, which comes back to the edge's viewer."""
    from websockets.sync.client import connect as connect_sync

    with mosquitto() as broker:
        origin_conf = tmp_path / "origin.conf"
        origin_conf.write_text(f"[MQTT]\nBroker = {broker.url}\nCamera_ID = origin\n"
                               "Discovery_Prefix =\n")
        edge_conf = tmp_path / "edge.conf"
        edge_conf.write_text(f"[Source]\nSource = mqtt\nMQTT_Camera = origin\n"
                             f"[MQTT]\nBroker = {broker.url}\nCamera_ID = edge\n")
        origin = start_daemon("-c", str(origin_conf), "--source", "simulated")
        edge = start_daemon("-c", str(edge_conf))
        with (connect_sync(origin.ws_url + "/stream?raw=1", open_timeout=TIMEOUT_S) as at_origin,
              connect_sync(edge.ws_url + "/stream?raw=1", open_timeout=TIMEOUT_S) as at_edge):
            seen: dict[int, bytes] = {}
            for _ in range(200):  # the origin's frames, by their seq
                message = at_origin.recv(timeout=TIMEOUT_S)
                if isinstance(message, bytes):
                    seen[parse_frame_message(message)[0]["seq"]] = message
                    break
            matched = 0
            for _ in range(200):
                message = at_edge.recv(timeout=TIMEOUT_S)
                if isinstance(message, str):
                    continue
                header, jpeg, raw = parse_frame_message(message)
                while header["seq"] > max(seen):
                    relayed = at_origin.recv(timeout=TIMEOUT_S)
                    if isinstance(relayed, bytes):
                        seen[parse_frame_message(relayed)[0]["seq"]] = relayed
                if header["seq"] in seen:
                    assert message == seen[header["seq"]]  # the origin's bytes, unchanged
                    matched += 1
                    if matched == 3:
                        break
            assert matched == 3
            at_edge.send(json.dumps({"cmd": "set", "colormap": "ironbow"}))
            for _ in range(400):
                message = at_edge.recv(timeout=TIMEOUT_S)
                if isinstance(message, str) and json.loads(message).get("colormap") == "ironbow":
                    break
            else:
                raise AssertionError("the edge's viewer never saw the new state")
        assert origin.health()["state"]["colormap"] == "ironbow"


def mosquitto_pub(port: int, topic: str, payload: bytes, folder, *args: str) -> None:
    """Publish retained with Mosquitto's own client, as any other broker client could."""
    path = folder / "forged"
    path.write_bytes(payload)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-r",
                    "-q", "1", "-f", str(path), *args], check=True, timeout=TIMEOUT_S)


def test_signed_origin_and_edge_drop_what_another_client_forges(start_daemon, tmp_path):
    """Origin and edge daemons with one Signing_Key_File: the origin's signed frames flow;
    a retained frame and ``offline`` forged by another client (unsigned, and signed with
    another key) are dropped and counted in /healthz and /metrics, no forged frame reaches
    the edge's viewer, and the edge keeps serving the origin's frames and its commands."""
    from websockets.sync.client import connect as connect_sync

    key = tmp_path / "signing.key"
    key.write_bytes(os.urandom(32))
    with mosquitto() as broker:
        common = f"[MQTT]\nBroker = {broker.url}\nSigning_Key_File = signing.key\n"
        (tmp_path / "origin.conf").write_text(common + "Camera_ID = origin\nDiscovery_Prefix =\n")
        (tmp_path / "edge.conf").write_text("[Source]\nSource = mqtt\nMQTT_Camera = origin\n"
                                            + common + "Camera_ID = edge\n")
        origin = start_daemon("-c", str(tmp_path / "origin.conf"), "--source", "simulated")
        edge = start_daemon("-c", str(tmp_path / "edge.conf"))
        assert wait_until(lambda: edge.health()["source_status"]["frames"] > 0, TIMEOUT_S), \
            edge.log()
        forged_header = {"type": "frame", "seq": 10**9, "timestamp": 1.0, "width": 2,
                         "height": 2, "jpeg_size": 4, "source": "forged"}
        forged = frame_message(forged_header, b"\xff\xd8\xff\xd9")
        frame_topic, availability = "thermal/origin/frame", "thermal/origin/availability"
        with connect_sync(edge.ws_url + "/stream", open_timeout=TIMEOUT_S) as viewer:
            mosquitto_pub(broker.port, frame_topic, forged, tmp_path)
            mosquitto_pub(broker.port, availability, b"offline", tmp_path)
            mosquitto_pub(broker.port, frame_topic, forged, tmp_path, "-V", "5", "-D",
                          "publish", "user-property", "thermal-sig", "1.1.0123456789abcdef.9."
                          + "0" * 64)
            counted = {f"unsigned:{frame_topic}": 1, f"unsigned:{availability}": 1,
                       f"bad_signature:{frame_topic}": 1}
            assert wait_until(lambda: all(
                edge.health()["components"]["mqtt_relay"]["counters"].get(k) == v
                for k, v in counted.items()), TIMEOUT_S), edge.health()["components"]
            headers = []
            while len(headers) < 10:  # the origin's frames keep coming, none forged
                message = viewer.recv(timeout=TIMEOUT_S)
                if isinstance(message, bytes):
                    headers.append(parse_frame_message(message)[0])
            assert all(h["source"] == "simulated" and h["seq"] < 10**9 for h in headers)
            health = edge.health()
            assert health["source_status"]["origin"] == "online"
            viewer.send(json.dumps({"cmd": "set", "colormap": "ironbow"}))
            assert wait_until(lambda: origin.health()["state"]["colormap"] == "ironbow",
                              TIMEOUT_S)
        with urllib.request.urlopen(edge.http_url + "/metrics", timeout=TIMEOUT_S) as response:
            metrics = response.read().decode()
    assert (f'component_events_total{{component="mqtt_relay",event="unsigned:{availability}"}} 1'
            in metrics), [line for line in metrics.splitlines() if "mqtt_relay" in line]
    assert "forged" not in json.dumps(health["source_status"])
