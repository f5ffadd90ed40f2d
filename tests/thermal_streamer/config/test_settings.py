"""thermal_streamer.config.settings: defaults < server.conf < command line; clear errors naming the
key."""

from pathlib import Path

import pytest

from thermal_streamer.config.settings import DEFAULT_CONFIG_PATH, SETTINGS, ConfigError, load_config

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


def test_shipped_config_matches_defaults(tmp_path):
    """Every key in the shipped server.conf is valid and shows the built-in default, and
    the shipped file names every key there is."""
    shipped = load_config(["-c", str(DEFAULT_CONFIG_PATH)])
    defaults = load_config(["-c", write(tmp_path, "")])
    for name, value in vars(shipped).items():
        if name not in ("config_path", "image", "replay", "recordings_dir"):  # paths
            assert value == getattr(defaults, name), name
    assert shipped.http_port == 80 and shipped.send_timeout_s == 10.0
    text = DEFAULT_CONFIG_PATH.read_text()
    for setting in SETTINGS:
        assert f"\n{setting.key} =" in text, f"server.conf does not show {setting.key}"


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


def test_protocol_doc_holds_the_sections_table_the_settings_print():
    """docs/protocol.md §2 lists every section, key and option: the table config prints."""
    from thermal_streamer.config.settings import sections_table

    text = (DEFAULT_CONFIG_PATH.parent / "docs" / "protocol.md").read_text()
    assert "\n".join(sections_table()) in text


NAMED = """
[Measurement]
State_File = state.json
[ROI breaker]
Spot = 80 60 3
[roi Panel]
Box = 10 20 40 50
[Alarm panel-hot]
ROI = Panel
Above = 60
Hysteresis = 2
Hold_Seconds = 5
Webhook = http://127.0.0.1:8123/api/webhook/thermal
[alarm cold]
ROI = frame
Stat = min
Below = 5
"""


def test_named_sections_become_regions_and_alarm_rules(tmp_path):
    """[ROI NAME] and [Alarm NAME] (any case) in the file's order, with the defaults."""
    config = load_config(["-c", write(tmp_path, NAMED)])
    assert [r.as_json() for r in config.rois] == [
        {"name": "breaker", "spot": [80, 60], "size": 3},
        {"name": "Panel", "box": [10, 20, 40, 50]}]
    assert [(a.name, a.roi, a.stat, a.direction, a.threshold, a.hysteresis, a.hold_s, a.webhook)
            for a in config.alarms] == [
        ("panel-hot", "Panel", "max", "above", 60.0, 2.0, 5.0,
         "http://127.0.0.1:8123/api/webhook/thermal"),
        ("cold", "frame", "min", "below", 5.0, 1.0, 0.0, "")]
    assert config.state_file == str(tmp_path / "state.json")


@pytest.mark.parametrize("text, message", [
    ("[ROI x]\nSpot = 1\n", "[ROI x] Spot = '1': must be X Y or X Y SIZE"),
    ("[ROI x]\nSpot = 1 2\nBox = 1 2 3 4\n",
     "[ROI x] Box: needs either Spot = X Y [SIZE] or Box = X0 Y0 X1 Y1 (raw frame pixels, "
     "inclusive), not both"),
    ("[ROI x]\n", "[ROI x]: needs either Spot"),
    ("[ROI]\nSpot = 1 2\n", "[ROI]: needs a name: [ROI NAME]"),
    ("[ROI frame]\nSpot = 1 2\n", "[ROI frame]: name must be 1 to 32 letters A-Z a-z, digits, _ "
                                  ". or -, not 'frame'"),
    ("[ROI a]\nSpot = 1 2\n[ROI A]\nSpot = 3 4\n",
     "[ROI A]: a region called 'A' exists already (names ignore case)"),
    ("[ROI a]\nSpot = 1 2\nColour = red\n",
     "[ROI a] Colour = 'red': unknown key; keys in this section: Spot, Box"),
    ("[Alarm a]\nROI = nope\nAbove = 1\n",
     "[Alarm a] ROI = 'nope': must be a [ROI NAME] section's name or frame; regions: none"),
    ("[Alarm a]\nAbove = 1\n", "[Alarm a] ROI: must be set"),
    ("[Alarm a]\nROI = frame\n", "[Alarm a]: needs either Above = THRESHOLD or Below = THRESHOLD"),
    ("[Alarm a]\nROI = frame\nAbove = hot\n",
     "[Alarm a] Above = 'hot': must be a number from -1e+06 to 1e+06"),
    ("[Alarm a]\nROI = frame\nAbove = 1\nStat = median\n",
     "[Alarm a] Stat = 'median': must be one of: min, max, mean"),
    ("[Alarm a]\nROI = frame\nAbove = 1\nWebhook = ftp://x/\n",
     "[Alarm a] Webhook = 'ftp://x/': must be an http:// or https:// URL"),
])
def test_bad_named_sections_name_section_and_key(tmp_path, text, message):
    """A bad named section raises ConfigError naming the file, the section and the key."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(["-c", path])
    assert str(error.value).startswith(f"{path} {message}")


def test_configuration_doc_documents_every_key():
    """Every server.conf key has its row in docs/configuration.md's tables."""
    doc = (DEFAULT_CONFIG_PATH.parent / "docs" / "configuration.md").read_text()
    assert [s.key for s in SETTINGS if f"| `{s.key}` |" not in doc] == []
