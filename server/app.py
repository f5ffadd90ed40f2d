"""The running daemon: binds the ports, starts the threads, stops them all on a signal.

Threads (all named, none daemonic, all joined by :meth:`App.stop`):
``source-<kind>`` reads the source into ``hub.raw``; for raw sources ``renderer`` turns
it into ``hub.encoded`` (ready-made JPEGs go there from the source's thread);
``ws-server`` runs the WebSocket event loop; ``http-server`` accepts HTTP connections,
each handled in an ``http-<peer>`` thread.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
import time
from typing import Any

from lepton.errors import LeptonError

from . import systemd
from .commands import AcquisitionState
from .config import Config, ConfigError
from .frames import ImageFrame
from .http_server import HttpServer
from .hub import Hub
from .pipeline import RenderSettings
from .renderer import Renderer
from .sources import make_source
from .sources.base import SourceError
from .stats_log import StatsLog, StatsLogError
from .ws_server import WebSocketServer

log = logging.getLogger(__name__)

SEND_BUFFER_BYTES = 64 * 1024  # kernel send buffer per WebSocket client: bounds how much a
# stalled peer can absorb before it counts as not taking frames
HTTP_POLL_S = 0.5  # how soon the HTTP accept loop notices shutdown
MAIN_WAKE_S = 1.0  # the main thread's longest sleep (it wakes at once on a signal)
STALE_AFTER_S = 5.0  # /healthz: no source frame for this long means the source is stuck


class BindError(Exception):
    """A listening port could not be opened; the message says why and how to fix it."""

    def __init__(self, what: str, host: str, port: int, option: str, error: OSError):
        self.what, self.host, self.port, self.option = what, host, port, option
        if error.errno == errno.EADDRINUSE:
            fix = f"another program is using it: stop that program or choose another port with {option}"
        elif error.errno == errno.EACCES:
            fix = (f"ports below 1024 need root or CAP_NET_BIND_SERVICE: run with sudo, or "
                   f"`sudo setcap cap_net_bind_service=+ep $(readlink -f $(which python3))`, "
                   f"or use a port above 1023, e.g. {option} 8080")
        elif error.errno == errno.EADDRNOTAVAIL:
            fix = "that address is not on this machine: use 0.0.0.0 or one of its addresses"
        else:
            fix = f"check the address and port ({option})"
        super().__init__(f"cannot listen for {what} on {host}:{port}: {error.strerror}; {fix}")


def listen(what: str, host: str, port: int, backlog: int, option: str,
           send_buffer: int | None = None) -> socket.socket:
    """Bind and listen on a TCP socket (IPv4 or IPv6 by the address).

    Raises:
        BindError: the address cannot be bound (in use, permission, not local).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise BindError(what, host, port, option, exc) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if send_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(what, host, port, option, exc) from None
    return sock


class App:
    """The daemon's parts, wired together.

    Args:
        config: the loaded configuration.

    Raises:
        ConfigError: the source's settings are unusable.
    """

    def __init__(self, config: Config):
        self.config = config
        self.state = AcquisitionState(RenderSettings(
            config.colormap, config.agc, config.range, config.clip_percent, config.scale,
            config.interpolation, config.jpeg_quality))
        self.hub = Hub(on_viewer_count=lambda count: self.state.update(clients=count))
        self.source = make_source(config, wanted=self.hub.has_viewers)
        self.renderer = Renderer(self.hub, self.state, self.source.kind)
        self.stats_log = None
        if config.stats_log:
            try:
                self.stats_log = StatsLog(self.hub, config.stats_log, config.stats_log_max_bytes,
                                          config.stats_log_backups)
            except StatsLogError as exc:
                raise ConfigError(config.config_path or "command line", "Logging", "Stats_Log",
                                  config.stats_log, str(exc)) from None
        self.stopping = threading.Event()
        self.failed = threading.Event()  # the source thread died
        self.done = threading.Event()  # a signal arrived or the source died: time to stop
        self._threads: list[threading.Thread] = []
        self.http: HttpServer | None = None
        self.ws: WebSocketServer | None = None
        self._stop_lock = threading.Lock()
        self._started_at = time.monotonic()

    def start(self) -> None:
        """Bind both ports and start every thread.

        Raises:
            BindError: a port cannot be bound (nothing is left running).
        """
        c = self.config
        http_sock = listen("HTTP", c.http_host, c.http_port, c.http_backlog, "--http-port")
        try:
            ws_sock = listen("WebSocket", c.ws_host, c.ws_port, 128, "--ws-port",
                             SEND_BUFFER_BYTES)
        except BindError:
            http_sock.close()
            raise
        self.http = HttpServer(http_sock, self)
        self.ws = WebSocketServer(ws_sock, self, c.send_timeout_s, c.keepalive_s,
                                  c.allowed_origins, c.control_token)
        self.hub.add_listener(self.ws.notify_frame)
        self.state.add_listener(self.ws.notify_state)
        self.ws.start()
        self._spawn(f"source-{self.source.kind}", self._run_source)
        if self.source.has_raw:
            self._spawn("renderer", self.renderer.run, self.stopping)
        if self.stats_log is not None:
            self._spawn("stats-log", self.stats_log.run, self.stopping)
        self._spawn("http-server", self.http.serve_forever, HTTP_POLL_S)
        http_port, ws_port = self.http_port, self.ws_port
        log.info("serving HTTP on %s:%d and WebSocket on %s:%d (source %s)",
                 c.http_host, http_port, c.ws_host, ws_port, self.source.kind)
        for url in self.urls():
            log.info("open %s", url)

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name)
        self._threads.append(thread)
        thread.start()

    def _run_source(self) -> None:
        try:
            publish = self.hub.publish_source_frame if self.source.has_raw else self._publish_image
            self.source.run(publish, self.stopping)
        except (SourceError, LeptonError) as exc:  # cannot run: say why, stop with exit 1
            log.error("source %s failed: %s", self.source.kind, exc)
            self.failed.set()
            self.done.set()
        except Exception:  # a bug: the traceback helps more than a summary
            log.exception("source %s failed", self.source.kind)
            self.failed.set()
            self.done.set()

    def _publish_image(self, frame: ImageFrame) -> None:
        """A ready-made JPEG: published to clients from the source's thread at once."""
        self.renderer.publish(self.hub.publish_source_frame(frame), frame)

    @property
    def http_port(self) -> int:
        return self.http.socket.getsockname()[1]

    @property
    def ws_port(self) -> int:
        return self.ws._sock.getsockname()[1]

    def urls(self) -> list[str]:
        host = self.config.http_host
        if host in ("0.0.0.0", "::", ""):
            hosts = [socket.gethostname(), "127.0.0.1"]
        else:
            hosts = [f"[{host}]" if ":" in host else host]
        return [f"http://{h}:{self.http_port}/" for h in hosts]

    def stop(self) -> None:
        """Stop every thread and close every socket. Idempotent; safe from any thread."""
        with self._stop_lock:
            self.stopping.set()
            self.hub.close()
            if self.ws is not None:
                self.ws.stop()
            if self.http is not None:
                self.http.shutdown()
                self.http.close_connections()
                self.http.server_close()
            for thread in self._threads:
                thread.join()
            self._threads.clear()

    def frames_flowing(self) -> bool:
        """True if the source produced a frame within the last STALE_AFTER_S seconds."""
        age = self.hub.source_rate.age()
        return age is not None and age < STALE_AFTER_S

    def run_ffc(self) -> None:
        """Run a flat-field correction on the camera (blocks up to about a second).

        Raises:
            NotImplementedError: the source is not a Lepton.
        """
        self.source.run_ffc()

    # -- what the HTTP endpoints report

    def page_config(self) -> dict[str, Any]:
        """/config.json: what the viewer page needs to connect."""
        _, frame = self.hub.raw.latest()
        width = height = None
        if frame is not None:
            if hasattr(frame, "pixels"):
                height, width = frame.pixels.shape
            else:
                width, height = frame.width, frame.height
        return {"version": 1, "ws_port": self.ws_port, "ws_path": "/stream",
                "source": self.source.kind, "width": width, "height": height,
                "scale": self.state.snapshot()["scale"], "raw": self.source.has_raw,
                "ffc": self.source.can_ffc}

    def health(self) -> dict[str, Any]:
        """/healthz: status, source, counters, rate, age of the newest frame, clients."""
        age = self.hub.source_rate.age()
        uptime = time.monotonic() - self._started_at
        if self.frames_flowing():
            status = "ok"
        else:
            status = "starting" if age is None and uptime < STALE_AFTER_S else "stale"
        return {
            "status": status,
            "source": self.source.kind,
            "source_status": self.source.status(),
            "frames_captured": self.hub.source_rate.count,
            "frames_published": self.hub.published,
            "fps": self.hub.source_rate.rate,
            "seconds_since_last_frame": None if age is None else round(age, 3),
            "uptime_s": round(uptime, 1),
            "clients": self.hub.viewer_counts(),
            "client_list": [v.as_dict() for v in self.hub.viewers()],
            "state": self.state.snapshot(),
        }


def run(config: Config) -> int:
    """Run the daemon until SIGINT or SIGTERM.

    Returns:
        The exit status: 0 after a clean shutdown, 1 if the source failed.

    Raises:
        BindError: a port cannot be bound.
        ConfigError: the source's settings are unusable.
    """
    app = App(config)

    def on_signal(signum, _frame) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        app.done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    watchdog_s = systemd.watchdog_interval_s()
    wake_s = min(MAIN_WAKE_S, watchdog_s / 2) if watchdog_s else MAIN_WAKE_S
    try:
        app.start()
        systemd.notify(f"READY=1\nSTATUS=serving {' '.join(app.urls())}")
        while not app.done.wait(wake_s):
            if watchdog_s and app.frames_flowing():
                systemd.notify("WATCHDOG=1")  # only while frames flow: a hung camera gets restarted
    finally:
        systemd.notify("STOPPING=1")
        started = time.monotonic()
        app.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        log.info("stopped in %.2f s", time.monotonic() - started)
    return 1 if app.failed.is_set() else 0
