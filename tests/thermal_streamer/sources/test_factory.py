"""thermal_streamer.sources.factory: each source kind, made from a real config, and what it
declares it can do (the abilities the app builds the daemon from, not isinstance checks)."""

import threading

import pytest

from tests.conftest import ROOT, TEST_DATA
from thermal_streamer.config.loader import load_config
from thermal_streamer.core.source import Companion, Source
from thermal_streamer.sources.factory import make_source
from thermal_streamer.sources.mqtt_relay import MqttSource, RelayCommands

IMAGE = ROOT / "thermal2.jpg"
REPLAY = TEST_DATA / "TheCacophonyProject_python-cptv__v2-latlon.cptv"
CONFIGS = {
    "simulated": "",
    "replay": f"Replay = {REPLAY}\n",
    "file": f"[Server-Configurations]\nImage = {IMAGE}\n",
    "tcp": "TCP_Interface = 127.0.0.1\nTCP_Port = 0\n",
    "zmq": "ZMQ_Address = tcp://127.0.0.1:9\n",
    "mqtt": "MQTT_Camera = origin\n[MQTT]\nBroker = mqtt://127.0.0.1:9\n",
}
# kind: (has_raw, can_ffc, relayed, forwards commands, companions' (thread, component))
DECLARED = {
    "simulated": (True, True, False, False, []),  # its simulated CCI runs the FFC
    "replay": (True, False, False, False, []),
    "file": (False, False, False, False, []),
    "tcp": (False, False, False, False, []),
    "zmq": (True, False, False, False, []),
    "mqtt": (True, False, True, True, [("mqtt-relay", "mqtt_relay")]),
}


def made(tmp_path, kind: str) -> Source:
    conf = tmp_path / "server.conf"
    conf.write_text(f"[Source]\nSource = {kind}\n{CONFIGS[kind]}")  # a section may follow
    return make_source(load_config(["-c", str(conf)]))


def release(source: Source) -> None:
    """Run the source with its stop already set: it closes what it opened when made (tcp)."""
    if source.kind == "tcp":
        stop = threading.Event()
        stop.set()
        source.run(lambda frame: None, stop)


@pytest.mark.parametrize("kind", DECLARED)
def test_each_kind_declares_its_abilities(tmp_path, kind):
    """raw, FFC, relayed, forwarded commands and companions are what each kind says."""
    source = made(tmp_path, kind)
    try:
        assert source.kind == kind
        has_raw, can_ffc, relayed, forwards, companions = DECLARED[kind]
        assert (source.has_raw, source.can_ffc, source.relayed) == (has_raw, can_ffc, relayed)
        assert (source.commands is not None) == forwards
        assert [(c.thread, c.component) for c in source.companions] == companions
    finally:
        release(source)


def test_the_relay_forwards_commands_and_runs_its_broker_link_as_a_companion(tmp_path):
    """The mqtt source's commands are its RelayCommands, its companion is its broker link."""
    source = made(tmp_path, "mqtt")
    assert isinstance(source, MqttSource) and isinstance(source.commands, RelayCommands)
    assert source.companions == (Companion("mqtt-relay", "mqtt_relay", source.link),)
