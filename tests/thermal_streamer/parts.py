"""In-process outputs for tests: the WebSocket and HTTP servers on 127.0.0.1, each given only
the parts it uses (a real hub, state and renderer; no source thread, no daemon)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Iterator

import numpy as np

from lepton.radiometry import PixelUnit
from thermal_streamer.config.loader import load_config
from thermal_streamer.control.commands import CommandRunner
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import EncodedFrame, RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.core.listening import listen
from thermal_streamer.outputs.http.server import HttpServer
from thermal_streamer.outputs.reports import Status
from thermal_streamer.outputs.ws_server import WebSocketServer
from thermal_streamer.render.renderer import Renderer
from thermal_streamer.security.hosts import HostPolicy
from thermal_streamer.sources.factory import make_source

JOIN_TIMEOUT_S = 5.0


def raw_frame(offset: int = 0) -> RawFrame:
    """A 120x160 radiometric frame (centikelvin, 20.00-24.99 C) with a meta value."""
    pixels = ((np.arange(19200, dtype=np.uint16) + offset) % 500 + 29315).reshape(120, 160)
    return RawFrame(pixels.astype(np.uint16), PixelUnit.CENTIKELVIN, 1.5e9, {"fpa_temp_c": 31.0})


class Parts:
    """The real hub, state and renderer the outputs are built from (no source thread).

    ``publish()`` does what the source and renderer threads do for one raw frame.
    """

    def __init__(self) -> None:
        self.state = AcquisitionState(RenderSettings())
        self.hub = Hub(on_viewer_count=self.state.set_clients)
        self.renderer = Renderer(self.hub, self.state, "simulated")

    def publish(self, frame: RawFrame | None = None) -> EncodedFrame:
        """Publish one source frame and its encoded form; returns the encoded frame."""
        seq = self.hub.publish_source_frame(frame or raw_frame(self.hub.raw.latest()[0]))
        encoded = self.renderer.encode(seq, self.hub.raw.latest()[1])  # type: ignore[arg-type]
        self.hub.publish_encoded(encoded)
        return encoded


def no_ffc() -> concurrent.futures.Future[None]:
    """run_ffc of a source without a shutter: the future raises NotImplementedError."""
    future: concurrent.futures.Future[None] = concurrent.futures.Future()
    future.set_exception(NotImplementedError("ffc is only available with a Lepton camera"))
    return future


@contextlib.contextmanager
def running(target: Callable[[], object], stop: Callable[[], None], name: str) -> Iterator[None]:
    """Run ``target`` in a named thread; on exit call ``stop`` and join the thread."""
    thread = threading.Thread(target=target, name=name)
    thread.start()
    try:
        yield
    finally:
        stop()
        thread.join(JOIN_TIMEOUT_S)
        assert not thread.is_alive(), f"{name} did not stop"


@contextlib.contextmanager
def ws_server(parts: Parts, run_ffc: Callable[[], concurrent.futures.Future[None]] = no_ffc,
              send_timeout_s: float = 10.0, allowed_origins: tuple[str, ...] = (),
              control_token: str = "",
              **options: float) -> Iterator[WebSocketServer]:
    """A WebSocketServer on 127.0.0.1 (free port), wired to the parts as the app wires it.

    ``options`` are WebSocketServer's keyword arguments (``command_rate_per_s``, ...).
    """
    sock = listen("WebSocket", "127.0.0.1", 0, 16, "--ws-port", 64 * 1024)
    commands = CommandRunner(parts.state, run_ffc, control_token)
    with concurrent.futures.ThreadPoolExecutor(1, "ws-auth-test") as auth_executor:
        server = WebSocketServer(sock, parts.hub, parts.state, commands, send_timeout_s, 20.0,
                                 HostPolicy(own_names=()), allowed_origins,
                                 auth_executor=auth_executor,
                                 **options)  # type: ignore[arg-type]
        parts.hub.add_listener(server.notify_frame)
        parts.state.add_listener(server.notify_state)
        with running(server.run, server.stop, "ws-server-test"):
            assert server.started.wait(JOIN_TIMEOUT_S)
            yield server


@contextlib.contextmanager
def http_server(parts: Parts, source_args: tuple[str, ...] = ("--source", "simulated"),
                **kwargs: object) -> Iterator[HttpServer]:
    """An HttpServer on 127.0.0.1 (free port) for a source made (not started) from arguments."""
    source = make_source(load_config(list(source_args)))
    status = Status(parts.hub, parts.state, source, ws_port=9876)
    sock = listen("HTTP", "127.0.0.1", 0, 512, "--http-port")  # tests open 400 at once
    server = HttpServer(sock, parts.hub, status, parts.renderer.snapshot, 2.0,
                        HostPolicy(own_names=()), **kwargs)  # type: ignore[arg-type]
    with running(lambda: server.serve_forever(0.05), server.stop, "http-server-test"):
        yield server
