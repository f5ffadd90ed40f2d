"""The composition root: builds every part, hands each only what it uses, owns every thread.

Nothing else knows all the parts; each part is built with the few things it uses
(the hub, the state, a callable), so it can be tested on its own.

Threads (all named, none daemonic; App starts each one, :meth:`App.stop` joins them all):

=============== ==================== ======================= ==============================
thread          reads                writes                  what may block it
=============== ==================== ======================= ==============================
source-<kind>   camera, file, socket hub.raw; ready-made     the device read (the source's
                                     JPEGs also hub.encoded  timeouts, about 0.5 s)
renderer        hub.raw, state       hub.encoded             JPEG work, about 1 ms (raw
                                                             sources only)
ws-server       hub.encoded, state,  client sockets, state   nothing: writes never wait;
                client messages      (commands)              FFC runs in ffc_0
ws-auth_0       -                    -                       a Basic login's scrypt for
                                                             ws-server, 50-100 ms
ffc_0           -                    the camera's CCI        an FFC, about 1 s (started on
                                                             the first ffc command); a
                                                             set_radiometry, about 1 ms
http-server     every waiting        one http-<peer> per     nothing (a selector; wakes at
                connection's request complete request        once on stop)
                line and headers
http-<peer>     hub.encoded, hub.raw its connection          its client: 10 s socket timeout,
                status                                       Send_Timeout for MJPEG
stats-log       hub.raw, the meter   the CSV file            the disk
mqtt-publisher  hub.encoded, hub.raw, the broker link         nothing: a one-slot mailbox per
                the meter (joins     (frame, jpeg, stats,    topic, drops while unwritten
                as a viewer)         roi/NAME)
mqtt            the broker's socket  the broker's socket;    nothing (non-blocking socket;
                (cmd, HA birth)      state (commands)        FFC runs in ffc_0)
mqtt-relay      the broker (the mqtt the relay's mailbox,    nothing: paho's network loop
                source's companion)  state (the origin's)    (handlers validate, never wait)
recorder        hub.raw, commands,   the recording queue,    nothing: a full queue drops the
                hook events          state "recording"       frame (counted)
recorder-writer the recording queue  Recordings_Dir          the disk (flushes every second)
alarms          hub.raw, the meter   state (alarms part),   nothing (each frame measured
                                     webhook queue, recorder once, shared)
                                     events, MQTT events
webhook         its queue            webhook URLs (POST)     the endpoint: Webhook_Timeout
                                                             per attempt, Webhook_Retries
state-file      regions and alarms   the State_File          the disk
                (on change)
MainThread      signals, App.wake    the stats log, the      nothing (wakes every second)
                                     logins (SIGHUP)
=============== ==================== ======================= ==============================

``http-<peer>`` threads are started by ``http-server`` for each complete request (a
connection that is only open, or still sending its headers, costs no thread) and
joined by :meth:`HttpServer.stop`, which :meth:`App.stop` calls.
"""

from __future__ import annotations

import concurrent.futures
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from lepton.errors import LeptonError
from lepton.radiometry import FluxLinearParams
from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.keys import MEASURE
from thermal_streamer.config.loader import Config
from thermal_streamer.control.commands import CommandRunner
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core import systemd
from thermal_streamer.core.health import ReportsHealth
from thermal_streamer.core.hub import Hub
from thermal_streamer.core.listening import BindError, listen, raise_fd_limit
from thermal_streamer.core.source import Commands, SourceError
from thermal_streamer.measure import readings
from thermal_streamer.measure.alarms import AlarmCommand, AlarmEvaluator, AlarmState, Transition
from thermal_streamer.measure.meter import Meter, RoiCommand
from thermal_streamer.measure.object_parameters import COMMAND as SET_RADIOMETRY
from thermal_streamer.measure.object_parameters import RadiometryCommand
from thermal_streamer.measure.state_file import (
    Definitions,
    StateFile,
    StateFileError,
    load_definitions,
)
from thermal_streamer.mqtt.publisher import MqttPublisher, publisher_from_config
from thermal_streamer.outputs.http.server import HttpServer
from thermal_streamer.outputs.reports import Status
from thermal_streamer.outputs.stats_log import StatsLog, StatsLogError
from thermal_streamer.outputs.webhook import WebhookSender
from thermal_streamer.outputs.ws_server import WebSocketServer
from thermal_streamer.recording.playback import PLAYBACK_PREFIX, Playback
from thermal_streamer.recording.recorder import Recorder, RecordingSettings
from thermal_streamer.render.renderer import Renderer
from thermal_streamer.security.auth import session_cookie_name
from thermal_streamer.security.hosts import HostPolicy
from thermal_streamer.security.startup import Security, read_security, reload_security
from thermal_streamer.security.tls import SecurityFileError
from thermal_streamer.sources.factory import make_source

log = logging.getLogger(__name__)

SEND_BUFFER_BYTES = 64 * 1024  # kernel send buffer per WebSocket client: bounds how much a
# stalled peer can absorb before it counts as not taking frames
WS_BACKLOG = 128
HTTP_POLL_S = 0.5  # how soon the HTTP accept loop notices shutdown
MAIN_WAKE_S = 1.0  # the main thread's longest sleep (it wakes at once on a signal)


class App:
    """The daemon's parts, wired together.

    Args:
        config: the loaded configuration.

    Raises:
        ConfigError: the source's, the stats log's or [Security]'s settings are unusable.
    """

    def __init__(self, config: Config):
        self.config = config
        try:
            self.auth, self.tls = read_security(config.password_file, config.tls_cert,
                                                config.tls_key)
        except SecurityFileError as exc:
            raise ConfigError(config.config_path or "command line", "Security", exc.key,
                              exc.path, exc.reason) from None
        self.state = AcquisitionState(config.render)
        self.hub = Hub(on_viewer_count=self.state.set_clients)
        self.source = make_source(config, wanted=self.hub.has_viewers, state=self.state)
        self.state_file = StateFile(config.state_file) if config.state_file else None
        definitions = self._load_definitions()
        self.regions = Meter(definitions.rois, lambda part: self.state.set_part("rois", part),
                             self._save_definitions)
        self.alarms = AlarmEvaluator(self.hub, self.regions.measure,
                                     lambda part: self.state.set_part("alarms", part),
                                     definitions.alarms, self._save_definitions)
        self.webhooks = WebhookSender(config.webhook_timeout_s, config.webhook_retries)
        self.alarms.add_listener(self._post_webhook, gated=True)
        self.renderer = Renderer(self.hub, self.state, self.source.kind,
                                 header_parts=[self.regions.header_part],
                                 measure=self.regions.measure)
        self.stats_log = None
        if config.stats_log:
            try:
                self.stats_log = StatsLog(self.hub, config.stats_log, config.stats_log_max_bytes,
                                          config.stats_log_backups, self.regions.measure)
            except StatsLogError as exc:
                raise ConfigError(config.config_path or "command line", "Logging", "Stats_Log",
                                  config.stats_log, str(exc)) from None
        self.stopping = threading.Event()
        self.failed = threading.Event()  # the source thread died
        self.done = threading.Event()  # a signal arrived or the source died: time to stop
        self.reopen_requested = threading.Event()  # SIGHUP: reopen, reload [Security]
        self.wake = threading.Event()  # set with either of the two: the main thread acts
        self._ffc = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ffc")
        self._ws_auth = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ws-auth")
        try:
            self.recorder = Recorder(self.hub, self.state, RecordingSettings.from_config(config),
                                     self.source.kind, self.source.has_raw, self.source.status)
        except OSError as exc:
            raise ConfigError(config.config_path or "command line", "Recording",
                              "Recordings_Dir", config.recordings_dir,
                              f"must be a folder the daemon can write: {exc.strerror}") from None
        self.alarms.add_listener(self._record_alarm)
        webhooks = {rule.name: rule.webhook for rule in config.alarms if rule.webhook}
        handlers = {**self.recorder.command_handlers(),
                    "roi": RoiCommand(self.regions, self.alarms.uses, self.alarms.rename_roi),
                    "alarm": AlarmCommand(self.alarms, self.regions.names, webhooks)}
        if self.source.has_raw:
            handlers[SET_RADIOMETRY] = RadiometryCommand(self.state, self._set_radiometry,
                                                         config.radiometry)
        # a source may run the commands itself (an edge forwards them to the origin)
        self.commands: Commands = (
            self.source.commands if self.source.commands is not None
            else CommandRunner(self.state, self._start_ffc, config.control_token, handlers))
        self._threads: list[threading.Thread] = []
        self.http: HttpServer | None = None
        self.ws: WebSocketServer | None = None
        self.status: Status | None = None
        self.mqtt: MqttPublisher | None = None
        self._stop_lock = threading.Lock()

    def start(self) -> None:
        """Bind both ports and start every thread.

        Raises:
            BindError: a port cannot be bound (nothing is left running).
        """
        c = self.config
        raise_fd_limit()
        http_sock = listen("HTTP", c.http_host, c.http_port, c.http_backlog, "--http-port")
        try:
            ws_sock = listen("WebSocket", c.ws_host, c.ws_port, WS_BACKLOG, "--ws-port",
                             SEND_BUFFER_BYTES)
        except BindError:
            http_sock.close()
            raise
        hosts = HostPolicy(c.allowed_hosts)
        if self.auth is not None:  # its own cookie: not another port's of this host
            self.auth.cookie_name = session_cookie_name(http_sock.getsockname()[1])
        ws = WebSocketServer(ws_sock, self.hub, self.state, self.commands, c.send_timeout_s,
                             c.keepalive_s, hosts, c.allowed_origins, c.command_rate_per_s,
                             c.command_burst, self.auth, self.tls, self._ws_auth,
                             c.trusted_proxies)
        components: dict[str, ReportsHealth] = {}
        if self.stats_log is not None:
            components["stats_log"] = self.stats_log
        if c.record != "off":
            components["recorder"] = self.recorder
        if self.state_file is not None:
            components["state_file"] = self.state_file
        if any(rule.webhook for rule in c.alarms):
            components["webhook"] = self.webhooks
        mqtt = publisher_from_config(c, self.source, self.hub, self.state, self.commands,
                                     self.renderer.snapshot, self.regions.measure,
                                     self._page_urls(http_sock.getsockname()[1])[0])
        if mqtt is not None:
            components["mqtt"] = mqtt.link
        for companion in self.source.companions:  # e.g. an edge's broker link
            components[companion.component] = companion.service
            self._spawn(companion.thread, companion.service.run)
        self.status = Status(self.hub, self.state, self.source, ws.port, components,
                             {"rois": self.regions.latest_json, "alarms": self.alarms.report})
        http = HttpServer(http_sock, self.hub, self.status, self.renderer.snapshot,
                          c.send_timeout_s, hosts,
                          json_routes={"/raw": self._raw_payload,
                                       "/recordings.json": self.recorder.listing,
                                       "/alarms.json": self.alarms.report},
                          file_routes={"/recordings/": self.recorder.library.resolve},
                          data_routes={PLAYBACK_PREFIX: Playback(
                              self.recorder.library.resolve, self.state.render_settings,
                              [self.regions.detached_header_part]).answer},
                          max_connections=c.http_max_connections, auth=self.auth,
                          tls=self.tls, trusted_proxies=c.trusted_proxies,
                          frame_ancestors=c.frame_ancestors)
        self.hub.add_listener(ws.notify_frame)
        self.state.add_listener(ws.notify_state)
        self._spawn("ws-server", ws.run)
        self.ws = ws  # stop() stops only what runs
        ws.started.wait(ws.START_TIMEOUT_S)
        self._spawn(f"source-{self.source.kind}", self._run_source)
        measured_here = self.source.has_raw and not self.source.relayed  # not by an origin
        if measured_here:
            self._spawn("renderer", self.renderer.run, self.stopping)
        if self.stats_log is not None:
            self._spawn("stats-log", self.stats_log.run, self.stopping)
        if self.recorder.active:
            self._spawn("recorder", self.recorder.run, self.stopping)
            self._spawn("recorder-writer", self.recorder.writer.run, self.stopping)
        if measured_here:
            self._spawn("alarms", self.alarms.run, self.stopping)
        self._spawn("webhook", self.webhooks.run)
        if self.state_file is not None:
            self._spawn("state-file", self.state_file.run, self.stopping)
        self._spawn("http-server", http.serve_forever, HTTP_POLL_S)
        self.http = http
        if mqtt is not None:
            self.state.add_listener(mqtt.notify_state)
            self.alarms.add_listener(mqtt.notify_alarm)
            self._spawn("mqtt", mqtt.link.run)
            self.mqtt = mqtt
            self._spawn("mqtt-publisher", mqtt.run, self.stopping)
        log.info("serving HTTP on %s:%d and WebSocket on %s:%d (source %s)",
                 c.http_host, http.port, c.ws_host, ws.port, self.source.kind)
        for url in self.urls():
            log.info("open %s", url)

    def _raw_payload(self) -> dict[str, Any] | None:
        """/raw: the newest frame's temperatures (the HACS Thermal Vision integration polls
        it), or None (404) before the first frame or for a source without temperatures."""
        return readings.raw_payload(self.hub.raw.latest()[1])

    def _spawn(self, name: str, target: Callable[..., object], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name)
        self._threads.append(thread)
        thread.start()

    def _run_source(self) -> None:
        try:
            self.source.run(self.renderer.receive, self.stopping)
        except (SourceError, LeptonError) as exc:  # cannot run: say why, stop with exit 1
            log.error("source %s failed: %s", self.source.kind, exc)
            self.failed.set()
            self.request_stop()
        except Exception:  # a bug: the traceback helps more than a summary
            log.exception("source %s failed", self.source.kind)
            self.failed.set()
            self.request_stop()

    def _load_definitions(self) -> Definitions:
        """The regions and alarm rules: the state file's when it exists, else server.conf's.

        Raises:
            ConfigError: the state file cannot be used (exit status 2).
        """
        c = self.config
        if self.state_file is not None:
            webhooks = {rule.name: rule.webhook for rule in c.alarms if rule.webhook}
            try:
                kept = load_definitions(self.state_file.path, webhooks)
            except StateFileError as exc:
                raise ConfigError(c.config_path or "command line", MEASURE, "State_File",
                                  c.state_file, exc.reason + "; fix it, or delete it to start "
                                  "from the [ROI]/[Alarm] sections") from None
            if kept is not None:
                log.info("%d regions and %d alarms from %s (it replaces server.conf's [ROI] "
                         "and [Alarm] sections)", len(kept.rois), len(kept.alarms),
                         c.state_file)
                return kept
        return Definitions(c.rois, c.alarms)

    def _save_definitions(self) -> None:
        """Have the state file written (after a command changed regions or alarms)."""
        if self.state_file is not None:
            self.state_file.save(Definitions(self.regions.regions(), tuple(self.alarms.rules())))

    def _post_webhook(self, transition: Transition) -> None:
        """Queue the webhook POST of an alarm transition (never blocks)."""
        if transition.rule.webhook:
            self.webhooks.post(transition.rule.webhook, transition.as_json())

    def _record_alarm(self, transition: Transition) -> None:
        """An alarm is a recording event ("alarm:NAME") while it holds (Record = event)."""
        self.recorder.set_event(f"alarm:{transition.rule.name}",
                                transition.state is AlarmState.ALARM)

    def request_stop(self) -> None:
        """Ask the main thread to stop the daemon (any thread, or a signal handler)."""
        self.done.set()
        self.wake.set()

    def request_reopen(self) -> None:
        """Ask the main thread to reopen the stats log and reload the password file and the
        certificate (a signal handler)."""
        self.reopen_requested.set()
        self.wake.set()

    def _start_ffc(self) -> concurrent.futures.Future[None]:
        """Run a flat-field correction in the ``ffc_0`` thread (it blocks about a second).

        The future raises NotImplementedError when the source is not a Lepton and
        LeptonError when the camera refuses.
        """
        return self._ffc.submit(self.source.run_ffc)

    def _set_radiometry(self, params: FluxLinearParams) -> concurrent.futures.Future[None]:
        """Hand new flux linear parameters to the source in the ``ffc_0`` thread (a CCI
        command); the future raises NotImplementedError or LeptonError as the source does."""
        return self._ffc.submit(self.source.set_radiometry, params)

    def urls(self) -> list[str]:
        """The page's addresses to tell the user (after :meth:`start`)."""
        assert self.http is not None
        return self._page_urls(self.http.port)

    def _page_urls(self, http_port: int) -> list[str]:
        host = self.config.http_host
        if host in ("0.0.0.0", "::", ""):
            hosts = [socket.gethostname(), "127.0.0.1"]
        else:
            hosts = [f"[{host}]" if ":" in host else host]
        scheme = "https" if self.tls else "http"
        return [f"{scheme}://{h}:{http_port}/" for h in hosts]

    def frames_flowing(self) -> bool:
        """True if the source produced a frame recently (see :class:`Status`)."""
        return self.status is not None and self.status.frames_flowing()

    def reopen_logs(self) -> None:
        """Reopen the stats log (after logrotate moved it); never raises."""
        if self.stats_log is not None:
            self.stats_log.reopen()

    def reload_security(self) -> None:
        """Read the password file and the TLS certificate again (SIGHUP); never raises.

        Revoked users' WebSocket connections are closed (1008); their sessions ended with
        the reload. A file that cannot be used is logged and the old users and
        certificate stay.
        """
        c = self.config
        if self.auth is None and self.tls is None:
            return
        try:
            revoked = reload_security(Security(self.auth, self.tls), c.password_file,
                                      c.tls_cert, c.tls_key)
        except SecurityFileError as exc:
            log.error("SIGHUP: [Security] %s: kept the users and certificate of before", exc)
            return
        log.info("SIGHUP: reloaded %s%s", " and ".join(
            name for name, on in (("Password_File", self.auth), ("TLS_Cert/TLS_Key", self.tls))
            if on), f"; revoked: {', '.join(sorted(revoked))}" if revoked else "")
        if self.ws is not None:
            self.ws.close_users(revoked)

    def stop(self) -> None:
        """Stop every thread and close every socket. Idempotent; safe from any thread."""
        with self._stop_lock:
            self.stopping.set()
            self.hub.close()
            for companion in self.source.companions:
                companion.service.stop()
            if self.ws is not None:
                self.ws.stop()
            if self.http is not None:
                self.http.stop()
            if self.mqtt is not None:
                self.mqtt.stop()
            self.webhooks.stop()
            self._ffc.shutdown(wait=True, cancel_futures=True)
            self._ws_auth.shutdown(wait=True, cancel_futures=True)
            for thread in self._threads:
                thread.join()
            self._threads.clear()


def run(config: Config) -> int:
    """Run the daemon until SIGINT or SIGTERM.

    Returns:
        The exit status: 0 after a clean shutdown, 1 if the source failed.

    Raises:
        BindError: a port cannot be bound.
        ConfigError: the source's settings are unusable.
    """
    app = App(config)

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        app.request_stop()

    def on_hangup(_signum: int, _frame: object) -> None:
        log.info("received SIGHUP, reopening the stats log and reloading [Security]'s files")
        app.request_reopen()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    watchdog_s = systemd.watchdog_interval_s()
    wake_s = min(MAIN_WAKE_S, watchdog_s / 2) if watchdog_s else MAIN_WAKE_S
    try:
        app.start()
        systemd.notify(f"READY=1\nSTATUS=serving {' '.join(app.urls())}")
        while True:
            app.wake.wait(wake_s)
            app.wake.clear()
            if app.done.is_set():
                break
            if app.reopen_requested.is_set():
                app.reopen_requested.clear()
                app.reopen_logs()
                app.reload_security()
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
