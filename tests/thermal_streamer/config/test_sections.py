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
