"""The daemon's configuration: built-in defaults < ``server.conf`` < command line.

Every setting is declared once in :data:`SETTINGS` with its section, key, default,
parser and a description of the allowed values; the shipped ``server.conf``
documents the same keys. The ``[Render]`` keys come from the one render-settings
schema (:data:`thermal_streamer.control.render_settings.FIELDS`). Unknown sections or keys and bad
values raise :class:`ConfigError`, which names the file, section, key and the allowed values
(the daemon turns it into exit status 2).

Besides the fixed sections, *named sections* appear once per name: ``[ROI <name>]``
(a measurement region) and ``[Alarm <name>]`` (an alarm rule); :data:`NAMED_SECTIONS`
declares their keys the same way, and :class:`Config` holds them as ``rois`` and
``alarms``.

Error tree::

    ConfigError
"""

from __future__ import annotations

import argparse
import configparser
import dataclasses
import logging
import math
import os
import re
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from lepton import DEFAULT_SPI_SPEED_HZ, LeptonError, parse_gpio_line
from thermal_streamer.control import render_settings
from thermal_streamer.control.render_settings import RenderSettings, SettingError
from thermal_streamer.measure import object_parameters
from thermal_streamer.measure.alarms import ALARM_NAME_RULE, MAX_ALARMS, AlarmRule
from thermal_streamer.measure.object_parameters import RadiometrySettings
from thermal_streamer.measure.regions import (
    FRAME,
    NAME_PATTERN,
    STATS,
    Region,
    RegionError,
    check_name,
    checked,
    parse_box,
    parse_spot,
)
from thermal_streamer.outputs.webhook import check_url

# -c's default: the server.conf shipped beside this module (package data). In a checkout it
# is a link to ./server.conf at the top, which users edit (docs/install.md).
DEFAULT_CONFIG_PATH = (Path(__file__).parent / "server.conf").resolve()

SOURCES = ("auto", "lepton", "simulated", "replay", "file", "tcp", "zmq", "mqtt")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A configuration value is missing, unknown or out of range.

    Attributes:
        path: the config file, or ``"command line"``.
        section: the INI section (``None`` for a file-level problem).
        key: the key (``None`` for a section- or file-level problem).
        value: the offending value as written, if any.
        allowed: what would have been accepted.
    """

    def __init__(self, path, section=None, key=None, value=None, allowed=""):
        self.path, self.section, self.key = str(path), section, key
        self.value, self.allowed = value, allowed
        where = self.path
        if section is not None:
            where += f" [{section}]"
        if key is not None:
            where += f" {key}"
        what = f" = {value!r}" if value is not None else ""
        super().__init__(f"{where}{what}: {allowed}")


# -- value parsers: each takes the text and returns a value or raises ValueError
#    whose message says what is allowed.


def integer(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return parse


def number(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise ValueError(f"must be a number from {low:g} to {high:g}")
        return value

    return parse


def choice(*allowed: str) -> Callable[[str], str]:
    lowered = {a.lower(): a for a in allowed}

    def parse(text: str) -> str:
        try:
            return lowered[text.strip().lower()]
        except KeyError:
            raise ValueError("must be one of: " + ", ".join(allowed)) from None

    return parse


def text(value: str) -> str:
    return value.strip()


def nonempty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def host(value: str) -> str:
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be an IP address or host name, e.g. 0.0.0.0 or 127.0.0.1")
    return value


def zmq_address(value: str) -> str:
    value = value.strip()
    transport, sep, endpoint = value.partition("://")
    if not sep or transport not in ("tcp", "ipc", "inproc") or not endpoint:
        raise ValueError("must be a ZeroMQ endpoint transport://address, e.g. "
                         "tcp://127.0.0.1:9999 or ipc:///tmp/camera")
    return value


class BrokerUrl(NamedTuple):
    """Where the MQTT broker is: ``mqtt://host:port`` (plain) or ``mqtts://host:port`` (TLS)."""

    host: str
    port: int
    tls: bool


def broker_url(value: str) -> BrokerUrl | None:
    value = value.strip()
    if not value:
        return None
    url = urlsplit(value)
    try:
        port = url.port
    except ValueError:
        port = -1
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname or port == -1 or (
            url.path not in ("", "/")):
        raise ValueError("must be empty (MQTT off) or mqtt://HOST[:PORT] or mqtts://HOST[:PORT] "
                         "(TLS), e.g. mqtt://127.0.0.1:1883")
    tls = url.scheme == "mqtts"
    return BrokerUrl(url.hostname, port or (8883 if tls else 1883), tls)


def identifier(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"[a-z0-9_-]+", value):
        raise ValueError("must be lower-case letters a-z, digits, _ and - only")
    return value


def topic_level(value: str) -> str:
    value = value.strip()
    if any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
        raise ValueError("must be an MQTT topic without wildcards (+, #) or a leading or "
                         "trailing /, e.g. thermal")
    return value


def boolean(value: str) -> bool:
    words = {"yes": True, "true": True, "on": True, "1": True,
             "no": False, "false": False, "off": False, "0": False}
    try:
        return words[value.strip().lower()]
    except KeyError:
        raise ValueError("must be yes or no") from None


def gpio_line(value: str) -> str:
    """Empty (no power line) or ``gpiochipN:OFFSET``."""
    value = value.strip()
    if value:
        try:
            parse_gpio_line(value)
        except LeptonError:
            raise ValueError("must be empty or gpiochipN:OFFSET, e.g. gpiochip0:17") from None
    return value


def word_list(value: str) -> tuple[str, ...]:
    return tuple(w for w in value.replace(",", " ").split() if w)


def render_field(field: render_settings.Field) -> Callable[[str], Any]:
    """The server.conf parser of one render setting (its ValueError says what is allowed)."""

    def parse(text: str) -> Any:
        try:
            return field.from_text(text)
        except SettingError as exc:
            raise ValueError(f"must be {exc.allowed}") from None

    return parse


@dataclasses.dataclass(frozen=True)
class Setting:
    """One configurable value: where it lives, its default and how it is parsed."""

    name: str  # attribute on Config
    section: str
    key: str
    default: str
    parse: Callable[[str], Any]
    cli: str | None = None  # command-line option that overrides it
    path_like: bool = False  # resolved against the config file's folder


SERVER = "Server-Configurations"
RENDER = "Render"
RECORDING = "Recording"
RECORD_MODES = ("off", "always", "manual", "event")
RECORDING_FORMATS = ("cptv", "hdf5")
MQTT = "MQTT"
MEASURE = "Measurement"
SETTINGS: tuple[Setting, ...] = (
    Setting("http_host", SERVER, "HTTP_Interface", "0.0.0.0", host, "--http-host"),
    Setting("http_port", SERVER, "HTTP_Port", "80", integer(0, 65535), "--http-port"),
    Setting("http_backlog", SERVER, "HTTP_Listen", "64", integer(1, 4096)),
    Setting("http_receive", SERVER, "HTTP_Recieve", "4096", integer(1, 1 << 30)),
    Setting("http_max_connections", SERVER, "HTTP_Max_Connections", "512",
            integer(16, 65536)),
    Setting("ws_host", SERVER, "Websocket_Interface", "0.0.0.0", host, "--ws-host"),
    Setting("ws_port", SERVER, "Websocket_Port", "9876", integer(0, 65535), "--ws-port"),
    Setting("image", SERVER, "Image", "thermal.jpg", text, "--image", path_like=True),
    Setting("source", "Source", "Source", "auto", choice(*SOURCES), "--source"),
    Setting("resend_interval_s", "Source", "Resend_Interval", "1", number(0.05, 3600)),
    Setting("replay", "Source", "Replay", "", text, "--replay", path_like=True),
    Setting("replay_unit", "Source", "Replay_Unit", "auto",
            choice("auto", "centikelvin", "counts")),
    Setting("replay_loop", "Source", "Replay_Loop", "yes", boolean),
    Setting("tcp_host", "Source", "TCP_Interface", "127.0.0.1", host),
    Setting("tcp_port", "Source", "TCP_Port", "5000", integer(0, 65535), "--tcp-port"),
    Setting("max_frame_bytes", "Source", "Max_Frame_Bytes", "16777216",
            integer(1, 1 << 30)),
    Setting("producer_timeout_s", "Source", "Producer_Timeout", "10", number(0.5, 3600)),
    Setting("max_frame_pixels", "Source", "Max_Frame_Pixels", "16777216",
            integer(1, 89478485)),  # Pillow's own limit: 89478485 pixels
    Setting("zmq_address", "Source", "ZMQ_Address", "tcp://127.0.0.1:9999", zmq_address),
    Setting("zmq_mode", "Source", "ZMQ_Mode", "connect", choice("connect", "bind")),
    Setting("zmq_socket", "Source", "ZMQ_Socket", "pull", choice("pull", "sub")),
    Setting("zmq_channel", "Source", "ZMQ_Channel", "", text),
    Setting("zmq_unit", "Source", "ZMQ_Unit", "counts", choice("counts", "centikelvin")),
    Setting("spi_device", "Lepton", "SPI_Device", "/dev/spidev0.0", text),
    Setting("spi_speed_hz", "Lepton", "SPI_Speed_Hz", str(DEFAULT_SPI_SPEED_HZ),
            integer(1_000_000, 20_000_000)),
    Setting("i2c_bus", "Lepton", "I2C_Bus", "1", integer(0, 255)),
    Setting("model", "Lepton", "Model", "auto", choice("auto", "2", "3")),
    Setting("telemetry", "Lepton", "Telemetry", "footer", choice("off", "header", "footer")),
    Setting("flip", "Lepton", "Flip", "none",
            choice("none", "horizontal", "vertical", "both")),
    Setting("rotate", "Lepton", "Rotate", "0", choice("0", "90", "180", "270")),
    Setting("tlinear_resolution", "Lepton", "TLinear_Resolution", "0.01", choice("0.01", "0.1")),
    Setting("gain_mode", "Lepton", "Gain_Mode", "high", choice("high", "low", "auto")),
    Setting("recover_after_s", "Lepton", "Recover_After_Seconds", "5", number(0.5, 3600)),
    Setting("power_gpio", "Lepton", "Power_GPIO", "", gpio_line),
    Setting("power_off_s", "Lepton", "Power_Off_Seconds", "2", number(0.1, 60)),
    Setting("power_cycle_min_interval_s", "Lepton", "Power_Cycle_Min_Interval", "300",
            number(0, 86400)),
    Setting("simulated_fault", "Lepton", "Simulated_Fault", "none",
            choice("none", "needs_reboot", "needs_power_cycle")),
    Setting("simulated_fault_frame", "Lepton", "Simulated_Fault_Frame", "50",
            integer(0, 1_000_000_000)),
    *(Setting(f.name, "Lepton", f.key, f"{f.default:g}", number(f.low, f.high))
      for f in object_parameters.FIELDS),
    *(Setting(f.name, RENDER, f.key, f.default_text, render_field(f))
      for f in render_settings.FIELDS),
    Setting("send_timeout_s", "Stream", "Send_Timeout", "10", number(0.1, 600)),
    Setting("keepalive_s", "Stream", "Keepalive_Interval", "20", number(1, 600)),
    Setting("command_rate_per_s", "Stream", "Command_Rate", "10", number(0.1, 1000)),
    Setting("command_burst", "Stream", "Command_Burst", "20", integer(1, 1000)),
    Setting("allowed_origins", "Security", "Allowed_Origins", "", word_list),
    Setting("allowed_hosts", "Security", "Allowed_Hosts", "", word_list),
    Setting("control_token", "Security", "Control_Token", "", text),
    Setting("password_file", "Security", "Password_File", "", text, path_like=True),
    Setting("tls_cert", "Security", "TLS_Cert", "", text, path_like=True),
    Setting("tls_key", "Security", "TLS_Key", "", text, path_like=True),
    Setting("log_level", "Logging", "Log_Level", "INFO", choice(*LOG_LEVELS), "--log-level"),
    Setting("stats_log", "Logging", "Stats_Log", "", text, path_like=True),
    Setting("stats_log_max_bytes", "Logging", "Stats_Log_Max_Bytes", "10485760",
            integer(4096, 1 << 40)),
    Setting("stats_log_backups", "Logging", "Stats_Log_Backups", "3", integer(0, 100)),
    Setting("record", RECORDING, "Record", "off", choice(*RECORD_MODES)),
    Setting("recording_format", RECORDING, "Format", "cptv", choice(*RECORDING_FORMATS)),
    Setting("recordings_dir", RECORDING, "Recordings_Dir", "recordings", nonempty,
            path_like=True),
    Setting("segment_s", RECORDING, "Segment_Seconds", "300", integer(10, 3600)),
    Setting("max_disk_mb", RECORDING, "Max_Disk_MB", "1024", integer(0, 1 << 30)),
    Setting("min_free_mb", RECORDING, "Min_Free_MB", "100", integer(0, 1 << 30)),
    Setting("pre_s", RECORDING, "Pre_Seconds", "5", number(0, 60)),
    Setting("post_s", RECORDING, "Post_Seconds", "10", number(0, 3600)),
    Setting("motion_threshold", RECORDING, "Motion_Threshold", "0.2", number(0.001, 10000)),
    Setting("record_queue_frames", RECORDING, "Queue_Frames", "64", integer(2, 10000)),
    Setting("state_file", MEASURE, "State_File", "", text, path_like=True),
    Setting("webhook_timeout_s", MEASURE, "Webhook_Timeout", "5", number(0.1, 60)),
    Setting("webhook_retries", MEASURE, "Webhook_Retries", "3", integer(0, 10)),
    Setting("mqtt_camera", "Source", "MQTT_Camera", "", identifier, "--mqtt-camera"),
    Setting("mqtt_broker", MQTT, "Broker", "", broker_url),
    Setting("mqtt_username", MQTT, "Username", "", text),
    Setting("mqtt_password_file", MQTT, "Password_File", "", text, path_like=True),
    Setting("mqtt_password", MQTT, "Password", "", text),
    Setting("mqtt_ca_file", MQTT, "CA_File", "", text, path_like=True),
    Setting("mqtt_client_id", MQTT, "Client_ID", "", text),
    Setting("mqtt_camera_id", MQTT, "Camera_ID", "", identifier),
    Setting("mqtt_topic_prefix", MQTT, "Topic_Prefix", "thermal", topic_level),
    Setting("mqtt_discovery_prefix", MQTT, "Discovery_Prefix", "homeassistant", topic_level),
    Setting("mqtt_publish_frames", MQTT, "Publish_Frames", "yes", boolean),
    Setting("mqtt_jpeg_interval_s", MQTT, "JPEG_Interval", "1", number(0.05, 86400)),
    Setting("mqtt_stats_interval_s", MQTT, "Stats_Interval", "1", number(0.05, 86400)),
    Setting("mqtt_keepalive_s", MQTT, "Keepalive", "30", integer(5, 65535)),
)


class SectionRuleError(ValueError):
    """A named section breaks a rule across its keys.

    Attributes:
        key: the key to fix (None: the section as a whole).
        value: the value as written (None when the key is missing).
        allowed: what would be accepted.
    """

    def __init__(self, key: str | None, value: str | None, allowed: str):
        super().__init__(allowed)
        self.key, self.value, self.allowed = key, value, allowed


@dataclasses.dataclass(frozen=True)
class NamedKey:
    """One key of a named section: its parser gets the section's name and the text."""

    key: str
    parse: Callable[[str, str], Any]  # (name, text) -> value; ValueError says what is allowed
    default: str | None = None  # None: absent unless written


@dataclasses.dataclass(frozen=True)
class NamedSection:
    """A kind of section that appears once per name, ``[<kind> <name>]`` (``[ROI panel]``).

    ``build(name, {key: parsed value})`` makes the section's object from the keys that
    were written or have a default, and raises SectionRuleError for a rule across keys.
    """

    kind: str
    name_rule: Callable[[str], object]  # raises ValueError (what is allowed) for a bad name
    keys: tuple[NamedKey, ...]
    build: Callable[[str, dict[str, Any]], Any]


def _one_of(values: dict[str, Any], keys: tuple[str, ...], allowed: str) -> str:
    """The one key of ``keys`` that was written. Raises SectionRuleError: none or several."""
    given = [k for k in keys if k in values]
    if len(given) != 1:
        raise SectionRuleError(given[1] if given else None, None, allowed)
    return given[0]


def _build_roi(name: str, values: dict[str, Any]) -> Region:
    return values[_one_of(values, ("Spot", "Box"), "needs either Spot = X Y [SIZE] or "
                          "Box = X0 Y0 X1 Y1 (raw frame pixels, inclusive), not both")]


def _build_alarm(name: str, values: dict[str, Any]) -> AlarmRule:
    if "ROI" not in values:
        raise SectionRuleError("ROI", None, f"must be set: a [ROI NAME] section's name or {FRAME}")
    direction = _one_of(values, ("Above", "Below"), "needs either Above = THRESHOLD or "
                        "Below = THRESHOLD (degrees C for radiometric sources), not both")
    return AlarmRule(name, values["ROI"], values["Stat"], direction.lower(), values[direction],
                     values["Hysteresis"], values["Hold_Seconds"], values.get("Webhook", ""))


def _named(parse: Callable[[str], Any]) -> Callable[[str, str], Any]:
    """A parser that does not need the section's name."""
    return lambda _name, value: parse(value)


def _region_text(parse: Callable[[str, str], Region]) -> Callable[[str, str], Region]:
    def parse_text(name: str, value: str) -> Region:
        try:
            return parse(name, value)
        except RegionError as exc:
            raise ValueError(str(exc)) from None
    return parse_text


def _region_name(name: str) -> str:
    try:
        return check_name(name)
    except RegionError as exc:
        raise ValueError(str(exc).partition(": got")[0]) from None


def _alarm_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"name must be {ALARM_NAME_RULE}")
    return name


def _roi_name(value: str) -> str:
    value = value.strip()
    if value.lower() == FRAME:
        return FRAME
    try:
        return check_name(value)
    except RegionError:
        raise ValueError(f"must be a [ROI NAME] section's name or {FRAME}") from None


THRESHOLD = number(-1e6, 1e6)
NAMED_SECTIONS: tuple[NamedSection, ...] = (
    NamedSection("ROI", _region_name, (NamedKey("Spot", _region_text(parse_spot)),
                         NamedKey("Box", _region_text(parse_box))), _build_roi),
    NamedSection("Alarm", _alarm_name, (
        NamedKey("ROI", _named(_roi_name)),
        NamedKey("Stat", _named(choice(*STATS)), "max"),
        NamedKey("Above", _named(THRESHOLD)),
        NamedKey("Below", _named(THRESHOLD)),
        NamedKey("Hysteresis", _named(number(0, 1e6)), "1"),
        NamedKey("Hold_Seconds", _named(number(0, 86400)), "0"),
        NamedKey("Webhook", _named(check_url)),
    ), _build_alarm),
)


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
    state_file: str
    webhook_timeout_s: float
    webhook_retries: int
    render: RenderSettings
    radiometry: RadiometrySettings
    rois: tuple[Region, ...]  # the [ROI <name>] sections, in the file's order
    alarms: tuple[AlarmRule, ...]  # the [Alarm <name>] sections, in the file's order
    config_path: Path | None
    warnings: tuple[str, ...] = ()  # for the log, once logging is set up


def build_argument_parser() -> argparse.ArgumentParser:
    """The command line (docs/protocol.md §1); every option defaults to "not given"."""
    parser = argparse.ArgumentParser(
        prog="websocket_http_server.py",
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
        raise ConfigError(path, section, key, raw, allowed)
    values["rois"], values["alarms"] = _named_sections(named, path or "command line")
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
        ConfigError: the mqtt source without MQTT_Camera or Broker, or a password or CA
            file that cannot be read.
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
    if values["mqtt_password"] and not values["mqtt_password_file"]:
        return ("[MQTT] Password is written in the config file: anyone who can read it has "
                "the broker password; put it in a file of its own named by Password_File",)
    return ()


def default_camera_id(hostname: str | None = None) -> str:
    """[MQTT] Camera_ID's default: the host name, lower-case, reduced to a-z, 0-9, _ and -."""
    name = re.sub(r"[^a-z0-9_-]+", "-", (hostname or socket.gethostname()).lower()).strip("-")
    return name or "camera"


# a named section as read: its kind, its name, the section as written, its (key, value)s
NamedItems = tuple[NamedSection, str, str, list[tuple[str, str]]]


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


def _named_sections(named: list[NamedItems], path: Path | str
                    ) -> tuple[tuple[Region, ...], tuple[AlarmRule, ...]]:
    """The [ROI NAME] and [Alarm NAME] sections as regions and alarm rules.

    Raises:
        ConfigError: naming the section and key: a bad name or value, an unknown or
            missing key, a name twice, an alarm on a region that is not defined, or
            too many of either.
    """
    built: dict[str, list[tuple[str, Any]]] = {k.kind: [] for k in NAMED_SECTIONS}
    for kind, name, section, items in named:
        try:
            kind.name_rule(name)
        except ValueError as exc:
            raise ConfigError(path, section, allowed=str(exc)) from None
        specs = {k.key.lower(): k for k in kind.keys}
        values: dict[str, Any] = {}
        for key, raw in items:
            spec = specs.get(key.lower())
            if spec is None:
                raise ConfigError(path, section, key, raw, "unknown key; keys in this section: "
                                  + ", ".join(k.key for k in kind.keys))
            try:
                values[spec.key] = spec.parse(name, raw)
            except ValueError as exc:
                raise ConfigError(path, section, key, raw, str(exc)) from None
        for spec in kind.keys:
            if spec.key not in values and spec.default is not None:
                values[spec.key] = spec.parse(name, spec.default)
        try:
            built[kind.kind].append((section, kind.build(name, values)))
        except SectionRuleError as exc:
            raise ConfigError(path, section, exc.key, exc.value, exc.allowed) from None
    rois: tuple[Region, ...] = ()
    for section, region in built["ROI"]:
        try:
            rois = checked((*rois, region))
        except RegionError as exc:
            raise ConfigError(path, section, allowed=str(exc)) from None
    names = [r.name for r in rois]
    alarms: list[AlarmRule] = []
    for section, rule in built["Alarm"]:
        if rule.roi != FRAME and rule.roi not in names:
            raise ConfigError(path, section, "ROI", rule.roi, f"must be a [ROI NAME] section's "
                              f"name or {FRAME}; regions: {', '.join(names) or 'none'}")
        if any(a.name.lower() == rule.name.lower() for a in alarms):
            raise ConfigError(path, section, allowed=f"an alarm called {rule.name!r} exists "
                              "already (names ignore case)")
        if len(alarms) >= MAX_ALARMS:
            raise ConfigError(path, section, allowed=f"at most {MAX_ALARMS} alarms")
        alarms.append(rule)
    return rois, tuple(alarms)


def configure_logging(level: str) -> None:
    """Log to stderr with timestamps, thread names and levels."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s",
    )
    # our own lines say who connected and how many clients there are
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.getLevelName(level)))


def sections_table() -> list[str]:
    """docs/protocol.md §2's table (Markdown lines): each section, its keys and options,
    in SETTINGS order, then the named sections; ``python -m thermal_streamer.config.settings``
    prints it and a test keeps them equal."""
    sections: dict[str, tuple[list[str], list[str]]] = {}
    for setting in SETTINGS:
        keys, options = sections.setdefault(setting.section, ([], []))
        keys.append(f"`{setting.key}`")
        if setting.cli:
            options.append(f"`{setting.cli}`")
    return ["| section | keys | command-line options |", "|---|---|---|",
            *(f"| `[{section}]` | {', '.join(keys)} | {', '.join(options)} |"
              for section, (keys, options) in sections.items()),
            *(f"| `[{kind.kind} NAME]`, one per name | "
              f"{', '.join(f'`{k.key}`' for k in kind.keys)} | |" for kind in NAMED_SECTIONS)]


# python -m thermal_streamer.config.settings: the sections table docs/protocol.md holds
if __name__ == "__main__":
    print("\n".join(sections_table()))
