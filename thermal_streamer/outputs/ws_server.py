"""The WebSocket side: ``/stream`` (binary frames + JSON control) and ``/`` (base64 text).

One asyncio event loop in one thread (the app's ``ws-server``, running
:meth:`WebSocketServer.run`) serves every client with the ``websockets`` package. A hub
listener schedules :meth:`_fan_out` on the loop for each new frame; it hands the frame
to every client whose previous frame has left our write buffer (the one-slot mailbox:
a busy client skips frames) and writes without waiting, framing each message once for
all clients. A client whose buffer
has not drained for ``send_timeout_s`` is disconnected; nobody else notices. Frames
are never compressed (JPEG does not compress); client messages over 4 KiB close that
client with 1009. The protocol is described in docs/protocol.md.

State messages travel like frames: a change only schedules one pass on the loop (many
changes before it runs are one message), the pass reads the newest state, frames it once
and writes it to every ``/stream`` client whose write buffer is empty; a busy client
gets the newest state when it has drained (before its next frame, or at the next
sweep). A change of the viewer count alone is sent at most once per
``VIEWER_COUNT_INTERVAL_S``, so a burst of joins or leaves is one message. Nothing is
ever queued behind a client that does not read.

Bounds per connection: ``command_rate_per_s`` commands a second on average, bursts of
``command_burst`` (a token bucket); an excess command is answered with an error, and
``command_burst`` refused in a row close the connection with 1008. ``MAX_TOKEN_FAILURES``
wrong control tokens close it with 1008 too. Wrong tokens also cost the client's address
(:mod:`thermal_streamer.security.guesses`, shared by every connection, so reconnecting
does not help): after a few, its commands are refused for a growing wait. Behind a
trusted proxy (``trusted_proxies``) the address is the client its ``X-Forwarded-For``
names. Errors: a connection reset, broken pipe or
timeout is one DEBUG line; anything else is logged with its traceback, at most once per
``LOG_INTERVAL_S`` per kind. Running out of file descriptors (asyncio's accept fails with
EMFILE or ENFILE and retries after 1 s) is logged once when it starts and once when
accepting works again. :meth:`WebSocketServer.stop` takes ``SHUTDOWN_GRACE_S`` plus
``ABORT_WAIT_S`` (0.4 s) at most.

The handshake (RFC 6455 §4.2) is refused with 404 for an unknown path, 403 for a foreign
Host or Origin and, with a password file (``auth``), 401 (with a Basic challenge), 429
or 503 unless it carries a live session cookie (the page's, set by the HTTP side) or
Basic credentials (RFC 7617; other clients): the gate of
:mod:`thermal_streamer.security.gate` (``WEBSOCKET_DOOR``), which the HTTP side shares. A
session is looked up in the loop; an uncached Basic check runs scrypt in the ``ws-auth_0``
thread, so the loop never waits for it. With ``tls`` the server speaks wss (asyncio's TLS, handshake
within the same 10 s as the WebSocket handshake).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import errno
import logging
import math
import socket
import ssl
import threading
import time
import traceback
import weakref
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from lepton.errors import LeptonError
from thermal_streamer.control.commands import CommandError, TokenError
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.hub import Hub, Viewer
from thermal_streamer.core.ratelimit import RateLimitedLog, TokenBucket
from thermal_streamer.core.source import Commands
from thermal_streamer.protocols import wire
from thermal_streamer.security.auth import Authenticator
from thermal_streamer.security.gate import WEBSOCKET_DOOR, Entry, Gate, Outcome
from thermal_streamer.security.guesses import TokenGuesses
from thermal_streamer.security.hosts import HostPolicy
from thermal_streamer.security.proxies import ProxyPolicy

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0  # how often stalled clients are looked for between frames
SHUTDOWN_GRACE_S = 0.3  # closing handshakes get this long before connections are aborted
ABORT_WAIT_S = 0.1  # then handlers get this long to return before they are cancelled
VIEWER_COUNT_INTERVAL_S = 1.0  # a change of the viewer count alone is sent at most this often
COMMAND_RATE_PER_S = 10.0  # default command rate per connection (token bucket refill)
COMMAND_BURST = 20  # default bucket size; this many refused in a row close with 1008
MAX_TOKEN_FAILURES = 5  # wrong control tokens on one connection before it is closed (1008)
LOG_INTERVAL_S = 10.0  # repeated log lines of one kind: at most one per this
CONNECT_LOG_INTERVAL_S = 1.0  # "client connected/disconnected": at most one line per this
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)  # accept fails
PATHS = {"/": "legacy", "/stream": "stream"}
WIRE_FORMS = {"legacy": "base64_text", "stream": "stream_message", "raw": "stream_message_raw"}


@dataclasses.dataclass(eq=False)
class Client:
    """One connected viewer and its mailbox state (touched only in the loop thread)."""

    connection: ServerConnection
    viewer: Viewer  # protocol ("stream" or "legacy"), address and counters
    address: str  # the client's IP address (behind a trusted proxy, the one it names)
    wire_form: str  # the EncodedFrame attribute it is sent: stream_message, ... (WIRE_FORMS)
    token: str | None  # ?token= given when connecting
    last_seq: int  # newest frame it was given (or that existed when it connected)
    ready_since: float  # last time its write buffer was empty
    state_seq: int  # newest state message it has (the one in its hello counts)
    commands: TokenBucket
    commands_refused: int = 0  # commands refused in a row for the rate limit
    token_failures: int = 0  # commands with a wrong control token
    user: str = ""  # who logged in for it ("" without a password file)

    def writable(self) -> asyncio.WriteTransport | None:
        """Its transport, or None once the connection is closing (no data after a Close)."""
        transport = self.connection.transport
        if (transport is None or transport.is_closing()
                or self.connection.protocol.state is not State.OPEN):
            return None
        return transport


def websocket_frame(message: bytes | str) -> bytes:
    """One unmasked, uncompressed WebSocket frame holding ``message`` (binary or text)."""
    if isinstance(message, str):
        return Frame(Opcode.TEXT, message.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, message).serialize(mask=False)


class WebSocketServer:
    """The WebSocket side: run :meth:`run` in a thread of its own, :meth:`stop` from another.

    Args:
        sock: a bound, listening TCP socket.
        hub: frames to fan out, and where viewers join and leave.
        state: the shared acquisition state (sent on connect, changed by commands).
        commands: runs each command message (validation, the control token, the
            effect): the app's CommandRunner, or a relay's.
        send_timeout_s: disconnect a client that could not take a frame for this long.
        keepalive_s: ping interval; a peer that does not answer within it is dropped.
        hosts: which Host names may connect (others get 403: DNS rebinding).
        allowed_origins: extra origins allowed to connect.
        (``MAX_TOKEN_FAILURES`` wrong control tokens close the connection with 1008.)
        command_rate_per_s: commands a connection may send per second on average
            (0.1..1000, default 10); more are answered with ``too many commands``.
        command_burst: commands a connection may send at once (1..1000, default 20);
            this many refused in a row close the connection with 1008.
        auth: who may watch (None: everyone): a handshake needs a live session cookie
            or Basic credentials.
        auth_executor: where a Basic login's scrypt check runs, off the event loop (the
            app's ``ws-auth`` thread); needed with ``auth``.
        tls: serve wss with this server context (None: plain ws).
        trusted_proxies: ``Trusted_Proxies``: peers whose ``X-Forwarded-For`` names the
            client (for the login limit, wrong tokens and the log; default none).
        token_guesses: where wrong control tokens are counted per address (default: a
            limiter of its own, shared by all its connections).
    """

    START_TIMEOUT_S = 5.0  # how long :meth:`stop` waits for a :meth:`run` that is starting

    def __init__(self, sock: socket.socket, hub: Hub, state: AcquisitionState,
                 commands: Commands, send_timeout_s: float, keepalive_s: float,
                 hosts: HostPolicy, allowed_origins: tuple[str, ...] = (),
                 command_rate_per_s: float = COMMAND_RATE_PER_S,
                 command_burst: int = COMMAND_BURST, auth: Authenticator | None = None,
                 tls: ssl.SSLContext | None = None,
                 auth_executor: concurrent.futures.Executor | None = None,
                 trusted_proxies: tuple[str, ...] = (),
                 token_guesses: TokenGuesses | None = None):
        if auth is not None and auth_executor is None:
            raise ValueError("auth needs an auth_executor for its scrypt checks")
        self._sock, self._hub, self._state, self._commands = sock, hub, state, commands
        self._gate = Gate(WEBSOCKET_DOOR, hosts, auth, allowed_origins,
                          ProxyPolicy(trusted_proxies))
        self._guesses = token_guesses or TokenGuesses()
        self._tls = tls
        self._auth_executor = auth_executor
        # checks, which take turns anyway (Authenticator); its thread starts on first use
        self._command_rate_per_s, self._command_burst = command_rate_per_s, command_burst
        self._send_timeout_s, self._keepalive_s = send_timeout_s, keepalive_s
        self._clients: set[Client] = set()
        # who each admitted handshake logged in as, until its handler takes it (loop)
        self._logins: weakref.WeakKeyDictionary[ServerConnection, str] = \
            weakref.WeakKeyDictionary()
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._fan_out_pending = False
        self._last_seq = 0
        self._state_pending = False  # a _state_changed pass is scheduled
        self._state_seq = 0  # number of the newest state message (0: none since start)
        self._state_sent: dict[str, Any] | None = None  # the state it holds
        self._state_frame = b""  # that message, framed once for every client
        self._count_timer: asyncio.TimerHandle | None = None  # a viewer count waiting
        self._log = RateLimitedLog(log, LOG_INTERVAL_S)  # touched only in the loop thread
        self._connect_log = RateLimitedLog(log, CONNECT_LOG_INTERVAL_S)
        self._accept_failing = False  # asyncio's accept is out of file descriptors
        self.started = threading.Event()  # set once it accepts connections (or failed to)
        self._finished = threading.Event()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._sock.getsockname()[1])

    # -- called from other threads

    def stop(self) -> None:
        """Close every connection and the listening socket; returns once :meth:`run` has.

        Call it only once :meth:`run` was called (in another thread). Idempotent.
        """
        if not self.started.wait(self.START_TIMEOUT_S):
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._finished.wait()

    def notify_frame(self) -> None:
        """Hub listener: a new frame is in ``hub.encoded`` (any thread; never blocks)."""
        if not self._fan_out_pending:
            self._fan_out_pending = True
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                self._loop.call_soon_threadsafe(self._fan_out)

    def close_users(self, users: frozenset[str]) -> None:
        """Close every connection of these users (1008, "login revoked"): the password
        file no longer lets them in (SIGHUP). Thread-safe; never blocks."""
        if users and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._close_users, users)

    def _close_users(self, users: frozenset[str]) -> None:
        revoked = [client for client in self._clients if client.user in users]
        if revoked:
            log.info("closing %d WebSocket connections of revoked users (%s)", len(revoked),
                     ", ".join(sorted({client.user for client in revoked})))
        for client in revoked:
            self._loop.create_task(client.connection.close(CloseCode.POLICY_VIOLATION,
                                                           "login revoked"))

    def notify_state(self, state: dict[str, Any]) -> None:
        """State listener: the state changed (any thread; never blocks).

        ``state`` is not used: the pass this schedules (one for any number of changes
        before it runs) reads the newest state itself, so changes made in several
        threads can never arrive out of order.
        """
        if not self._state_pending:
            self._state_pending = True
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                self._loop.call_soon_threadsafe(self._state_changed)

    # -- the loop thread

    def run(self) -> None:
        """Serve until :meth:`stop`; then close every connection (blocks the calling thread)."""
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(self._loop_error)
        try:
            self._loop.run_until_complete(self._start_serving())
            self.started.set()
            sweeper = self._loop.create_task(self._sweep())
            self._loop.run_forever()
            sweeper.cancel()
            self._loop.run_until_complete(self._shutdown())
        finally:
            self.started.set()
            self._loop.close()
            self._finished.set()

    async def _start_serving(self) -> None:
        self._server = await serve(
            self._handle, sock=self._sock, process_request=self._check_request,
            compression=None, max_size=wire.MAX_COMMAND_BYTES,
            ping_interval=self._keepalive_s, ping_timeout=self._keepalive_s,
            close_timeout=SHUTDOWN_GRACE_S, server_header=None, ssl=self._tls,
        )

    async def _shutdown(self) -> None:
        """Close every connection with 1001; takes SHUTDOWN_GRACE_S + ABORT_WAIT_S at most.

        A client with data still in its write buffer would not read a close frame
        soon: it is aborted at once. The others get SHUTDOWN_GRACE_S (``close_timeout``)
        for the closing handshake, then ``websockets`` aborts them. Handlers still
        running ABORT_WAIT_S later (a handshake never sent, an ffc under way) are
        cancelled.
        """
        assert self._server is not None
        if self._count_timer is not None:
            self._count_timer.cancel()
        for connection in self._server.connections:
            transport = connection.transport
            if transport is not None and transport.get_write_buffer_size():
                transport.abort()
        self._server.close(close_connections=True)
        try:
            await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_GRACE_S + ABORT_WAIT_S)
        except TimeoutError:
            tasks = list(self._server.handler_tasks)
            log.debug("cancelling %d WebSocket handlers still running at shutdown", len(tasks))
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=ABORT_WAIT_S)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The loop's exception handler: what asyncio reports outside any handler.

        Running out of file descriptors in accept is logged once (asyncio retries
        every second: ``_check_request`` logs when accepting works again); a reset,
        broken pipe or timeout is a DEBUG line; anything else is logged with its
        traceback, at most once per LOG_INTERVAL_S.
        """
        exc = context.get("exception")
        message = context.get("message", "")
        if isinstance(exc, OSError) and exc.errno in OUT_OF_RESOURCES and "accept" in message:
            if not self._accept_failing:
                self._accept_failing = True
                log.warning("WebSocket: cannot accept connections: %s; retrying every second "
                            "(too many open files: see LimitNOFILE)", exc.strerror)
            return
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("WebSocket: %s: %r", message, exc)
            return
        details = "".join(traceback.format_exception(exc)) if exc else repr(context)
        self._log.log(logging.ERROR, f"loop:{type(exc).__name__}", "WebSocket: %s\n%s",
                      message, details)

    async def _check_request(self, connection: ServerConnection,
                             request: Request) -> Response | None:
        if self._accept_failing:
            self._accept_failing = False
            log.warning("WebSocket: accepting connections again")
        path = urlsplit(request.path).path
        if path not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown path: use / or /stream\n")
        return await self._admit(connection, path, request)

    async def _admit(self, connection: ServerConnection, path: str,
                     request: Request) -> Response | None:
        """None if the gate lets the handshake in, else its refusal: 403 for a foreign
        Host or Origin, 401 with the challenge, or 429 / 503 with Retry-After
        (:mod:`thermal_streamer.security.gate`). An uncached Basic check runs in the
        ws-auth thread, so the loop never waits for scrypt."""
        address = self._gate.client_address(connection.remote_address[0],
                                            request.headers.get_all("X-Forwarded-For"))
        values = request.headers.get_all("Authorization")
        origins = request.headers.get_all("Origin")
        entry = Entry(path, request.headers.get("Host"),
                      values[0] if len(values) == 1 else None,  # two: neither counts
                      tuple(request.headers.get_all("Cookie")), address,
                      # two Origins name no host: refused unless Allowed_Origins = *
                      origins[0] if len(origins) == 1 else ("" if origins else None))
        decision = self._gate.admit(entry)
        if decision.outcome is Outcome.CHECK_LOGIN:
            assert self._auth_executor is not None  # checked when made
            decision = await asyncio.wrap_future(
                self._auth_executor.submit(self._gate.log_in, entry))
        if decision.refusal is None:
            self._logins[connection] = decision.user
            return None
        log.log(logging.INFO if decision.outcome is Outcome.FOREIGN else logging.DEBUG,
                "refused WebSocket from %s: %s", address, decision.reason)
        response = connection.respond(decision.refusal.status, f"{decision.refusal.text}\n")
        for name, value in decision.refusal.headers.items():
            response.headers[name] = value
        return response

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # set once the handshake succeeded
        url = urlsplit(connection.request.path)
        kind = PATHS[url.path]
        query = parse_qs(url.query)
        wire_form = WIRE_FORMS["raw" if kind == "stream" and query.get("raw") == ["1"] else kind]
        host, port = connection.remote_address[:2]
        address = self._gate.client_address(
            host, connection.request.headers.get_all("X-Forwarded-For"))
        hub, state = self._hub, self._state
        peer = f"{host}:{port}"
        viewer = hub.join(kind, peer if address == host else f"{address} via {peer}")
        client = Client(connection, viewer, address, wire_form,
                        query.get("token", [None])[0], hub.encoded.latest()[0], time.monotonic(),
                        self._state_seq,
                        TokenBucket(self._command_rate_per_s, self._command_burst),
                        user=self._logins.pop(connection, ""))
        self._connect_log.log(logging.INFO, "connected", "client connected: %s %s (%d clients)",
                              client.viewer.address, url.path, len(hub.viewers()))
        try:
            if kind == "stream":
                await connection.send(wire.hello_message(state.snapshot()))
            self._clients.add(client)
            async for message in connection:
                if kind == "stream":
                    await self._command(client, message)
        except ConnectionClosed:
            pass
        except (ConnectionError, TimeoutError) as exc:  # reset, broken pipe, ...
            log.debug("client %s: %r", client.viewer.address, exc)
        except Exception:  # a bug: this client only
            self._log.log(logging.ERROR, "handler", "client %s failed; closing it (1011)\n%s",
                          client.viewer.address, traceback.format_exc())
            await connection.close(CloseCode.INTERNAL_ERROR)
        finally:
            self._clients.discard(client)
            hub.leave(client.viewer)
            self._connect_log.log(logging.INFO, "disconnected",
                                  "client disconnected: %s %s (%d clients, code %s)",
                                  client.viewer.address, url.path, len(hub.viewers()),
                                  connection.close_code)

    async def _command(self, client: Client, message: str | bytes) -> None:
        """Run one command, or answer it with an error (or close the connection: 1008)."""
        if not client.commands.take():
            client.commands_refused += 1
            if client.commands_refused >= self._command_burst:
                self._log.warning("commands", "closing %s (1008): it kept sending more than "
                                  "%g commands a second", client.viewer.address,
                                  self._command_rate_per_s)
                await client.connection.close(CloseCode.POLICY_VIOLATION, "too many commands")
            else:
                await client.connection.send(wire.error_message(
                    f"too many commands: at most {self._command_rate_per_s:g} a second"))
            return
        client.commands_refused = 0
        wait_s = self._guesses.wait_s(client.address)
        if wait_s > 0:  # not even looked at: a guess costs the guesser, not the camera
            await client.connection.send(wire.error_message(
                f"too many wrong control tokens from this address: try again in "
                f"{math.ceil(wait_s)} s"))
            return
        try:
            await asyncio.wrap_future(self._commands.execute(message, client.token,
                                                             client.viewer.address))
            self._guesses.right(client.address)  # it had the token, or none is needed
        except TokenError as exc:
            if exc.wrong:
                self._guesses.wrong(client.address)
                client.token_failures += 1
                self._log.warning("token", "wrong control token from %s (%d on this "
                                  "connection)", client.viewer.address, client.token_failures)
            await client.connection.send(wire.error_message(str(exc)))
            if client.token_failures >= MAX_TOKEN_FAILURES:
                await client.connection.close(CloseCode.POLICY_VIOLATION,
                                              "too many wrong control tokens")
        except (CommandError, NotImplementedError) as exc:
            await client.connection.send(wire.error_message(str(exc)))
        except LeptonError as exc:  # the camera refused or did not answer
            await client.connection.send(wire.error_message(f"ffc failed: {exc}"))

    def _state_changed(self) -> None:
        """Send the newest state now, or in VIEWER_COUNT_INTERVAL_S if only the count changed."""
        self._state_pending = False
        snapshot = self._state.snapshot()
        if snapshot == self._state_sent or self._server is None or not self._server.is_serving():
            return
        sent = self._state_sent or {}
        if any(snapshot[key] != sent.get(key) for key in snapshot if key != "clients"):
            self._publish_state()
        elif self._count_timer is None:
            self._count_timer = self._loop.call_later(VIEWER_COUNT_INTERVAL_S, self._publish_state)

    def _publish_state(self) -> None:
        """Frame the newest state once and write it to every /stream client that is ready."""
        if self._count_timer is not None:
            self._count_timer.cancel()
            self._count_timer = None
        self._state_sent = self._state.snapshot()
        self._state_frame = websocket_frame(wire.state_message(self._state_sent))
        self._state_seq += 1
        self._send_owed_states()

    def _send_owed_states(self) -> None:
        for client in tuple(self._clients):
            transport = client.writable()
            if transport is not None and not transport.get_write_buffer_size():
                self._write_owed_state(client, transport)

    def _write_owed_state(self, client: Client, transport: asyncio.WriteTransport) -> None:
        """Write the newest state message if ``client`` is on /stream and lacks it."""
        if client.state_seq < self._state_seq and client.viewer.protocol == "stream":
            transport.write(self._state_frame)
            client.state_seq = self._state_seq

    def _fan_out(self) -> None:
        """Give the newest frame to every client that took its previous one.

        Server frames are not masked (RFC 6455 §5.1) and compression is off, so a
        message's frame bytes are the same for every connection: each wire form is
        framed once, on first use, and the same bytes go to every ready transport
        (``broadcast()`` would frame and copy the payload again per connection).
        """
        self._fan_out_pending = False
        seq, frame = self._hub.encoded.latest()
        if frame is None or seq <= self._last_seq:
            return
        self._last_seq = seq
        now = time.monotonic()
        framed: dict[str, bytes] = {}
        state_seq = self._state_seq
        for client in tuple(self._clients):
            if client.last_seq >= seq:
                continue
            transport = client.writable()
            if transport is None:
                continue
            if transport.get_write_buffer_size():
                client.viewer.frames_skipped += 1
                self._drop_if_stalled(client, now)
                continue
            if client.state_seq < state_seq:
                self._write_owed_state(client, transport)
            data = framed.get(client.wire_form)
            if data is None:
                data = framed[client.wire_form] = websocket_frame(getattr(frame, client.wire_form))
            client.viewer.count_sent(len(data))  # first: the peer may read it before the next line
            transport.write(data)
            client.ready_since = now
            client.last_seq = seq

    def _drop_if_stalled(self, client: Client, now: float) -> None:
        transport = client.writable()
        if now - client.ready_since > self._send_timeout_s and transport is not None:
            self._log.warning("stalled", "dropping %s: it took no frame for %.1f s "
                              "(Send_Timeout)", client.viewer.address, now - client.ready_since)
            transport.abort()

    async def _sweep(self) -> None:
        """Drop stalled clients and send owed states, also when no frames are flowing."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            now = time.monotonic()
            for client in tuple(self._clients):
                transport = client.writable()
                if transport is None:
                    continue
                if transport.get_write_buffer_size():
                    self._drop_if_stalled(client, now)
                else:
                    client.ready_since = now
                    self._write_owed_state(client, transport)
