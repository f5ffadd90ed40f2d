"""thermal_streamer.config.loader: defaults < server.conf < command line; clear errors naming
the key."""

from pathlib import Path

import pytest

from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.loader import load_config

SEED_CONF = """[Server-Configurations]
HTTP_Interface = 0.0.0.0
HTTP_Port = 80
HTTP_Listen = 5
HTTP_Recieve = 4096
Websocket_Interface = 0.0.0.0
Websocket_Port = 9876
Image = thermal.jpg
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "server.conf"
    path.write_text(text)
    return str(path)


def test_seed_config_loads_unchanged(tmp_path):
    """The original project's server.conf keeps working, Image relative to its folder."""
    config = load_config(["-c", write(tmp_path, SEED_CONF)])
    assert (config.http_host, config.http_port, config.ws_port) == ("0.0.0.0", 80, 9876)
    assert config.image == str(tmp_path / "thermal.jpg")
    assert config.source == "auto"
    assert config.render.colormap == "inferno" and config.render.scale == 1


def test_command_line_overrides_file(tmp_path):
    """Command-line values win over server.conf."""
    config = load_config(["-c", write(tmp_path, SEED_CONF), "--http-port", "8080",
                          "--source", "file", "--log-level", "debug"])
    assert (config.http_port, config.source, config.log_level) == (8080, "file", "DEBUG")


def test_inline_comments_and_case(tmp_path):
    """Inline ; comments are stripped; section and key names are case-insensitive."""
    config = load_config(["-c", write(tmp_path, "[render]\nscale = 4   ; bigger\n")])
    assert config.render.scale == 4


@pytest.mark.parametrize("text, message", [
    ("[Server-Configurations]\nHTTP_Port = eighty\n",
     "[Server-Configurations] HTTP_Port = 'eighty': must be an integer from 0 to 65535"),
    ("[Render]\nColormap = rainbowz\n",
     "[Render] Colormap = 'rainbowz': must be a thermal palette (ironbow, rainbow, white-hot, "
     "black-hot) or a matplotlib colormap name, e.g. inferno, magma, viridis, gray"),
    ("[Render]\nRange = 30 20\n",
     "[Render] Range = '30 20': must be empty or two numbers LOW HIGH with LOW < HIGH, e.g. 20 40"),
    ("[Render]\nAGC = fixed\n", "[Render] Range = '': must be set when agc is fixed"),
    ("[Source]\nSource = camera\n",
     "[Source] Source = 'camera': must be one of: auto, lepton, simulated, replay, file, tcp, zmq"),
    ("[Render]\nSharpness = 3\n",
     "[Render] Sharpness = '3': unknown key; keys in this section: AGC, Clip_Percent, Colormap, "
     "Interpolation, Isotherm, Isotherm_Color, JPEG_Quality, Range, Scale"),
    ("[Render]\nIsotherm_Color = #00ff00\n",
     "[Render] Isotherm_Color = '': must be a colour RRGGBB in hex, e.g. 00ff00 (no #: "
     "server.conf reads # as a comment)"),
    ("[Lepton]\nEmissivity = 0\n",
     "[Lepton] Emissivity = '0': must be a number from 0.01 to 1"),
    ("[Lepton]\nReflected_Temp_C = 400\n",
     "[Lepton] Reflected_Temp_C = '400': must be a number from -50 to 350"),
    ("[Source]\nZMQ_Unit = kelvin\n",
     "[Source] ZMQ_Unit = 'kelvin': must be one of: counts, centikelvin"),
    ("[Camera]\nSpeed = 3\n",
     "[Camera] Speed = '3': unknown section; sections: Lepton, Logging, MQTT, Measurement, "
     "Recording, Render, Security, Server-Configurations, Source, Stream, ROI NAME, Alarm NAME"),
    ("no section header\n", "not a valid INI file"),
    ("[Security]\nFrame_Ancestors = https://ha.local:8123/lovelace\n",
     "[Security] Frame_Ancestors = 'https://ha.local:8123/lovelace': must be origins such as "
     "https://homeassistant.local:8123 (scheme, host and port, no path), space separated, "
     "or 'self'; 'https://ha.local:8123/lovelace' is not one"),
])
def test_bad_values_name_file_section_key_and_allowed(tmp_path, text, message):
    """A bad value or unknown key raises ConfigError naming file, section, key, allowed values."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(["-c", path])
    assert str(error.value).startswith(path)
    assert message in str(error.value)


def test_bad_command_line_value():
    """A bad command-line value names the option."""
    with pytest.raises(ConfigError) as raised:
        load_config(["--http-port", "-1"])
    assert str(raised.value) == (
        "command line --http-port = '-1': must be an integer from 0 to 65535")


def test_missing_named_config_file(tmp_path):
    """An explicitly named config file that does not exist is an error."""
    missing = tmp_path / "nope.conf"
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(["-c", str(missing)])


def test_source_limits_default_to_the_sources_own_defaults():
    """Producer_Timeout and Max_Frame_Pixels default to what TcpSource and decode_image use."""
    from thermal_streamer.protocols.images import MAX_FRAME_PIXELS
    from thermal_streamer.sources.tcp import PRODUCER_TIMEOUT_S

    config = load_config([])
    assert config.producer_timeout_s == PRODUCER_TIMEOUT_S
    assert config.max_frame_pixels == MAX_FRAME_PIXELS
