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
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import hmac
import logging
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from lepton.errors import LeptonError

from . import wire
from .commands import CommandError, apply_command, parse_command
from .hosts import HostPolicy
from .hub import Hub, Viewer
from .state import AcquisitionState

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 1.0  # how often stalled clients are looked for between frames
SHUTDOWN_GRACE_S = 1.0  # closing handshakes get this long before connections are aborted
PATHS = {"/": "legacy", "/stream": "stream"}
WIRE_FORMS = {"legacy": "base64_text", "stream": "stream_message", "raw": "stream_message_raw"}


@dataclasses.dataclass(eq=False)
class Client:
    """One connected viewer and its mailbox state (touched only in the loop thread)."""

    connection: ServerConnection
    viewer: Viewer  # protocol ("stream" or "legacy"), address and counters
    wire_form: str  # the EncodedFrame attribute it is sent: stream_message, ... (WIRE_FORMS)
    token: str | None  # ?token= given when connecting
    last_seq: int  # newest frame it was given (or that existed when it connected)
    ready_since: float  # last time its write buffer was empty

    def buffered(self) -> int:
        transport = self.connection.transport
        return transport.get_write_buffer_size() if transport is not None else 0


def websocket_frame(message: bytes | str) -> bytes:
    """One unmasked, uncompressed WebSocket frame holding ``message`` (binary or text)."""
    if isinstance(message, str):
        return Frame(Opcode.TEXT, message.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, message).serialize(mask=False)


def origin_allowed(origin: str | None, host_header: str | None, allowed: tuple[str, ...]) -> bool:
    """True if a handshake's Origin may connect.

    No Origin (a non-browser client) is allowed; otherwise its host name must be the
    host name the client used to reach us (the page's own host), or the origin must be
    listed in ``allowed`` (``Allowed_Origins``; ``*`` allows any).
    """
    if origin is None or "*" in allowed or origin in allowed:
        return True
    if not host_header:
        return False
    return urlsplit(origin).hostname == urlsplit("//" + host_header).hostname


class WebSocketServer:
    """The WebSocket side: run :meth:`run` in a thread of its own, :meth:`stop` from another.

    Args:
        sock: a bound, listening TCP socket.
        hub: frames to fan out, and where viewers join and leave.
        state: the shared acquisition state (sent on connect, changed by commands).
        run_ffc: starts a flat-field correction elsewhere and returns its future (it
            raises NotImplementedError for sources without a shutter, LeptonError
            when the camera refuses).
        send_timeout_s: disconnect a client that could not take a frame for this long.
        keepalive_s: ping interval; a peer that does not answer within it is dropped.
        hosts: which Host names may connect (others get 403: DNS rebinding).
        allowed_origins: extra origins allowed to connect.
        control_token: when not empty, commands need it (a ``token`` field, or
            ``?token=`` when connecting); viewing stays open.
    """

    START_TIMEOUT_S = 5.0  # how long :meth:`stop` waits for a :meth:`run` that is starting

    def __init__(self, sock: socket.socket, hub: Hub, state: AcquisitionState,
                 run_ffc: Callable[[], concurrent.futures.Future[None]],
                 send_timeout_s: float, keepalive_s: float, hosts: HostPolicy,
                 allowed_origins: tuple[str, ...] = (), control_token: str = ""):
        self._sock, self._hub, self._state, self._run_ffc = sock, hub, state, run_ffc
        self._control_token = control_token
        self._send_timeout_s, self._keepalive_s = send_timeout_s, keepalive_s
        self._allowed_origins, self._hosts = allowed_origins, hosts
        self._clients: set[Client] = set()
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._fan_out_pending = False
        self._last_seq = 0
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

    def notify_state(self, state: dict[str, Any]) -> None:
        """State listener: send the new state to every /stream client (any thread)."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._send_state, state)

    # -- the loop thread

    def run(self) -> None:
        """Serve until :meth:`stop`; then close every connection (blocks the calling thread)."""
        asyncio.set_event_loop(self._loop)
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
            close_timeout=SHUTDOWN_GRACE_S, server_header=None,
        )

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close(close_connections=True)
        try:
            await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_GRACE_S)
        except TimeoutError:
            for client in list(self._clients):
                if client.connection.transport is not None:
                    client.connection.transport.abort()
            await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_GRACE_S)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown path: use / or /stream\n")
        host = request.headers.get("Host")
        if not self._hosts.allows(host):
            log.info("refused WebSocket from %s: host %r is not one of this machine's names "
                     "(Allowed_Hosts)", connection.remote_address[0], host)
            return connection.respond(HTTPStatus.FORBIDDEN, "host not allowed\n")
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, host, self._allowed_origins):
            log.info("refused WebSocket from %s: origin %s not allowed",
                     connection.remote_address[0], origin)
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None  # set once the handshake succeeded
        url = urlsplit(connection.request.path)
        kind = PATHS[url.path]
        query = parse_qs(url.query)
        wire_form = WIRE_FORMS["raw" if kind == "stream" and query.get("raw") == ["1"] else kind]
        host, port = connection.remote_address[:2]
        hub, state = self._hub, self._state
        client = Client(connection, hub.join(kind, f"{host}:{port}"), wire_form,
                        query.get("token", [None])[0], hub.encoded.latest()[0], time.monotonic())
        log.info("client connected: %s %s (%d clients)", client.viewer.address, url.path,
                 len(hub.viewers()))
        try:
            if kind == "stream":
                await connection.send(wire.hello_message(state.snapshot()))
            self._clients.add(client)
            async for message in connection:
                if kind == "stream":
                    await self._command(client, message)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)
            hub.leave(client.viewer)
            log.info("client disconnected: %s %s (%d clients, code %s)", client.viewer.address,
                     url.path, len(hub.viewers()), connection.close_code)

    async def _command(self, client: Client, message: str | bytes) -> None:
        try:
            command = parse_command(message)
            self._authorize(client, command)
            if command["cmd"] == "ffc":
                await asyncio.wrap_future(self._run_ffc())
            else:
                apply_command(command, self._state)
        except (CommandError, NotImplementedError) as exc:
            await client.connection.send(wire.error_message(str(exc)))
        except LeptonError as exc:  # the camera refused or did not answer
            await client.connection.send(wire.error_message(f"ffc failed: {exc}"))

    def _authorize(self, client: Client, command: dict[str, Any]) -> None:
        """Raise CommandError unless the control token is unset or was given."""
        if not self._control_token:
            return
        given = command.get("token") or client.token or ""
        if not hmac.compare_digest(given.encode(), self._control_token.encode()):
            raise CommandError("this command needs the control token (Control_Token)")

    def _send_state(self, state: dict[str, Any]) -> None:
        message = wire.state_message(state)
        broadcast([c.connection for c in self._clients if c.viewer.protocol == "stream"], message)

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
        for client in tuple(self._clients):
            connection = client.connection
            transport = connection.transport
            if (client.last_seq >= seq or transport is None
                    or connection.protocol.state is not State.OPEN):  # no data after a Close
                continue
            if transport.get_write_buffer_size():
                client.viewer.frames_skipped += 1
                self._drop_if_stalled(client, now)
                continue
            data = framed.get(client.wire_form)
            if data is None:
                data = framed[client.wire_form] = websocket_frame(getattr(frame, client.wire_form))
            transport.write(data)
            client.ready_since = now
            client.last_seq = seq
            client.viewer.count_sent(len(data))

    def _drop_if_stalled(self, client: Client, now: float) -> None:
        if now - client.ready_since > self._send_timeout_s and client.connection.transport:
            log.warning("dropping %s: it took no frame for %.1f s (Send_Timeout)",
                        client.viewer.address, now - client.ready_since)
            client.connection.transport.abort()

    async def _sweep(self) -> None:
        """Drop stalled clients even when no frames are flowing."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            now = time.monotonic()
            for client in list(self._clients):
                if client.buffered():
                    self._drop_if_stalled(client, now)
                else:
                    client.ready_since = now
