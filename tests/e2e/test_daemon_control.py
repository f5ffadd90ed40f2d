"""The /stream control channel: shared state, validation, the control token, FFC."""

import io
import json
import time

import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from thermal_streamer.protocols.wire import parse_frame_message


def next_json(ws, kind: str, timeout_s: float = 5.0) -> dict:
    """The next text message of type ``kind`` (frames and other messages are skipped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        message = ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
        if isinstance(message, str) and json.loads(message)["type"] == kind:
            return json.loads(message)


def wait_state(ws, key: str, value, timeout_s: float = 5.0) -> dict:
    """Read state messages until one has ``key == value``."""
    deadline = time.monotonic() + timeout_s
    while (state := next_json(ws, "state", max(deadline - time.monotonic(), 0.01)))[key] != value:
        pass
    return state


def next_frame(ws, timeout_s: float = 5.0) -> tuple[dict, bytes]:
    deadline = time.monotonic() + timeout_s
    while True:
        message = ws.recv(timeout=max(deadline - time.monotonic(), 0.01))
        if isinstance(message, bytes):
            header, jpeg, _ = parse_frame_message(message)
            return header, jpeg


def frames_within(ws, seconds: float) -> int:
    count, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            count += isinstance(ws.recv(timeout=left), bytes)
        except TimeoutError:
            break
    return count


@pytest.fixture
def simulated(start_daemon):
    return start_daemon("--source", "simulated")


def test_stop_and_start_apply_to_everyone(simulated):
    """stop from one client stops frames for all and tells all; start resumes them."""
    url = simulated.ws_url + "/stream"
    with connect(url, open_timeout=5) as a, connect(url, open_timeout=5) as b:
        next_frame(b)
        a.send(json.dumps({"cmd": "stop"}))
        wait_state(b, "running", False)
        assert frames_within(b, 1.2) <= 1  # at most one frame rendered as stop arrived
        b.send(json.dumps({"cmd": "start"}))
        wait_state(a, "running", True)
        assert frames_within(a, 1.0) >= 5


def test_set_is_broadcast_and_changes_the_pixels(simulated):
    """set colormap reaches every client as state and the pictures change colour."""
    url = simulated.ws_url + "/stream"
    with connect(url, open_timeout=5) as a, connect(url, open_timeout=5) as b:
        before = np.asarray(Image.open(io.BytesIO(next_frame(b)[1])), float)
        a.send(json.dumps({"cmd": "set", "colormap": "white-hot", "agc": "fixed",
                           "range": [15, 40]}))
        state = wait_state(b, "colormap", "white-hot")
        assert state["agc"] == "fixed" and state["range"] == [15.0, 40.0]
        header, jpeg = next_frame(b)
        while header["agc"]["mode"] != "fixed":
            header, jpeg = next_frame(b)
        after = np.asarray(Image.open(io.BytesIO(jpeg)), float)
    assert header["agc"] == {"mode": "fixed", "low": 15.0, "high": 40.0}
    assert np.abs(after[..., 0] - after[..., 2]).max() < 12  # grey now
    assert np.abs(before[..., 0] - before[..., 2]).max() > 50  # inferno was not


def test_bad_values_get_an_error_and_change_nothing(simulated):
    """A bad set value gets an error reply; the shared state stays as it was."""
    with connect(simulated.ws_url + "/stream", open_timeout=5) as ws:
        hello = next_json(ws, "hello")
        ws.send(json.dumps({"cmd": "set", "colormap": "viridis", "scale": 99}))
        assert next_json(ws, "error")["error"] == "scale must be an integer from 1 to 8"
        ws.send(json.dumps({"cmd": "set", "agc": "fixed"}))
        assert next_json(ws, "error")["error"] == "range must be set when agc is fixed"
    assert simulated.health()["state"]["colormap"] == hello["state"]["colormap"] == "inferno"


def test_hello_carries_the_current_state(simulated):
    """A client connecting after a change learns the current state in its hello."""
    with connect(simulated.ws_url + "/stream", open_timeout=5) as a:
        a.send(json.dumps({"cmd": "set", "colormap": "ironbow"}))
        wait_state(a, "colormap", "ironbow")
        with connect(simulated.ws_url + "/stream", open_timeout=5) as b:
            assert next_json(b, "hello")["state"]["colormap"] == "ironbow"


def test_control_token_is_enforced(start_daemon, tmp_path):
    """With Control_Token set, commands need it (field or ?token=); viewing stays open."""
    conf = tmp_path / "token.conf"
    conf.write_text("[Security]\nControl_Token = s3cret-of-16-chars\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    with connect(daemon.ws_url + "/stream", open_timeout=5) as viewer:
        next_frame(viewer)  # watching needs no token
        viewer.send(json.dumps({"cmd": "stop"}))
        assert next_json(viewer, "error")["error"] == (
            "this command needs the control token (Control_Token)")
        viewer.send(json.dumps({"cmd": "stop", "token": "wrong"}))
        assert next_json(viewer, "error")["error"].startswith("this command needs")
        viewer.send(json.dumps({"cmd": "set", "colormap": "magma", "token": "s3cret-of-16-chars"}))
        wait_state(viewer, "colormap", "magma")
    with connect(daemon.ws_url + "/stream?token=s3cret-of-16-chars", open_timeout=5) as operator:
        operator.send(json.dumps({"cmd": "set", "colormap": "plasma"}))
        wait_state(operator, "colormap", "plasma")


def test_ffc_runs_on_the_simulated_lepton_and_errors_elsewhere(simulated, start_daemon, tmp_path):
    """ffc goes to the (simulated) camera's CCI; a file source answers with an error."""
    with connect(simulated.ws_url + "/stream", open_timeout=5) as ws:
        ws.send(json.dumps({"cmd": "ffc"}))
        ws.send(json.dumps({"cmd": "bogus"}))  # the next error must be this one, not ffc's
        assert next_json(ws, "error")["error"].startswith("unknown command 'bogus'")
    image = tmp_path / "thermal.jpg"
    Image.new("RGB", (8, 8)).save(image)
    daemon = start_daemon("--source", "file", "--image", str(image))
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        ws.send(json.dumps({"cmd": "ffc"}))
        assert next_json(ws, "error")["error"] == (
            "ffc is only available with a Lepton camera (source is file)")


def test_a_command_flood_is_cut_off_and_costs_the_others_nothing(simulated):
    """10,000 set commands from one client: it gets errors, then 1008; a viewer keeps its frames."""
    url = simulated.ws_url + "/stream"
    with connect(url, open_timeout=5) as viewer, connect(url, open_timeout=5) as flooder:
        next_frame(viewer)
        with pytest.raises(ConnectionClosed) as closed:
            for n in range(10_000):
                flooder.send(json.dumps({"cmd": "set", "colormap": ("magma", "gray")[n % 2]}))
            for _ in range(1000):
                flooder.recv(timeout=5)
        assert closed.value.rcvd.code == 1008 and closed.value.rcvd.reason == "too many commands"
        assert frames_within(viewer, 1.0) >= 6
    assert "kept sending more than 10 commands a second" in simulated.log()


def test_wrong_control_tokens_close_the_connection(start_daemon, tmp_path):
    """Five wrong control tokens on one connection close it with 1008; the log says so once."""
    conf = tmp_path / "token.conf"
    conf.write_text("[Security]\nControl_Token = s3cret-of-16-chars\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    with connect(daemon.ws_url + "/stream", open_timeout=5) as guesser:
        with pytest.raises(ConnectionClosed) as closed:
            for guess in range(5000):
                guesser.send(json.dumps({"cmd": "stop", "token": f"guess{guess}"}))
                next_json(guesser, "error")
        assert closed.value.rcvd.code == 1008
        assert closed.value.rcvd.reason == "too many wrong control tokens"
    assert guess == 5
    assert daemon.log().count("wrong control token from 127.0.0.1:") == 1
    assert daemon.health()["state"]["running"] is True
