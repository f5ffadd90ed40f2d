"""thermal_streamer.outputs.ws_server in-process: the /stream and / protocols, commands, origins,
the token, FFC.

Each test builds a WebSocketServer from a real hub, state and renderer on 127.0.0.1 and
talks to it with the real ``websockets`` client; no daemon subprocess.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import json
import logging
import os
import resource
import socket
import threading
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side, State
from websockets.sync.client import ClientConnection, connect

from tests.conftest import wait_until
from tests.e2e.clients import is_closed_by_peer, stalled_client
from tests.thermal_streamer.parts import Parts, ws_server
from tests.tls import PASSWORD, USER, client_context, make_certificate
from thermal_streamer.core.frames import EncodedFrame
from thermal_streamer.outputs.ws_server import (
    ABORT_WAIT_S,
    SHUTDOWN_GRACE_S,
    SWEEP_INTERVAL_S,
    TokenBucket,
)
from thermal_streamer.protocols.wire import parse_frame_message
from thermal_streamer.security.auth import ADDRESS_BURST, Authenticator
from thermal_streamer.security.passwords import hash_password
from thermal_streamer.security.tls import tls_context

TOKEN = "s3cret-of-16-chars"  # a Control_Token of the length server.conf asks for
TIMEOUT_S = 5.0
MESSAGES = 100  # the most messages a helper reads while looking for one


def open_client(port: int, path: str = "/stream", origin: str | None = None) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{port}{path}", open_timeout=TIMEOUT_S,
                   origin=origin)  # type: ignore[arg-type]


def hello(ws: ClientConnection) -> dict[str, Any]:
    """The hello message's state (the first message on /stream)."""
    message = json.loads(ws.recv(timeout=TIMEOUT_S))
    assert message["type"] == "hello" and message["version"] == 1
    return message["state"]


def next_binary(ws: ClientConnection) -> bytes:
    """The next binary message, skipping text (state messages as viewers come and go)."""
    for _ in range(MESSAGES):
        message = ws.recv(timeout=TIMEOUT_S)
        if isinstance(message, bytes):
            return message
    raise AssertionError(f"no binary message among {MESSAGES}")


def next_text(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next text message of type ``kind``, skipping frames and other messages."""
    for _ in range(MESSAGES):
        message = ws.recv(timeout=TIMEOUT_S)
        if isinstance(message, str) and (decoded := json.loads(message))["type"] == kind:
            return decoded
    raise AssertionError(f"no {kind} message among {MESSAGES}")


def next_state(ws: ClientConnection, **expected: Any) -> dict[str, Any]:
    """The next state message holding ``expected`` (skipping viewer-count changes)."""
    for _ in range(MESSAGES):
        state = next_text(ws, "state")
        if all(state[k] == v for k, v in expected.items()):
            return state
    raise AssertionError(f"no state with {expected} among {MESSAGES}")


def first_frame(ws: ClientConnection, parts: Parts) -> EncodedFrame:
    """Publish frames until the client receives one; returns it.

    A client gets only frames published after it was registered, which happens just
    after its hello was sent, so the first frames may go by.
    """
    for _ in range(20):
        frame = parts.publish()
        with contextlib.suppress(TimeoutError):
            while True:
                if ws.recv(timeout=0.25) == frame.stream_message:
                    return frame
    raise AssertionError("no frame reached the client")


def test_stream_client_gets_hello_then_each_new_frame():
    """/stream: hello with the state, then the exact bytes of each published frame's message."""
    parts = Parts()
    with ws_server(parts) as server, open_client(server.port) as ws:
        state = hello(ws)
        assert state["colormap"] == "inferno" and state["running"] is True
        first = first_frame(ws, parts)
        second = parts.publish()
        assert next_binary(ws) == second.stream_message
        header, jpeg, raw = parse_frame_message(second.stream_message)
        assert header["seq"] == first.seq + 1 and jpeg[:2] == b"\xff\xd8" and raw == b""


def test_raw_and_legacy_clients_get_their_wire_forms():
    """/stream?raw=1 gets the pixels too; / gets base64 text of the JPEG."""
    parts = Parts()
    with (ws_server(parts) as server, open_client(server.port, "/stream?raw=1") as raw_ws,
          open_client(server.port, "/") as legacy):
        hello(raw_ws)
        for _ in range(20):  # until the legacy client is registered
            frame = parts.publish()
            with contextlib.suppress(TimeoutError):
                if base64.b64decode(legacy.recv(timeout=0.25)) == frame.jpeg:
                    break
        else:
            raise AssertionError("no frame reached the legacy client")
        for _ in range(20):
            header, _, raw = parse_frame_message(next_binary(raw_ws))
            if header["seq"] == frame.seq:
                break
        assert header["raw"] == {"rows": 120, "cols": 160, "dtype": "<u2", "unit": "centikelvin"}
        assert raw == frame.source_frame.pixels.astype("<u2").tobytes()  # type: ignore[union-attr]


def test_unknown_path_and_foreign_origin_are_refused():
    """The handshake answers 404 for an unknown path and 403 for another site's origin."""
    parts = Parts()
    with ws_server(parts, allowed_origins=("http://dash.example",)) as server:
        with pytest.raises(InvalidStatus) as refused:
            open_client(server.port, "/elsewhere")
        assert refused.value.response.status_code == 404
        with pytest.raises(InvalidStatus) as refused:
            open_client(server.port, origin="http://attacker.example")
        assert refused.value.response.status_code == 403
        with open_client(server.port, origin="http://dash.example") as ws:
            hello(ws)


def test_set_reaches_every_client_and_a_bad_command_only_its_sender():
    """A valid set changes the shared state for all; a bad one is answered to its sender only."""
    parts = Parts()
    with ws_server(parts) as server, open_client(server.port) as a, open_client(server.port) as b:
        hello(a)
        hello(b)
        a.send(json.dumps({"cmd": "set", "scale": 9}))
        assert next_text(a, "error") == {"type": "error",
                                         "error": "scale must be an integer from 1 to 8"}
        a.send("[" * 2000 + "]" * 2000)
        assert next_text(a, "error")["error"] == "malformed command: nested too deeply"
        b.send(json.dumps({"cmd": "set", "colormap": "ironbow", "range": [20, 30]}))
        for ws in (a, b):
            state = next_state(ws, colormap="ironbow")
            assert state["range"] == [20.0, 30.0] and state["scale"] == 1
        assert parts.state.render_settings().range == (20.0, 30.0)


def test_control_token_guards_commands_not_viewing():
    """With Control_Token, commands without it are refused; with it (field or query) they work."""
    parts = Parts()
    with (ws_server(parts, control_token=TOKEN) as server, open_client(server.port) as ws,
          open_client(server.port, f"/stream?token={TOKEN}") as trusted):
        hello(ws)
        hello(trusted)
        ws.send(json.dumps({"cmd": "stop"}))
        assert next_text(ws, "error")["error"] == (
            "this command needs the control token (Control_Token)")
        assert parts.state.running
        ws.send(json.dumps({"cmd": "stop", "token": TOKEN}))
        next_state(ws, running=False)
        trusted.send(json.dumps({"cmd": "start"}))
        next_state(trusted, running=True)


def test_ffc_runs_through_the_callable_and_reports_its_failure():
    """ffc calls run_ffc and awaits it: a source without a shutter gets an error reply."""
    with ws_server(Parts()) as server, open_client(server.port) as ws:
        hello(ws)
        ws.send(json.dumps({"cmd": "ffc"}))
        assert next_text(ws, "error")["error"] == "ffc is only available with a Lepton camera"

    ran = threading.Event()
    with (concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ffc-test") as executor,
          ws_server(Parts(), run_ffc=lambda: executor.submit(ran.set)) as server,
          open_client(server.port) as ws):
        hello(ws)
        ws.send(json.dumps({"cmd": "ffc"}))
        ws.send(json.dumps({"cmd": "set", "scale": 0}))  # answered only after the ffc returned
        assert next_text(ws, "error")["error"] == "scale must be an integer from 1 to 8"
        assert ran.is_set()


def test_oversized_message_closes_only_that_client():
    """A client message over 4 KiB closes that client with 1009; the others keep their frames."""
    parts = Parts()
    with (ws_server(parts) as server, open_client(server.port) as bad,
          open_client(server.port) as good):
        hello(bad)
        hello(good)
        bad.send("x" * 5000)
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(MESSAGES):
                bad.recv(timeout=TIMEOUT_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        first_frame(good, parts)


def test_stop_closes_connected_clients():
    """stop() ends run() with clients still connected; they see the connection close."""
    parts = Parts()
    with ws_server(parts) as server, open_client(server.port) as ws:
        hello(ws)
        server.stop()
        with pytest.raises(ConnectionClosed):
            for _ in range(MESSAGES):
                ws.recv(timeout=TIMEOUT_S)
        assert parts.hub.viewers() == []


def test_foreign_host_is_refused_even_with_a_matching_origin():
    """DNS rebinding: Host and Origin both attacker.example is refused with 403."""
    with ws_server(Parts()) as server, socket.create_connection(
            ("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: attacker.example\r\n"
                     b"Origin: http://attacker.example\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 403 ")



@pytest.mark.parametrize("host", [b"127.0.0.1", b"attacker.example"])
def test_two_origin_headers_are_refused_with_403(host):
    """A handshake with two Origin headers is refused with 403, not a server error."""
    with ws_server(Parts()) as server, socket.create_connection(
            ("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: " + host + b"\r\n"
                     b"Origin: http://127.0.0.1\r\nOrigin: http://attacker.example\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 403 ")

def server_messages(sock: socket.socket, quiet_s: float = 0.3) -> list[Frame]:
    """Read a raw client socket until it is quiet for ``quiet_s``; the frames it received.

    Parsed by ``websockets``' own protocol (client side, past the handshake).
    """
    protocol = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    sock.settimeout(quiet_s)
    for _ in range(10_000):
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            break
        if not data:
            break
        protocol.receive_data(data)
    return [event for event in protocol.events_received() if isinstance(event, Frame)]


def states_in(frames: list[Frame]) -> list[dict[str, Any]]:
    return [json.loads(f.data) for f in frames
            if f.opcode is Opcode.TEXT and json.loads(f.data)["type"] == "state"]


def all_skipping(parts: Parts, count: int) -> bool:
    """Publish a frame; True once ``count`` viewers have skipped one (their buffers are full)."""
    parts.publish()
    return sum(v.frames_skipped > 0 for v in parts.hub.viewers()) >= count


def test_a_burst_of_joins_is_one_state_and_a_busy_client_gets_only_the_newest():
    """200 joins reach a viewer as <= 3 state messages; a stalled client is owed the newest only."""
    parts = Parts()
    with ws_server(parts) as server, open_client(server.port) as ws:
        hello(ws)
        stalled = [stalled_client(server.port) for _ in range(200)]
        try:
            seen = [next_text(ws, "state")]
            while seen[-1]["clients"] != 201:
                seen.append(next_text(ws, "state"))
            assert len(seen) <= 3, [s["clients"] for s in seen]
            busy = stalled[0]
            assert wait_until(lambda: all_skipping(parts, 200), TIMEOUT_S)
            for colormap in ("ironbow", "magma", "viridis", "gray"):
                ws.send(json.dumps({"cmd": "set", "colormap": colormap}))
                next_state(ws, colormap=colormap)
            received = server_messages(busy)  # drains it: the sweep sends what it is owed
            received += server_messages(busy, quiet_s=2 * SWEEP_INTERVAL_S)
            colormaps = [s["colormap"] for s in states_in(received)]
            assert colormaps[-1:] == ["gray"] and "magma" not in colormaps
        finally:
            for sock in stalled:
                sock.close()


def test_command_flood_is_refused_then_closed_and_others_see_little():
    """Beyond the burst, commands get an error; command_burst refusals in a row close with 1008."""
    parts = Parts()
    with (ws_server(parts, command_rate_per_s=1, command_burst=5) as server,
          open_client(server.port) as bystander, open_client(server.port) as flooder):
        hello(bystander)
        hello(flooder)
        with pytest.raises(ConnectionClosed) as closed:
            for n in range(10_000):
                flooder.send(json.dumps({"cmd": "set", "scale": 1 + n % 2}))
            for _ in range(MESSAGES):
                flooder.recv(timeout=TIMEOUT_S)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too many commands")
        states = 0
        first_frame(bystander, parts)  # still served
        with contextlib.suppress(TimeoutError):
            for _ in range(MESSAGES):
                message = bystander.recv(timeout=0.5)
                states += isinstance(message, str) and json.loads(message)["type"] == "state"
        assert states <= 6  # one per accepted command (the burst of 5), one for the count


def test_a_command_over_the_burst_gets_an_error():
    """The first command over the burst is answered with the rate; the connection stays open."""
    parts = Parts()
    with (ws_server(parts, command_rate_per_s=2, command_burst=2) as server,
          open_client(server.port) as ws):
        hello(ws)
        for _ in range(3):
            ws.send(json.dumps({"cmd": "set", "scale": 0}))
        errors = [next_text(ws, "error")["error"] for _ in range(3)]
        assert errors == ["scale must be an integer from 1 to 8"] * 2 + [
            "too many commands: at most 2 a second"]


def test_token_bucket_with_injected_clock():
    """TokenBucket: a full burst, then one token per 1/rate seconds, never more than burst."""
    now = [0.0]
    bucket = TokenBucket(2.0, 3, lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] = 100.0
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_wrong_tokens_close_the_connection_after_five(caplog):
    """Missing tokens are only refused; the fifth wrong one closes with 1008; logged once."""
    caplog.set_level(logging.WARNING, "thermal_streamer.outputs.ws_server")
    with (ws_server(Parts(), control_token=TOKEN) as server,
          open_client(server.port) as ws):
        hello(ws)
        refusal = "this command needs the control token (Control_Token)"
        for _ in range(6):
            ws.send(json.dumps({"cmd": "stop"}))
            assert next_text(ws, "error")["error"] == refusal
        for guess in range(5):
            ws.send(json.dumps({"cmd": "stop", "token": f"guess{guess}"}))
            assert next_text(ws, "error")["error"] == refusal
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT_S)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1008, "too many wrong control tokens")
    lines = [r.getMessage() for r in caplog.records if "control token" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith("wrong control token from 127.0.0.1:")
    assert lines[0].endswith("(1 on this connection)")


def forwarded_client(port: int, client: str, token: str = "") -> ClientConnection:
    """A /stream connection as nginx would make it for ``client`` (X-Forwarded-For)."""
    path = f"/stream?token={token}" if token else "/stream"
    return connect(f"ws://127.0.0.1:{port}{path}", open_timeout=TIMEOUT_S,
                   additional_headers={"X-Forwarded-For": client})


def test_wrong_tokens_cost_the_address_across_connections(caplog):
    """Five wrong tokens (on one connection, closed for it) make the address wait: a new
    connection's commands, even with the right token, are refused with the wait; one
    line logged for the address; other connections of it share the count."""
    caplog.set_level(logging.WARNING, "thermal_streamer.security.guesses")
    parts = Parts()
    with ws_server(parts, control_token=TOKEN) as server:
        with open_client(server.port) as ws:
            hello(ws)
            for guess in range(5):
                ws.send(json.dumps({"cmd": "stop", "token": f"guess{guess}"}))
                next_text(ws, "error")
        with open_client(server.port, f"/stream?token={TOKEN}") as again:  # reconnected
            hello(again)
            again.send(json.dumps({"cmd": "stop"}))
            error = next_text(again, "error")["error"]
            assert error == "too many wrong control tokens from this address: try again in 2 s"
        assert parts.state.running
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("guesses")]
    assert lines == ["5 wrong Control_Token guesses from 127.0.0.1: its commands are refused "
                     "for 2 s"]


def test_behind_a_trusted_proxy_wrong_tokens_cost_the_forwarded_client():
    """With Trusted_Proxies = 127.0.0.1, a guesser's wrong tokens (X-Forwarded-For
    192.0.2.1) do not hold up a user at 192.0.2.2 behind the same proxy."""
    parts = Parts()
    with ws_server(parts, control_token=TOKEN, trusted_proxies=("127.0.0.1",)) as server:
        for guess in range(5):  # one connection per guess, as a guesser would
            with forwarded_client(server.port, "192.0.2.1") as ws:
                hello(ws)
                ws.send(json.dumps({"cmd": "stop", "token": f"guess{guess}"}))
                next_text(ws, "error")
        with forwarded_client(server.port, "192.0.2.2", TOKEN) as user:
            hello(user)
            user.send(json.dumps({"cmd": "stop"}))
            next_state(user, running=False)
        with forwarded_client(server.port, "192.0.2.1", TOKEN) as guesser:
            hello(guesser)
            guesser.send(json.dumps({"cmd": "start"}))
            assert next_text(guesser, "error")["error"].startswith(
                "too many wrong control tokens from this address")
        assert not parts.state.running


def test_stop_is_quick_with_stalled_and_silent_connections():
    """stop() with 50 stalled clients and one that never sent its handshake: well under 1 s."""
    parts = Parts()
    with ws_server(parts) as server:
        stalled = [stalled_client(server.port) for _ in range(50)]
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
        try:
            assert wait_until(lambda: all_skipping(parts, 50), TIMEOUT_S)
            started = time.monotonic()
            server.stop()
            took = time.monotonic() - started
            assert took < SHUTDOWN_GRACE_S + 2 * ABORT_WAIT_S + 0.2, took
            assert all(is_closed_by_peer(sock, TIMEOUT_S) for sock in stalled)
            assert parts.hub.viewers() == []
        finally:
            silent.close()
            for sock in stalled:
                sock.close()


def test_out_of_file_descriptors_is_logged_once_and_recovers(caplog):
    """accept failing with EMFILE logs one warning, and one more once accepting works again."""
    caplog.set_level(logging.WARNING, "thermal_streamer.outputs.ws_server")
    with ws_server(Parts()) as server:
        socks = [socket.socket() for _ in range(3)]
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        fillers: list[int] = []
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")), hard))
            with contextlib.suppress(OSError):  # EMFILE: every number below the limit is taken
                while len(fillers) < soft:  # (closed sockets leave holes accept could reuse)
                    fillers.append(os.dup(0))
            for sock in socks:
                sock.connect(("127.0.0.1", server.port))  # queued: accept has no fd for it
            assert wait_until(lambda: "cannot accept" in caplog.text, TIMEOUT_S)
        finally:
            for fd in fillers:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            for sock in socks:
                sock.close()
        with open_client(server.port) as ws:  # asyncio retries accept after 1 s
            hello(ws)
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "cannot accept" in w]) == 1
    assert warnings[0].startswith("WebSocket: cannot accept connections: Too many open files")
    assert "WebSocket: accepting connections again" in warnings
    assert not any(r.exc_info for r in caplog.records)


def test_a_bug_in_a_handler_closes_that_client_and_is_logged_once(caplog):
    """An unexpected error closes its client with 1011, logged with its traceback once."""
    def broken_ffc() -> concurrent.futures.Future[None]:
        raise RuntimeError("bug")

    caplog.set_level(logging.WARNING, "thermal_streamer.outputs.ws_server")
    with ws_server(Parts(), run_ffc=broken_ffc) as server:
        for _ in range(2):
            with open_client(server.port) as ws:
                hello(ws)
                ws.send(json.dumps({"cmd": "ffc"}))
                with pytest.raises(ConnectionClosed) as closed:
                    for _ in range(MESSAGES):
                        ws.recv(timeout=TIMEOUT_S)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "failed; closing it (1011)" in errors[0]
    assert errors[0].rstrip().endswith("RuntimeError: bug")


# -- who may watch (thermal_streamer.security.auth) and wss


def basic(password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{USER}:{password}".encode()).decode()}


def refusal(port: int, headers: dict[str, str]) -> Any:
    """The handshake's refusal (websockets' Response) for a client sending ``headers``."""
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{port}/stream", open_timeout=TIMEOUT_S,
                additional_headers=headers)
    return refused.value.response


def test_with_a_password_file_the_handshake_needs_a_session_or_basic_credentials():
    """No credentials, a forged cookie or a wrong password: 401 with the Basic challenge;
    the page's session cookie or the right password: hello; ADDRESS_BURST wrong
    passwords, then 429 with Retry-After."""
    checker = Authenticator({USER: hash_password(PASSWORD)})
    cookie = checker.open_session(USER).split(";")[0]
    with ws_server(Parts(), auth=checker) as server:  # type: ignore[arg-type]
        for headers in ({}, {"Cookie": "thermal_session=forged"}, basic("wrong")):
            response = refusal(server.port, headers)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"] == (
                'Basic realm="thermal camera", charset="UTF-8"')
            assert response.body == b"log in with a user of [Security] Password_File\n"
        for headers in ({"Cookie": f"theme=dark; {cookie}"}, basic()):
            with connect(f"ws://127.0.0.1:{server.port}/stream", open_timeout=TIMEOUT_S,
                         additional_headers=headers) as ws:
                hello(ws)
        for _ in range(ADDRESS_BURST):  # the right password above cleared the wrong one
            assert refusal(server.port, basic("guess")).status_code == 401
        response = refusal(server.port, basic("guess"))
        assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 6


def test_a_slow_login_check_does_not_stop_the_frames():
    """While a handshake's Basic check runs (held here until released), a connected
    client keeps getting frames: the check runs in the ws-auth thread, not the loop."""
    checking, release = threading.Event(), threading.Event()

    def slow_verify(password: str, stored: str) -> bool:
        checking.set()
        release.wait(TIMEOUT_S)
        return False

    checker = Authenticator({USER: "stored"}, verify=slow_verify)
    cookie = checker.open_session(USER).split(";")[0]
    parts = Parts()
    pool = concurrent.futures.ThreadPoolExecutor(1, "slow-login")
    with ws_server(parts, auth=checker) as server, \
            connect(f"ws://127.0.0.1:{server.port}/stream", open_timeout=TIMEOUT_S,
                    additional_headers={"Cookie": cookie}) as watcher:  # type: ignore[arg-type]
        hello(watcher)
        try:
            pending = pool.submit(connect, f"ws://127.0.0.1:{server.port}/stream",
                                  open_timeout=TIMEOUT_S, additional_headers=basic())
            assert checking.wait(TIMEOUT_S)
            frame = parts.publish()
            assert parse_frame_message(next_binary(watcher))[0]["seq"] == frame.seq
            release.set()
            with pytest.raises(InvalidStatus):
                pending.result(TIMEOUT_S)
        finally:
            release.set()
            pool.shutdown()


def test_wss_with_a_certificate(tmp_path):
    """With a TLS context the server speaks wss: hello, then frames."""
    cert, key = make_certificate(tmp_path)
    parts = Parts()
    with ws_server(parts, tls=tls_context(str(cert), str(key))) as server, \
            connect(f"wss://127.0.0.1:{server.port}/stream", open_timeout=TIMEOUT_S,
                    ssl=client_context(cert)) as ws:  # type: ignore[arg-type]
        hello(ws)
        frame = parts.publish()
        assert parse_frame_message(next_binary(ws))[0]["seq"] == frame.seq
