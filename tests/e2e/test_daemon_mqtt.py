"""The daemon publishing to a real Mosquitto ([MQTT]), watched by mosquitto_sub: rates,
availability and the last will, reconnection, bad credentials or CA, commands, isolation."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import wait_until
from tests.e2e.clients import FrameCounter
from tests.mosquitto import Mosquitto, free_port, mosquitto
from tests.mqtt_clients import Subscriber, publish, stalled_subscriber
from thermal_streamer.protocols.wire import parse_frame_message

KEEPALIVE_S = 5
BASE = "thermal/cam"
TIMEOUT_S = 10.0
RECONNECT_TIMEOUT_S = 35.0  # paho's back-off reaches 30 s; these tests stay below 8 s


def config(tmp_path: Path, broker_url: str, **keys: str) -> str:
    """A server.conf whose [MQTT] section names the broker (Camera_ID cam, Keepalive 5)."""
    lines = ["[MQTT]", f"Broker = {broker_url}", "Camera_ID = cam", f"Keepalive = {KEEPALIVE_S}",
             *(f"{key} = {value}" for key, value in keys.items())]
    path = tmp_path / "server.conf"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def window(sub: Subscriber, topic: str, seconds: float) -> list:
    """The messages on ``topic`` in the ``seconds`` after its first one (waits for them)."""
    first = sub.wait_on(topic, timeout_s=TIMEOUT_S)
    assert first is not None, f"nothing on {topic}"
    end = first.time + seconds
    assert sub.wait_for(lambda ms: any(m.time > end for m in ms if m.topic == topic),
                        seconds + TIMEOUT_S)
    return [m for m in sub.on(topic) if first.time <= m.time <= end]


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def test_frames_at_the_source_rate_jpeg_and_stats_at_their_intervals(start_daemon, tmp_path):
    """frame carries every frame (decodable, seq increasing, raw attached) at the source
    rate; jpeg and stats come every JPEG_Interval and Stats_Interval; /healthz and /metrics
    show the connection and the per-topic counts."""
    with mosquitto() as broker, Subscriber(broker.port, f"{BASE}/#") as sub:
        daemon = start_daemon("-c", config(tmp_path, broker.url, JPEG_Interval="0.5",
                                           Stats_Interval="0.25"), "--source", "simulated")
        daemon.wait_for_frames(10)
        frames = window(sub, f"{BASE}/frame", 3.0)
        jpegs = window(sub, f"{BASE}/jpeg", 3.0)
        stats = window(sub, f"{BASE}/stats", 3.0)
        health = daemon.health()
        fps = health["fps"]
        assert len(frames) >= 0.85 * 3.0 * fps, (len(frames), fps)
        seqs = []
        for message in frames:
            header, jpeg, raw = parse_frame_message(message.payload)
            assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
            assert len(raw) == 2 * header["raw"]["rows"] * header["raw"]["cols"]
            seqs.append(header["seq"])
        assert seqs == sorted(set(seqs))
        assert 6 <= len(jpegs) <= 8 and all(m.payload[:2] == b"\xff\xd8" for m in jpegs)
        assert 12 <= len(stats) <= 14
        reading = json.loads(stats[-1].payload)
        assert set(reading) == {"seq", "timestamp", "fps", "min", "max", "mean", "center",
                                "fpa_temp_c"}
        assert 10 < reading["min"] <= reading["mean"] <= reading["max"] < 60
        assert health["components"]["mqtt"]["state"] == "connected"
        assert health["clients"].get("mqtt") == 1
        metrics = fetch_text(daemon.http_url + "/metrics")
        assert "\nthermal_mqtt_connected 1\n" in metrics
        assert (f'thermal_component_events_total{{component="mqtt",'
                f'event="published:{BASE}/frame"}}') in metrics
        assert 'thermal_component_ok{component="mqtt",state="connected"} 1' in metrics


def test_kill_9_turns_availability_offline(start_daemon, tmp_path):
    """kill -9: the broker publishes the last will (availability offline, retained) at
    once, since the kernel closes the daemon's socket."""
    with mosquitto() as broker, Subscriber(broker.port, f"{BASE}/availability") as sub:
        daemon = start_daemon("-c", config(tmp_path, broker.url), "--source", "simulated")
        assert sub.wait_on(f"{BASE}/availability", lambda m: m.payload == b"online")
        daemon.process.kill()
        killed = time.time()
        offline = sub.wait_on(f"{BASE}/availability", lambda m: m.payload == b"offline",
                              timeout_s=3 * KEEPALIVE_S)
        assert offline is not None and offline.time - killed <= 1.5 * KEEPALIVE_S
        with Subscriber(broker.port, f"{BASE}/availability") as late:
            assert late.wait_on(f"{BASE}/availability").payload == b"offline"  # retained


def test_a_frozen_daemon_is_declared_offline_by_the_keepalive(start_daemon, tmp_path):
    """A daemon that stops talking with its connection open (SIGSTOP, like a cut network)
    is declared offline through its will once the broker's keepalive check gives up: not
    before 1.5 x Keepalive (MQTT 3.1.1 §3.1.2.10); Debian's mosquitto 2.0.11 takes about
    2 x Keepalive + 1 s (measured here with mosquitto_sub too)."""
    with mosquitto() as broker, Subscriber(broker.port, f"{BASE}/availability") as sub:
        daemon = start_daemon("-c", config(tmp_path, broker.url), "--source", "simulated")
        assert sub.wait_on(f"{BASE}/availability", lambda m: m.payload == b"online")
        daemon.wait_for_frames(5)  # frames flow: its last packet is just before the freeze
        daemon.process.send_signal(signal.SIGSTOP)
        frozen = time.time()
        try:
            offline = sub.wait_on(f"{BASE}/availability", lambda m: m.payload == b"offline",
                                  timeout_s=3 * KEEPALIVE_S)
        finally:
            daemon.process.kill()
        assert offline is not None
        assert 1.5 * KEEPALIVE_S <= offline.time - frozen <= 2 * KEEPALIVE_S + 2.0, \
            offline.time - frozen


def test_a_late_broker_is_picked_up_and_a_restarted_one_gets_everything_again(start_daemon,
                                                                            tmp_path):
    """Down at start is no error (one log line, local viewers served); once the broker is
    there the daemon says online and sends discovery; after a broker restart (nothing
    retained survives) it does so again."""
    port = free_port()
    daemon = start_daemon("-c", config(tmp_path, f"mqtt://127.0.0.1:{port}"),
                          "--source", "simulated")
    assert wait_until(lambda: daemon.health()["components"]["mqtt"]["state"] == "unreachable",
                      TIMEOUT_S)
    counter = FrameCounter(daemon.ws_url + "/stream", 1.5)
    counter.start()
    counter.join(TIMEOUT_S)
    assert counter.error is None and len(counter.headers) >= 8
    assert daemon.log().count("cannot connect") == 1  # after several attempts (1 s, 2 s, ...)
    for restart in range(2):
        with mosquitto(port=port) as broker, \
                Subscriber(broker.port, f"{BASE}/availability", "homeassistant/#") as sub:
            assert sub.wait_on(f"{BASE}/availability", lambda m: m.payload == b"online",
                               timeout_s=RECONNECT_TIMEOUT_S)
            assert sub.wait_for(lambda ms: sum(m.topic.endswith("/config") for m in ms) == 11,
                                TIMEOUT_S)
            assert daemon.log().count("connected to mqtt://") == restart + 1
            assert daemon.log().count("connection lost") == restart


def attempts(broker: Mosquitto) -> int:
    """Connections the broker logged, besides the one that checked it was up."""
    log = broker.log()
    return log.count("New connection from") + log.count("Client connection from") - 1


def tls_files(folder: Path) -> dict[str, Path]:
    """A CA, a broker certificate it signed for 127.0.0.1, and an unrelated CA (openssl)."""
    if subprocess.run(["which", "openssl"], capture_output=True).returncode:
        pytest.skip("needs the openssl command")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True,
                       timeout=30)

    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                f"/CN={ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "broker.key", "-out", "broker.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "broker.pem")
    for path in folder.iterdir():
        path.chmod(0o644)  # mosquitto drops to its own user before reading them
    return {name: folder / f"{name}.pem" for name in ("ca", "other-ca", "broker")} | {
        "key": folder / "broker.key"}


@pytest.mark.parametrize("problem", ["credentials", "ca"])
def test_wrong_credentials_or_ca_give_one_line_and_local_streaming(start_daemon, tmp_path,
                                                                   request, problem):
    """A refused login or an untrusted broker certificate is logged once (not per retry),
    shows in /healthz, and WebSocket viewers keep getting every frame."""
    certs = Path(tempfile.mkdtemp(prefix="mqtt-certs-"))  # readable by mosquitto's user
    certs.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(certs, ignore_errors=True))
    if problem == "credentials":
        (tmp_path / "password").write_text("not-the-password-42\n")
        broker_kwargs: dict = {"users": {"camera": "right"}}
        keys = {"Username": "camera", "Password_File": "password"}
        state, line = "refused", "refused the connection"
    else:
        files = tls_files(certs)
        broker_kwargs = {"extra_config": f"certfile {files['broker']}\nkeyfile {files['key']}"}
        keys = {"CA_File": str(files["other-ca"])}
        state, line = "unreachable", "cannot connect"
    with mosquitto(**broker_kwargs) as broker:
        url = broker.url.replace("mqtt://", "mqtts://") if problem == "ca" else broker.url
        daemon = start_daemon("-c", config(tmp_path, url, **keys), "--source", "simulated")
        assert wait_until(lambda: daemon.health()["components"]["mqtt"]["state"] == state,
                          TIMEOUT_S)
        counter = FrameCounter(daemon.ws_url + "/stream", 2.0)
        counter.start()
        counter.join(TIMEOUT_S)
        assert wait_until(lambda: attempts(broker) >= 3, TIMEOUT_S)  # it kept trying, quietly
    assert counter.error is None and counter.rate >= 0.85 * daemon.health()["fps"]
    assert daemon.log().count(line) == 1, daemon.log()
    assert "not-the-password-42" not in daemon.log()


def test_a_command_on_cmd_changes_the_state_for_everyone(start_daemon, tmp_path):
    """A command published on cmd changes the shared state: its result comes back on
    cmd/result, the retained state topic and every WebSocket /stream client see it."""
    with mosquitto() as broker, Subscriber(broker.port, f"{BASE}/cmd/result",
                                           f"{BASE}/state") as sub:
        daemon = start_daemon("-c", config(tmp_path, broker.url, Publish_Frames="no"),
                              "--source", "simulated")
        assert sub.wait_on(f"{BASE}/state")  # connected and subscribed
        with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            publish(broker.port, f"{BASE}/cmd", '{"cmd": "set", "colormap": "ironbow", "id": 7}')
            assert json.loads(sub.wait_on(f"{BASE}/cmd/result").payload) == {"ok": True,
                                                                            "id": 7}
            deadline = time.monotonic() + TIMEOUT_S
            while not isinstance(message := ws.recv(timeout=deadline - time.monotonic()), str) \
                    or json.loads(message).get("colormap") != "ironbow":
                pass
        assert sub.wait_on(f"{BASE}/state", lambda m: json.loads(m.payload)["colormap"]
                           == "ironbow")
        assert daemon.health()["state"]["colormap"] == "ironbow"


def test_a_stalled_mqtt_subscriber_does_not_slow_the_origin(start_daemon, tmp_path):
    """With a frame subscriber that never reads, WebSocket viewers and a healthy MQTT
    subscriber keep the source rate."""
    with mosquitto() as broker:
        daemon = start_daemon("-c", config(tmp_path, broker.url), "--source", "simulated")
        daemon.wait_for_frames(5)
        stalled = stalled_subscriber(broker.port, f"{BASE}/frame")
        try:
            with Subscriber(broker.port, f"{BASE}/frame") as healthy:
                counter = FrameCounter(daemon.ws_url + "/stream", 4.0)
                counter.start()
                frames = window(healthy, f"{BASE}/frame", 4.0)
                counter.join(TIMEOUT_S)
        finally:
            stalled.close()
        fps = daemon.health()["fps"]
        assert counter.error is None and counter.rate >= 0.85 * fps, (counter.rate, fps)
        assert len(frames) >= 0.85 * 4.0 * fps, (len(frames), fps)


def acl_recipe() -> str:
    """docs/mqtt.md's Mosquitto acl_file, verbatim (the fenced block with ``user``)."""
    text = (Path(__file__).parents[2] / "docs" / "mqtt.md").read_text()
    blocks = text.split("```\n")[1::2]
    return next(block for block in blocks if block.lstrip().startswith("# the camera"))


def test_the_acl_recipe_lets_home_assistant_command_and_readers_only_read(start_daemon,
                                                                          tmp_path, request):
    """docs/mqtt.md's ACL with password_file: a reader-only user's stop on cmd never reaches
    the daemon; Home Assistant's set runs without a token though Control_Token is set (was:
    refused); a retained command never runs and is counted in /healthz and /metrics."""
    folder = Path(tempfile.mkdtemp(prefix="mqtt-acl-"))  # readable by mosquitto's user
    folder.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    acl = folder / "acl"
    acl.write_text(acl_recipe().replace("garage", "cam"))
    acl.chmod(0o644)
    users = {"camera-cam": "camera-pw", "homeassistant": "ha-pw", "edge": "edge-pw",
             "viewer": "viewer-pw"}
    (tmp_path / "password").write_text("camera-pw\n")
    viewer, ha = ("-u", "viewer", "-P", "viewer-pw"), ("-u", "homeassistant", "-P", "ha-pw")
    with mosquitto(users=users, extra_config=f"acl_file {acl}") as broker, \
            Subscriber(broker.port, f"{BASE}/#", args=viewer) as sub:
        path = Path(config(tmp_path, broker.url, Username="camera-cam",
                           Password_File="password", Publish_Frames="no"))
        with path.open("a") as file:
            file.write("[Security]\nControl_Token = a-long-control-token-42\n")
        publish(broker.port, f"{BASE}/cmd", '{"cmd": "stop", "id": "kept"}', "-r", *ha)
        daemon = start_daemon("-c", str(path), "--source", "simulated")
        assert sub.wait_on(f"{BASE}/state")  # connected, subscribed, the kept stop dropped
        assert wait_until(lambda: daemon.health()["components"]["mqtt"]["counters"].get(
            f"retained_dropped:{BASE}/cmd") == 1, TIMEOUT_S)
        publish(broker.port, f"{BASE}/cmd", '{"cmd": "stop", "id": "viewer"}', *viewer)
        publish(broker.port, f"{BASE}/cmd", '{"cmd": "set", "colormap": "ironbow", "id": "ha"}',
                *ha)
        result = sub.wait_on(f"{BASE}/cmd/result")
        assert result is not None and json.loads(result.payload) == {"ok": True, "id": "ha"}
        assert [json.loads(m.payload)["id"] for m in sub.on(f"{BASE}/cmd")] == ["kept", "ha"]
        assert "Denied PUBLISH from" in broker.log()
        health = daemon.health()
        metrics = fetch_text(daemon.http_url + "/metrics")
    assert health["state"]["running"] is True and health["state"]["colormap"] == "ironbow"
    assert len(sub.on(f"{BASE}/cmd/result")) == 1
    assert (f'thermal_component_events_total{{component="mqtt",event="retained_dropped:'
            f'{BASE}/cmd"}} 1') in metrics
    assert daemon.log().count("dropped a retained message") == 1
