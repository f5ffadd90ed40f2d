"""thermal_streamer.mqtt.link against a real Mosquitto: connecting late, credentials, the one-slot
mailbox."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
from collections.abc import Iterator

from tests.conftest import wait_until
from tests.mosquitto import free_port, mosquitto
from tests.mqtt_clients import Subscriber
from thermal_streamer.config.values import BrokerUrl
from thermal_streamer.mqtt.link import BrokerSettings, MqttLink, Will

TIMEOUT_S = 10.0


def settings(port: int, **kwargs: object) -> BrokerSettings:
    return BrokerSettings(BrokerUrl("127.0.0.1", port, False), "link-test",
                          **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def running(link: MqttLink) -> Iterator[MqttLink]:
    """Run the link's network loop in a named thread; stop and join it on leaving."""
    thread = threading.Thread(target=link.run, name="mqtt-test")
    thread.start()
    try:
        yield link
    finally:
        link.stop()
        thread.join(5)
        assert not thread.is_alive()


def subscribe_once(port: int, topic: str, count: int = 1) -> subprocess.Popen[bytes]:
    """mosquitto_sub (an independent client) waiting for ``count`` messages on ``topic``."""
    return subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                             "-C", str(count), "-W", str(int(TIMEOUT_S)), "-v"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_broker_that_appears_later_is_picked_up(caplog):
    """Down at start is not an error: the link connects once the broker is there."""
    port = free_port()
    connected = threading.Event()
    caplog.set_level(logging.INFO, "thermal_streamer.mqtt.link")
    with running(MqttLink(settings(port), on_connected=connected.set)) as link:
        assert wait_until(lambda: link.health().state == "unreachable", TIMEOUT_S)
        assert not link.publish("t/state", b"x")
        with mosquitto(port=port):
            assert connected.wait(TIMEOUT_S)
            assert link.health().ok and link.health().gauges == {"connected": 1.0}
    assert link.health().counters["dropped:t/state"] == 1
    lines = [r.getMessage() for r in caplog.records]
    assert sum("cannot connect" in line for line in lines) == 1  # once, not per attempt
    assert sum("connected to mqtt://127.0.0.1" in line for line in lines) == 1


def test_wrong_credentials_give_one_clear_line(caplog):
    """A refused login is a state with one log line; the link keeps retrying quietly."""
    with mosquitto(users={"camera": "right"}) as broker:
        link = MqttLink(settings(broker.port, username="camera", password="wrong"))
        with running(link):
            assert wait_until(lambda: link.health().state == "refused", TIMEOUT_S)
        assert not link.health().ok
        assert "refused" in link.health().last_error
    refusals = [r for r in caplog.records if "refused the connection" in r.getMessage()]
    assert len(refusals) == 1 and "wrong" not in refusals[0].getMessage()


def test_messages_subscriptions_and_the_will():
    """Published messages reach an independent client; subscriptions reach the handler; a
    vanished link's will is published by the broker."""
    with mosquitto() as broker:
        received: list[tuple[str, bytes]] = []
        got = threading.Event()

        def handler(topic: str, payload: bytes) -> None:
            received.append((topic, payload))
            got.set()

        connected = threading.Event()
        link = MqttLink(settings(broker.port, keepalive_s=5), will=Will("t/availability",
                        b"offline"), on_connected=connected.set,
                        subscriptions={"t/cmd": handler})
        with running(link):
            assert connected.wait(TIMEOUT_S)
            assert link.publish_newest("t/frame", b"\x00frame", retain=True)
            out, _ = subscribe_once(broker.port, "t/frame").communicate(timeout=TIMEOUT_S)
            assert out == b"t/frame \x00frame\n"  # retained: a late subscriber gets it
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port),
                            "-t", "t/cmd", "-m", '{"cmd":"stop"}'], check=True, timeout=10)
            assert got.wait(TIMEOUT_S)
            assert received == [("t/cmd", b'{"cmd":"stop"}')]
            link.client.socket().close()  # vanish without a DISCONNECT: the broker sends the will
            out, _ = subscribe_once(broker.port, "t/availability").communicate(
                timeout=TIMEOUT_S)
            assert out == b"t/availability offline\n"  # the will is retained


def test_publish_newest_drops_while_the_previous_is_unwritten():
    """The one-slot mailbox per topic: a message still in paho's queue makes the next one drop."""
    with mosquitto() as broker:
        connected = threading.Event()
        link = MqttLink(settings(broker.port), on_connected=connected.set)
        with running(link):
            assert connected.wait(TIMEOUT_S)
            big = bytes(8 << 20)  # more than the socket takes at once
            results = [link.publish_newest("t/frame", big) for _ in range(20)]
        assert results[0] and not all(results)
        counters = link.health().counters
        assert counters["published:t/frame"] + counters["dropped:t/frame"] == 20


def test_stop_before_run_returns_at_once_and_a_clean_stop_is_no_warning(caplog):
    """stop() before run() makes run() return at once; stopping a connected link logs no
    warning."""
    link = MqttLink(settings(free_port()))
    link.stop()
    with running(link):
        pass  # run() returned: the join in running() would fail otherwise
    with mosquitto() as broker:
        connected = threading.Event()
        with running(MqttLink(settings(broker.port), on_connected=connected.set)):
            assert connected.wait(TIMEOUT_S)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_publishing_from_other_threads_never_interleaves_packets(caplog):
    """Threads publishing at once (the publisher, state listeners, handlers) while the
    network loop runs: every message arrives whole and the connection is never lost."""
    size, rounds, topics = 256 * 1024, 100, [f"t/{n}" for n in range(6)]
    with mosquitto() as broker, Subscriber(broker.port, "t/#") as sub:
        connected = threading.Event()
        link = MqttLink(settings(broker.port), on_connected=connected.set)
        with running(link):
            assert connected.wait(TIMEOUT_S)
            assert link.publish("t/ready", b"go", retain=True)
            assert sub.wait_on("t/ready")  # mosquitto_sub has subscribed
            start = threading.Barrier(len(topics))

            def flood(topic: str) -> None:
                start.wait(TIMEOUT_S)
                for n in range(rounds):
                    link.publish_newest(topic, bytes([n]) * size)
                link.publish(topic, b"end", qos=1)

            threads = [threading.Thread(target=flood, args=(t,), name=f"flood-{t}")
                       for t in topics]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT_S)
            assert sub.wait_for(lambda ms: sum(m.payload == b"end" for m in ms) == len(topics),
                                TIMEOUT_S)
            assert link.connected
    assert "connection lost" not in caplog.text
    frames = [m for m in sub.messages if m.topic != "t/ready" and m.payload != b"end"]
    assert frames and all(m.payload == m.payload[:1] * size for m in frames)


def test_broker_settings_from_config_for_the_publisher_and_the_relay(tmp_path):
    """[MQTT] gives one connection description; the relay's client id ends in -relay."""
    from thermal_streamer.config.loader import load_config

    path = tmp_path / "server.conf"
    path.write_text("[MQTT]\nBroker = mqtts://broker.lan\nUsername = cam\nCamera_ID = attic\n"
                    "Keepalive = 60\n")
    config = load_config(["-c", str(path)])
    assert BrokerSettings.from_config(config) == BrokerSettings(
        BrokerUrl("broker.lan", 8883, True), "thermal-attic", "cam", "", "", 60)
    assert BrokerSettings.from_config(config, "relay").client_id == "thermal-attic-relay"


def test_a_reconnect_that_races_stop_still_ends_the_loop():
    """stop() landing while paho reconnects (its reconnect() overwrites the disconnecting
    state) still ends run(): the new connection is closed at once. The race is made here
    by setting the stopped flag without the disconnect, then dropping the socket."""
    with mosquitto() as broker:
        connected = threading.Event()
        link = MqttLink(settings(broker.port), on_connected=connected.set)
        thread = threading.Thread(target=link.run, name="mqtt-race-test")
        thread.start()
        try:
            assert connected.wait(TIMEOUT_S)
            link._stopped = True  # what stop() sets; its disconnect() is the one lost
            link.client.socket().close()  # the loop reconnects after its back-off (1 s)
            thread.join(TIMEOUT_S)
            assert not thread.is_alive()
        finally:
            link.stop()
            thread.join(TIMEOUT_S)
