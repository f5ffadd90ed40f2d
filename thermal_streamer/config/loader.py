"""The daemon's configuration: built-in defaults < ``server.conf`` < command line.

:func:`load_config` reads the command line (:func:`build_argument_parser`, one option per
:class:`~thermal_streamer.config.keys.Setting` that names one) and the INI file, parses
every key of :data:`~thermal_streamer.config.keys.SETTINGS` and the named sections
(:mod:`thermal_streamer.config.sections`), applies the rules across keys (``[MQTT]``, the
render settings' ``fixed`` AGC) and returns one typed :class:`Config`. Unknown sections or
keys and bad values raise :class:`~thermal_streamer.config.errors.ConfigError`, which names
the file, section, key and the allowed values (the daemon turns it into exit status 2).
"""

from __future__ import annotations

import argparse
import configparser
import dataclasses
import os
import re
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.keys import MQTT, RENDER, SETTINGS, SOURCES
from thermal_streamer.config.sections import NAMED_SECTIONS, NamedItems, read_named_sections
from thermal_streamer.config.values import BrokerUrl
from thermal_streamer.control import render_settings
from thermal_streamer.control.fields import SettingError
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.measure import object_parameters
from thermal_streamer.measure.alarms import AlarmRule
from thermal_streamer.measure.object_parameters import RadiometrySettings
from thermal_streamer.measure.regions import Region
from thermal_streamer.protocols import signing

# -c's default: the server.conf shipped beside this module (package data). In a checkout it
# is a link to ./server.conf at the top, which users edit (docs/install.md).
DEFAULT_CONFIG_PATH = (Path(__file__).parent / "server.conf").resolve()


@dataclasses.dataclass(frozen=True)
class Config:
    """The daemon's settings: one attribute per entry of :data:`SETTINGS` outside
    ``[Render]`` and the radiometry keys of ``[Lepton]``, the render settings as one
    :class:`RenderSettings`, the radiometry ones as one :class:`RadiometrySettings`, the
    named sections (``rois``, ``alarms``), and ``config_path``, the file that was read
    (None when there was none)."""

    http_host: str
    http_port: int
    http_backlog: int
    http_receive: int
    http_max_connections: int
    ws_host: str
    ws_port: int
    image: str
    source: str
    resend_interval_s: float
    replay: str
    replay_unit: str
    replay_loop: bool
    tcp_host: str
    tcp_port: int
    max_frame_bytes: int
    producer_timeout_s: float
    max_frame_pixels: int
    zmq_address: str
    zmq_mode: str
    zmq_socket: str
    zmq_channel: str
    zmq_unit: str
    spi_device: str
    spi_speed_hz: int
    i2c_bus: int
    model: str
    telemetry: str
    flip: str
    rotate: str
    tlinear_resolution: str
    gain_mode: str
    recover_after_s: float
    power_gpio: str
    power_off_s: float
    power_cycle_min_interval_s: float
    simulated_fault: str
    simulated_fault_frame: int
    send_timeout_s: float
    keepalive_s: float
    command_rate_per_s: float
    command_burst: int
    allowed_origins: tuple[str, ...]
    allowed_hosts: tuple[str, ...]
    control_token: str
    password_file: str  # empty: no login; read by the app at start (thermal_streamer.security.auth)
    tls_cert: str  # empty: plain http and ws; read by the app (listening.tls_context)
    tls_key: str
    trusted_proxies: tuple[str, ...]  # peers whose X-Forwarded-For names the client
    frame_ancestors: tuple[str, ...]  # empty: no page may frame ours (X-Frame-Options: DENY)
    log_level: str
    stats_log: str
    stats_log_max_bytes: int
    stats_log_backups: int
    record: str
    recording_format: str
    recordings_dir: str
    segment_s: int
    max_disk_mb: int
    min_free_mb: int
    pre_s: float
    post_s: float
    motion_threshold: float
    record_queue_frames: int
    mqtt_camera: str
    mqtt_broker: BrokerUrl | None
    mqtt_username: str
    mqtt_password_file: str
    mqtt_password: str
    mqtt_ca_file: str
    mqtt_client_id: str
    mqtt_camera_id: str
    mqtt_topic_prefix: str
    mqtt_discovery_prefix: str
    mqtt_publish_frames: bool
    mqtt_jpeg_interval_s: float
    mqtt_stats_interval_s: float
    mqtt_keepalive_s: int
    mqtt_signing_key_file: str
    mqtt_commands: str  # none | control | all: what the cmd topic may run
    state_file: str
    webhook_timeout_s: float
    webhook_retries: int
    render: RenderSettings
    radiometry: RadiometrySettings
    rois: tuple[Region, ...]  # the [ROI <name>] sections, in the file's order
    alarms: tuple[AlarmRule, ...]  # the [Alarm <name>] sections, in the file's order
    config_path: Path | None
    warnings: tuple[str, ...] = ()  # for the log, once logging is set up
    mqtt_signing_key: bytes = b""  # Signing_Key_File's content; b"": nothing signed


def build_argument_parser() -> argparse.ArgumentParser:
    """The command line (docs/protocol.md §1); every option defaults to "not given"."""
    parser = argparse.ArgumentParser(
        prog=Path(sys.argv[0]).name,  # websocket_http_server.py or thermal-streamer
        description="Stream a thermal camera to browsers over WebSocket.",
    )
    parser.add_argument("-c", "--config", metavar="server.conf",
                        help=f"config file (default: {DEFAULT_CONFIG_PATH})")
    parser.add_argument("--print-config", action="store_true",
                        help="print the default config file, to start one of your own, and exit")
    metavars = {"--http-port": "N", "--ws-port": "N", "--tcp-port": "N",
                "--source": "|".join(SOURCES), "--log-level": "LEVEL", "--image": "PATH",
                "--replay": "PATH", "--mqtt-camera": "ID"}
    for setting in SETTINGS:
        if setting.cli:
            parser.add_argument(setting.cli, dest=setting.name, default=None,
                                metavar=metavars.get(setting.cli, "ADDR"),
                                help=f"overrides [{setting.section}] {setting.key} "
                                     f"(default {setting.default or 'empty'})")
    return parser


def load_config(argv: Sequence[str] | None = None) -> Config:
    """Parse the command line and the config file into a :class:`Config`.

    Args:
        argv: command-line arguments without the program name (``None``: sys.argv).

    Raises:
        ConfigError: the named config file does not exist or cannot be parsed, a
            section or key is unknown, or a value is not allowed.
        SystemExit: ``--help`` or an unknown option (argparse, exit status 2).
    """
    args = build_argument_parser().parse_args(argv)
    path: Path | None
    if args.config is not None:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(path, allowed="config file not found (named with -c)")
    else:
        path = DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None
    written, named = _read_ini(path) if path else ({}, [])

    values: dict[str, Any] = {"config_path": path}
    for setting in SETTINGS:
        given = getattr(args, setting.name, None) if setting.cli else None
        in_file = written.pop((setting.section.lower(), setting.key.lower()), None)
        if given is not None:
            source, raw, base = "command line", given, Path.cwd()
        else:
            source = str(path)
            raw = setting.default if in_file is None else in_file[2]
            base = path.parent if path else Path.cwd()
        try:
            value = setting.parse(raw)
        except ValueError as exc:
            if source == "command line":
                raise ConfigError(source, None, setting.cli, raw, str(exc)) from None
            raise ConfigError(source, setting.section, setting.key, raw, str(exc)) from None
        if setting.path_like and value:
            value = str(base / os.path.expanduser(value))
        values[setting.name] = value
    if written:
        section, key, raw = next(iter(written.values()))
        known = sorted(s.key for s in SETTINGS if s.section == section)
        allowed = ("unknown key; keys in this section: " + ", ".join(known)) if known else (
            "unknown section; sections: " + ", ".join(sorted({s.section for s in SETTINGS}))
            + ", " + ", ".join(f"{k.kind} NAME" for k in NAMED_SECTIONS))
        raise ConfigError(path or "command line", section, key, raw, allowed)
    values["rois"], values["alarms"] = read_named_sections(named, path or "command line")
    values["warnings"] = _check_mqtt(values, path or "command line")
    values["radiometry"] = RadiometrySettings(**{f.name: values.pop(f.name)
                                                 for f in object_parameters.FIELDS})
    render = {f.name: values.pop(f.name) for f in render_settings.FIELDS}
    try:
        values["render"] = RenderSettings(**render)
    except SettingError as exc:  # a rule across fields (each one alone was valid)
        field = render_settings.FIELDS_BY_NAME[exc.name]
        as_written = "" if exc.value is None else str(exc.value)
        raise ConfigError(path or "command line", RENDER, field.key, as_written,
                          f"must be {exc.allowed}") from None
    return Config(**values)


def _check_mqtt(values: dict[str, Any], path: Path | str) -> tuple[str, ...]:
    """The [MQTT] rules across keys; reads the password file. Returns warnings to log.

    Raises:
        ConfigError: the mqtt source without MQTT_Camera or Broker, a password, CA or
            signing key file that cannot be read, or a signing key shorter than 32 bytes.
    """
    if not values["mqtt_camera_id"]:
        values["mqtt_camera_id"] = default_camera_id()
    if values["source"] == "mqtt":
        if not values["mqtt_camera"]:
            raise ConfigError(path, "Source", "MQTT_Camera", "", "must be set when Source = "
                              "mqtt: the Camera_ID of the daemon whose frames this one relays")
        if values["mqtt_broker"] is None:
            raise ConfigError(path, MQTT, "Broker", "", "must be set when Source = mqtt")
    for name, key in (("mqtt_password_file", "Password_File"), ("mqtt_ca_file", "CA_File")):
        if values[name]:
            try:
                content = Path(values[name]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ConfigError(path, MQTT, key, values[name],
                                  f"must be a readable file: {reason}") from None
            if name == "mqtt_password_file":
                values["mqtt_password"] = content.strip()
    if values["mqtt_signing_key_file"]:
        key_file = values["mqtt_signing_key_file"]
        try:
            values["mqtt_signing_key"] = Path(key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(path, MQTT, "Signing_Key_File", key_file,
                              f"must be a readable file: {exc.strerror}") from None
        try:
            signing.check_key(values["mqtt_signing_key"])
        except ValueError as exc:
            raise ConfigError(path, MQTT, "Signing_Key_File", key_file, str(exc)) from None
    if values["mqtt_password"] and not values["mqtt_password_file"]:
        return ("[MQTT] Password is written in the config file: anyone who can read it has "
                "the broker password; put it in a file of its own named by Password_File",)
    return ()


def default_camera_id(hostname: str | None = None) -> str:
    """[MQTT] Camera_ID's default: the host name, lower-case, reduced to a-z, 0-9, _ and -."""
    name = re.sub(r"[^a-z0-9_-]+", "-", (hostname or socket.gethostname()).lower()).strip("-")
    return name or "camera"


def _read_ini(path: Path) -> tuple[dict[tuple[str, str], tuple[str, str, str]], list[NamedItems]]:
    """Read an INI file into {(section, key) lower-cased: (section, key, value) as written}
    for the fixed sections, and the named sections in the file's order.

    Raises:
        ConfigError: not a readable INI file, or a named section without a name.
    """
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep keys' spelling
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(path, allowed=f"not a valid INI file: {exc}") from None
    except OSError as exc:
        raise ConfigError(path, allowed=f"cannot be read: {exc.strerror}") from None
    sections = {s.section.lower(): s.section for s in SETTINGS}
    kinds = {k.kind.lower(): k for k in NAMED_SECTIONS}
    values = {}
    named: list[NamedItems] = []
    for section in parser.sections():
        kind, _, name = section.partition(" ")
        if section.lower() not in sections and kind.lower() in kinds:
            if not name.strip():
                raise ConfigError(path, section, allowed=f"needs a name: [{kind} NAME]")
            named.append((kinds[kind.lower()], name.strip(), section, parser.items(section)))
            continue
        name = sections.get(section.lower(), section)
        for key, value in parser.items(section):
            values[(name.lower(), key.lower())] = (name, key, value)
    return values, named
