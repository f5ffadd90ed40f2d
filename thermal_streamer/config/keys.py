"""server.conf's fixed sections: every key, declared once in :data:`SETTINGS`.

Each :class:`Setting` row names a key's section, its default as written, its parser
(:mod:`thermal_streamer.config.values`; its error says what is allowed) and, for some, the
command-line option that overrides it. The ``[Render]`` keys and the object parameters of
``[Lepton]`` are rows made from their fields (:meth:`Setting.of_field`:
:data:`thermal_streamer.control.render_settings.FIELDS`,
:data:`thermal_streamer.measure.object_parameters.FIELDS`), so server.conf, the commands and
the docs describe them once. The shipped ``server.conf`` shows every key with its default
(a test keeps them equal). ``python -m thermal_streamer.config.keys`` prints docs/protocol.md
§2's table of sections, keys and options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lepton import DEFAULT_SPI_SPEED_HZ
from thermal_streamer.config.sections import NAMED_SECTIONS
from thermal_streamer.config.values import (
    boolean,
    broker_url,
    choice,
    control_token,
    from_field,
    gpio_line,
    host,
    identifier,
    integer,
    network_list,
    nonempty,
    number,
    origin_list,
    text,
    topic_level,
    word_list,
    zmq_address,
)
from thermal_streamer.control import render_settings
from thermal_streamer.control.fields import Field
from thermal_streamer.measure import object_parameters

SOURCES = ("auto", "lepton", "simulated", "replay", "file", "tcp", "zmq", "mqtt")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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

    @classmethod
    def of_field(cls, section: str, field: Field) -> Setting:
        """The row of a field (a render setting, an object parameter): its name, key,
        default and the field's own text parser."""
        return cls(field.name, section, field.key, field.default_text, from_field(field))


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
    *(Setting.of_field("Lepton", f) for f in object_parameters.FIELDS),
    *(Setting.of_field(RENDER, f) for f in render_settings.FIELDS),
    Setting("send_timeout_s", "Stream", "Send_Timeout", "10", number(0.1, 600)),
    Setting("keepalive_s", "Stream", "Keepalive_Interval", "20", number(1, 600)),
    Setting("command_rate_per_s", "Stream", "Command_Rate", "10", number(0.1, 1000)),
    Setting("command_burst", "Stream", "Command_Burst", "20", integer(1, 1000)),
    Setting("allowed_origins", "Security", "Allowed_Origins", "", word_list),
    Setting("allowed_hosts", "Security", "Allowed_Hosts", "", word_list),
    Setting("control_token", "Security", "Control_Token", "", control_token),
    Setting("password_file", "Security", "Password_File", "", text, path_like=True),
    Setting("tls_cert", "Security", "TLS_Cert", "", text, path_like=True),
    Setting("tls_key", "Security", "TLS_Key", "", text, path_like=True),
    Setting("trusted_proxies", "Security", "Trusted_Proxies", "", network_list),
    Setting("frame_ancestors", "Security", "Frame_Ancestors", "", origin_list),
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
    Setting("mqtt_signing_key_file", MQTT, "Signing_Key_File", "", text, path_like=True),
    Setting("mqtt_commands", MQTT, "Commands", "control", choice("none", "control", "all")),
)


def sections_table() -> list[str]:
    """docs/protocol.md §2's table (Markdown lines): each section, its keys and options,
    in SETTINGS order, then the named sections; ``python -m thermal_streamer.config.keys``
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


# python -m thermal_streamer.config.keys: the sections table docs/protocol.md holds
if __name__ == "__main__":
    print("\n".join(sections_table()))
