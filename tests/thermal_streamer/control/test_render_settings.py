"""thermal_streamer.control.render_settings: one schema for server.conf, the set command,
/config.json, docs."""

from pathlib import Path

import pytest

from thermal_streamer.control import render_settings
from thermal_streamer.control.fields import SettingError
from thermal_streamer.control.render_settings import FIELDS, RenderSettings

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_are_valid_and_listed_in_field_order():
    """The built-in settings are valid; as_dict gives JSON values in FIELDS order."""
    assert list(RenderSettings().as_dict()) == [f.name for f in FIELDS]
    assert RenderSettings(agc="fixed", range=(20, 30)).as_dict()["range"] == [20, 30]


@pytest.mark.parametrize("changes, error", [
    ({"agc": "fixed"}, "range must be set when agc is fixed"),
    ({"scale": 0}, "scale must be an integer from 1 to 8"),
    ({"scale": True}, "scale must be an integer from 1 to 8"),
    ({"clip_percent": 50.0}, "clip_percent must be a number from 0 to 49.99"),
    ({"range": (30.0, 20.0)}, "range must be [low, high] with low < high"),
    ({"range": (20.0, float("inf"))}, "range must be [low, high] with low < high"),
    ({"interpolation": "lanczos"}, "interpolation must be one of: nearest, bilinear, bicubic"),
])
def test_invalid_settings_cannot_be_made(changes, error):
    """RenderSettings checks every field and the fixed-AGC rule when it is made."""
    with pytest.raises(SettingError) as raised:
        RenderSettings(**changes)
    assert str(raised.value) == error
    assert raised.value.name == error.split()[0]


@pytest.mark.parametrize("name, text, value", [
    ("agc", " Percentile ", "percentile"),
    ("range", "20, 40", (20.0, 40.0)),
    ("range", "", None),
    ("clip_percent", "49.99", 49.99),
    ("scale", "4", 4),
    ("isotherm", "60 200", (60.0, 200.0)),
    ("isotherm", "", None),
    ("isotherm_color", " FF8800 ", "#ff8800"),
])
def test_server_conf_text(name, text, value):
    """server.conf values: case-insensitive words, 'LOW HIGH' ranges, empty for none."""
    assert render_settings.FIELDS_BY_NAME[name].from_text(text) == value


@pytest.mark.parametrize("name, text, allowed", [
    ("scale", "2.0", "an integer from 1 to 8"),
    ("range", "20", "empty or two numbers LOW HIGH with LOW < HIGH, e.g. 20 40"),
    ("range", "nan 40", "empty or two numbers LOW HIGH with LOW < HIGH, e.g. 20 40"),
    ("clip_percent", "nan", "a number from 0 to 49.99"),
    ("isotherm_color", "#00ff00", "a colour RRGGBB in hex, e.g. 00ff00 (no #: server.conf "
                                  "reads # as a comment)"),
    ("isotherm_color", "0f0", "a colour RRGGBB in hex, e.g. 00ff00 (no #: server.conf "
                              "reads # as a comment)"),
])
def test_bad_server_conf_text_says_what_is_allowed(name, text, allowed):
    """A bad server.conf value raises SettingError carrying the text form of what is allowed."""
    with pytest.raises(SettingError) as raised:
        render_settings.FIELDS_BY_NAME[name].from_text(text)
    assert raised.value.allowed == allowed and raised.value.value == text


def test_json_values_are_strict():
    """From JSON, booleans are not numbers, floats are not integers, a range is a 2-list."""
    scale, range_ = render_settings.SCALE, render_settings.RANGE
    for bad in (True, 2.0, "2"):
        with pytest.raises(SettingError):
            scale.from_json(bad)
    assert range_.from_json([20, 30.5]) == (20.0, 30.5)
    for bad in (None, [20], [20, "30"], [False, 30]):
        with pytest.raises(SettingError):
            range_.from_json(bad)


def test_isotherm_clears_with_null_and_takes_hex_colours():
    """isotherm takes null (none) from JSON, unlike range; isotherm_color is #rrggbb, stored
    lower-case; both describe themselves for /config.json."""
    isotherm, color = render_settings.ISOTHERM, render_settings.ISOTHERM_COLOR
    assert isotherm.from_json(None) is None and isotherm.from_json([60, 200]) == (60.0, 200.0)
    assert color.from_json("#FF8800") == "#ff8800"
    for bad in ("ff8800", "#ff88", "#gg0000", 16711680):
        with pytest.raises(SettingError) as raised:
            color.from_json(bad)
        assert str(raised.value) == "isotherm_color must be a colour #RRGGBB, e.g. #00ff00"
    assert isotherm.describe()["nullable"] and not render_settings.RANGE.describe()["nullable"]
    assert color.describe() == {"name": "isotherm_color", "kind": "color", "default": "#00ff00",
                                "allowed": "a colour #RRGGBB, e.g. #00ff00"}
    assert RenderSettings(isotherm=(60.0, 200.0)).as_dict()["isotherm"] == [60.0, 200.0]


def test_the_docs_hold_the_tables_the_schema_prints():
    """docs/configuration.md's [Render] table and protocol.md's set table: the schema's output."""
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    protocol = (ROOT / "docs" / "protocol.md").read_text()
    assert "\n".join(render_settings.config_table()) in configuration
    assert "\n".join(render_settings.set_command_table()) in protocol
