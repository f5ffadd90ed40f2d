"""thermal_streamer.config.sections: [ROI NAME] and [Alarm NAME] sections, their keys from the
regions' and alarm rules' own descriptions."""

from pathlib import Path

import pytest

from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.loader import load_config


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "server.conf"
    path.write_text(text)
    return str(path)


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


def test_alarm_section_keys_are_the_alarm_rules_fields():
    """[Alarm NAME]'s keys are the alarm rule's fields (those the command reads) plus Webhook."""
    from thermal_streamer.config.sections import NAMED_SECTIONS
    from thermal_streamer.measure import alarms

    section = next(kind for kind in NAMED_SECTIONS if kind.kind == "Alarm")
    assert [k.key for k in section.keys] == [f.key for f in alarms.FIELDS] + ["Webhook"]


def test_a_rule_in_server_conf_equals_the_same_rule_by_command(tmp_path):
    """Every field of a rule reads the same from a server.conf key and a command field."""
    from thermal_streamer.measure.alarms import AlarmRule

    path = write(tmp_path, "[ROI Panel]\nBox = 1 2 3 4\n[Alarm hot]\nROI = Panel\nStat = mean\n"
                           "Below = -4.5\nHysteresis = 0.5\nHold_Seconds = 3\n")
    command = {"name": "hot", "roi": "Panel", "stat": "mean", "below": -4.5, "hysteresis": 0.5,
               "hold_s": 3}
    assert load_config(["-c", path]).alarms == (AlarmRule.from_json(command),)


ALARM_FIELD_ERRORS = [  # field, bad server.conf text, bad command value, what is allowed
    ("roi", "no such!", "", None),
    ("stat", "median", "median", "one of: min, max, mean"),
    ("above", "hot", "hot", "a number from -1e+06 to 1e+06"),
    ("below", "1e7", 1e7, "a number from -1e+06 to 1e+06"),
    ("hysteresis", "-1", -1, "a number from 0 to 1e+06"),
    ("hold_s", "86401", 86401, "a number from 0 to 86400"),
]


@pytest.mark.parametrize("name, text, value, allowed", ALARM_FIELD_ERRORS)
def test_alarm_fields_say_what_is_allowed_in_the_same_words_both_ways(
        tmp_path, name, text, value, allowed):
    """A bad alarm field: server.conf says 'must be ALLOWED', the command 'FIELD must be
    ALLOWED: got VALUE', from the one field (only roi words it for each side)."""
    from thermal_streamer.measure import alarms
    from thermal_streamer.measure.alarms import AlarmError, AlarmRule

    assert [f.name for f in alarms.FIELDS] == [row[0] for row in ALARM_FIELD_ERRORS]
    field = next(f for f in alarms.FIELDS if f.name == name)
    assert field.allowed_text == (allowed or "a [ROI NAME] section's name or frame")
    assert field.allowed == (allowed or "a region's name or 'frame'")
    rule = {"ROI": "frame", "Above": "1", field.key: text}
    if field.key == "Below":
        del rule["Above"]
    path = write(tmp_path, "[Alarm a]\n" + "".join(f"{k} = {v}\n" for k, v in rule.items()))
    with pytest.raises(ConfigError) as in_file:
        load_config(["-c", path])
    assert str(in_file.value) == f"{path} [Alarm a] {field.key} = {text!r}: must be " \
                                 f"{field.allowed_text}"
    command = {"name": "a", "roi": "frame", "stat": "max", "above": 1, name: value}
    if name == "below":
        del command["above"]
    with pytest.raises(AlarmError) as by_command:
        AlarmRule.from_json(command)
    assert str(by_command.value) == f"{name} must be {field.allowed}: got {value!r}"


def test_alarm_names_follow_one_rule_in_both(tmp_path):
    """The section's name and the command's name field are checked by the one NAME field."""
    from thermal_streamer.measure.alarms import ALARM_NAME_RULE, AlarmError, AlarmRule

    with pytest.raises(AlarmError, match=r"^name must be 1 to 32 letters .*: got 'a b'$"):
        AlarmRule.from_json({"name": "a b", "roi": "frame", "stat": "max", "above": 1})
    with pytest.raises(ConfigError) as raised:
        load_config(["-c", write(tmp_path, "[Alarm a/b]\nROI = frame\nAbove = 1\n")])
    assert str(raised.value).endswith(f"[Alarm a/b]: name must be {ALARM_NAME_RULE}")
