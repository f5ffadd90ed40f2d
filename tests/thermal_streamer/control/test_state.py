"""thermal_streamer.control.state: the shared acquisition state and its change listeners."""

import pytest

from thermal_streamer.control.fields import SettingError
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState


def test_listeners_hear_each_change_once_and_no_change_never():
    """A listener gets the new snapshot after a change; setting the same value calls nobody."""
    state = AcquisitionState(RenderSettings())
    heard = []
    state.add_listener(heard.append)
    state.set_clients(3)
    state.set_clients(3)
    state.set_running(True)
    state.change_settings(colormap="ironbow")
    assert [(h["clients"], h["colormap"]) for h in heard] == [(3, "inferno"), (3, "ironbow")]
    assert heard[-1] == state.snapshot()


def test_an_invalid_combination_changes_nothing():
    """fixed AGC without a range raises SettingError and leaves the state as it was."""
    state = AcquisitionState(RenderSettings())
    heard = []
    state.add_listener(heard.append)
    before = state.snapshot()
    with pytest.raises(SettingError, match="range must be set when agc is fixed"):
        state.change_settings(agc="fixed")
    assert state.snapshot() == before and heard == []


def test_parts_join_the_snapshot_and_notify_on_change():
    """A component's part appears in the snapshot; listeners hear only real changes; core
    keys cannot be taken."""
    state = AcquisitionState(RenderSettings())
    seen = []
    state.add_listener(seen.append)
    state.set_part("recording", {"active": False})
    state.set_part("recording", {"active": False})
    state.set_part("recording", {"active": True})
    assert [s["recording"] for s in seen] == [{"active": False}, {"active": True}]
    assert state.snapshot()["recording"] == {"active": True}
    assert state.part("recording") == {"active": True} and state.part("alarms") is None
    with pytest.raises(ValueError, match="'scale' is a core state key"):
        state.set_part("scale", 2)
