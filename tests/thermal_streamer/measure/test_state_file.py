"""thermal_streamer.measure.state_file: regions and alarms kept across a restart, written
atomically."""

import json
import os
import threading

import pytest

from tests.conftest import wait_until
from thermal_streamer.measure.alarms import AlarmRule
from thermal_streamer.measure.regions import Region
from thermal_streamer.measure.state_file import (
    Definitions,
    StateFile,
    StateFileError,
    load_definitions,
)

RULE = AlarmRule.from_json({"name": "hot", "roi": "panel", "stat": "max", "above": 60,
                            "hold_s": 5})
DEFINITIONS = Definitions((Region.make_spot("breaker", 80, 60, 3),
                           Region.make_box("panel", 10, 20, 40, 50)), (RULE,))


def test_written_atomically_and_read_back_with_webhooks_from_the_config(tmp_path):
    """The writer thread replaces the file (no temporary left, no webhook URL inside);
    reading it back gives the same regions and rules, webhooks from the given mapping."""
    path = tmp_path / "state.json"
    state_file = StateFile(str(path))
    stop = threading.Event()
    thread = threading.Thread(target=state_file.run, args=(stop,), name="state-file")
    thread.start()
    try:
        state_file.save(DEFINITIONS)
        assert wait_until(lambda: state_file.writes == 1, 5)
    finally:
        stop.set()
        thread.join(5)
    assert os.listdir(tmp_path) == ["state.json"]
    data = json.loads(path.read_text())
    assert data["version"] == 1 and "webhook" not in data["alarms"][0]
    loaded = load_definitions(str(path), {"hot": "http://127.0.0.1:1/h"})
    assert loaded.rois == DEFINITIONS.rois
    assert loaded.alarms == (AlarmRule("hot", "panel", "max", "above", 60.0, 1.0, 5.0,
                                       "http://127.0.0.1:1/h"),)
    assert load_definitions(str(tmp_path / "missing.json"), {}) is None
    assert state_file.health().ok


def test_the_last_content_is_written_at_stop(tmp_path):
    """Content saved just before stop is still written (the thread's last act)."""
    path = tmp_path / "state.json"
    state_file = StateFile(str(path))
    stop = threading.Event()
    stop.set()
    state_file.save(DEFINITIONS)
    state_file.run(stop)
    assert load_definitions(str(path), {}).rois == DEFINITIONS.rois


def test_a_folder_that_cannot_be_written_fails_and_is_retried(tmp_path):
    """A missing folder: failing health with the error; the content stays pending."""
    state_file = StateFile(str(tmp_path / "gone" / "state.json"))
    stop = threading.Event()
    thread = threading.Thread(target=state_file.run, args=(stop,), name="state-file")
    thread.start()
    try:
        state_file.save(DEFINITIONS)
        assert wait_until(lambda: state_file.errors >= 1, 5)
        health = state_file.health()
        assert (health.state, health.ok, health.last_error) == (
            "failing", False, "No such file or directory")
        (tmp_path / "gone").mkdir()
        assert wait_until(lambda: state_file.writes == 1, 5)
        assert state_file.health().ok
    finally:
        stop.set()
        thread.join(5)


@pytest.mark.parametrize("text, reason", [
    ("{", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ('{"version": 2}', "not a state file of version 1"),
    ('{"version": 1, "rois": {}}', "rois and alarms must be lists"),
    ('{"version": 1, "rois": [{"name": "a", "spot": [1]}]}',
     "rois: spot must be 2 integers from 0 to 4095: got [1]"),
    ('{"version": 1, "rois": [1]}', "rois: every entry of rois must be a JSON object"),
    ('{"version": 1, "alarms": [{"name": "a", "roi": "frame", "stat": "max"}]}',
     "alarms: an alarm needs exactly one of above or below (the threshold)"),
])
def test_a_bad_file_says_what_is_wrong(tmp_path, text, reason):
    """StateFileError names the file and the problem, and how to get past it."""
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(StateFileError) as error:
        load_definitions(str(path), {})
    assert error.value.reason == reason
    assert str(error.value) == (f"{path}: {reason} (fix it, or delete it to start from "
                                "server.conf)")
