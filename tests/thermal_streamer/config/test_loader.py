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


def test_the_signing_key_file_is_read_relative_to_the_config(tmp_path):
    """[MQTT] Signing_Key_File: its bytes, as they are (a binary key), relative to the
    file's folder; without it no key."""
    key = bytes(range(256))[:40] + b"\n"
    (tmp_path / "signing.key").write_bytes(key)
    config = load_config(["-c", write(tmp_path, "[MQTT]\nSigning_Key_File = signing.key\n")])
    assert config.mqtt_signing_key == key
    assert config.mqtt_signing_key_file == str(tmp_path / "signing.key")
    assert load_config(["-c", write(tmp_path, "[MQTT]\n")]).mqtt_signing_key == b""


def test_an_unusable_signing_key_file_is_an_error_naming_the_key(tmp_path):
    """A missing file, or one shorter than 32 bytes, is a configuration error with the fix."""
    conf = write(tmp_path, "[MQTT]\nSigning_Key_File = signing.key\n")
    path = tmp_path / "signing.key"
    with pytest.raises(ConfigError) as caught:
        load_config(["-c", conf])
    assert str(caught.value) == (f"{conf} [MQTT] Signing_Key_File = '{path}': must be a "
                                 "readable file: No such file or directory")
    path.write_bytes(b"x" * 31)
    with pytest.raises(ConfigError) as caught:
        load_config(["-c", conf])
    assert str(caught.value) == (f"{conf} [MQTT] Signing_Key_File = '{path}': must hold at "
                                 "least 32 bytes (it has 31); make one with: "
                                 "head -c 32 /dev/urandom > FILE")


def test_a_short_control_token_is_refused_with_how_to_make_one(tmp_path):
    """Control_Token under 16 characters is a ConfigError naming the key and the recipe;
    16 or more (or none) is fine."""
    path = write(tmp_path, "[Security]\nControl_Token = 1234\n")
    with pytest.raises(ConfigError) as raised:
        load_config(["-c", path])
    assert str(raised.value) == (
        f"{path} [Security] Control_Token = '1234': must be empty or at least 16 characters "
        "long (this one has 4): make one with "
        'python3 -c "import secrets; print(secrets.token_urlsafe(24))"')
    good = load_config(["-c", write(tmp_path, "[Security]\nControl_Token = 0123456789abcdef\n")])
    assert good.control_token == "0123456789abcdef"


def test_trusted_proxies_are_addresses_or_networks(tmp_path):
    """Trusted_Proxies: addresses and networks (space or comma separated); a name is an
    error naming the key; default none."""
    config = load_config(["-c", write(tmp_path, "[Security]\nTrusted_Proxies = 127.0.0.1, ::1 "
                                                "10.0.0.0/8\n")])
    assert config.trusted_proxies == ("127.0.0.1", "::1", "10.0.0.0/8")
    assert load_config([]).trusted_proxies == ()
    path = write(tmp_path, "[Security]\nTrusted_Proxies = nginx\n")
    with pytest.raises(ConfigError) as raised:
        load_config(["-c", path])
    assert str(raised.value) == (
        f"{path} [Security] Trusted_Proxies = 'nginx': 'nginx' is not an IP address or network "
        "(e.g. 127.0.0.1 or 192.168.1.0/24)")
