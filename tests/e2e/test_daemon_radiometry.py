"""Emissivity end to end: [Lepton] settings and set_radiometry on the simulated camera (over
its simulated CCI) and on a replayed recording (corrected in software)."""

import json
import time

import numpy as np
from websockets.sync.client import connect

from lepton.radiometry import FluxLinearParams, PixelUnit, correct_frame
from tests.conftest import TEST_DATA
from tests.e2e.test_daemon_control import next_json, wait_state
from thermal_streamer.protocols.wire import parse_frame_message

CAPTURE = TEST_DATA / "Jkillelea_Lepton-3-Module__raw1.npy"  # a Lepton 3.5, centikelvin


def raw_frames_until(ws, done, timeout_s: float = 10.0) -> np.ndarray:
    """Read raw frames until ``done(header, pixels)``; returns those pixels."""
    deadline = time.monotonic() + timeout_s
    while True:
        message = ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
        if isinstance(message, bytes):
            header, _, raw = parse_frame_message(message)
            pixels = np.frombuffer(raw, "<u2").reshape(header["raw"]["rows"], header["raw"]["cols"])
            if done(header, pixels):
                return pixels


def test_replay_is_corrected_in_software_and_live(start_daemon, tmp_path):
    """Emissivity 0.9 in server.conf: every replayed pixel is correct_frame's; set_radiometry
    back to 1.0 gives the recording bit for bit, and every viewer's state says so."""
    conf = tmp_path / "emis.conf"
    conf.write_text("[Lepton]\nEmissivity = 0.9\nReflected_Temp_C = 20\n")
    daemon = start_daemon("-c", str(conf), "--source", "replay", "--replay", str(CAPTURE))
    original = np.load(CAPTURE)
    expected = correct_frame(original, PixelUnit.CENTIKELVIN,
                             FluxLinearParams(emissivity=0.9, background_k=293.15,
                                              atmosphere_k=293.15, window_reflected_k=293.15))
    assert not np.array_equal(expected, original)
    with connect(daemon.ws_url + "/stream?raw=1", open_timeout=5) as ws:
        state = next_json(ws, "hello")["state"]
        assert state["radiometry"] == {"emissivity": 0.9, "reflected_temp_c": 20.0,
                                       "window_transmission": 1.0, "window_temp_c": 22.0}
        raw_frames_until(ws, lambda _, pixels: np.array_equal(pixels, expected))
        ws.send(json.dumps({"cmd": "set_radiometry", "emissivity": 1.0}))
        assert wait_state(ws, "radiometry", {**state["radiometry"], "emissivity": 1.0})
        raw_frames_until(ws, lambda _, pixels: np.array_equal(pixels, original))
    assert daemon.health()["state"]["radiometry"]["emissivity"] == 1.0


def test_simulated_camera_follows_the_settings_over_cci(start_daemon, tmp_path):
    """Emissivity 0.5 in server.conf reaches the simulated camera at start: the 38 C radiator
    of its room (black bodies, 22 C around) reads near 52 C; set_radiometry 1.0 brings the
    true temperatures back (below 40 C); a bad value is refused."""
    conf = tmp_path / "emis.conf"
    conf.write_text("[Lepton]\nEmissivity = 0.5\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    with connect(daemon.ws_url + "/stream?raw=1", open_timeout=5) as ws:
        raw_frames_until(ws, lambda header, _: 48 < header["stats"]["max"] < 56)
        ws.send(json.dumps({"cmd": "set_radiometry", "emissivity": 1}))
        wait_state(ws, "radiometry", {"emissivity": 1.0, "reflected_temp_c": 22.0,
                                      "window_transmission": 1.0, "window_temp_c": 22.0})
        raw_frames_until(ws, lambda header, _: header["stats"]["max"] < 40)
        ws.send(json.dumps({"cmd": "set_radiometry", "emissivity": 2}))
        assert next_json(ws, "error")["error"] == "emissivity must be a number from 0.01 to 1"


def test_image_source_has_no_set_radiometry(start_daemon, tmp_path):
    """A file source (ready-made JPEGs) has no temperatures: the command is unknown there."""
    image = tmp_path / "thermal.jpg"
    image.write_bytes((TEST_DATA.parent.parent / "thermal2.jpg").read_bytes())
    daemon = start_daemon("--source", "file", "--image", str(image))
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        assert "radiometry" not in next_json(ws, "hello")["state"]
        ws.send(json.dumps({"cmd": "set_radiometry", "emissivity": 0.9}))
        assert next_json(ws, "error")["error"].startswith("unknown command 'set_radiometry'")
