"""server.commands: validation of client commands and the shared state."""

import pytest

from server.commands import AcquisitionState, CommandError, parse_command


@pytest.mark.parametrize("message, error", [
    ("{not json", "malformed command: not valid JSON"),
    (b"\xff\xfe", "malformed command: not valid JSON"),
    ("[1, 2]", "malformed command: expected a JSON object"),
    ('{"cmd": "reboot"}', "unknown command 'reboot'; commands: start, stop, set, ffc"),
    ('{"cmd": "set"}', "set needs at least one of: colormap, agc, range"),
    ('{"cmd": "set", "colormap": "nope"}', "unknown colormap 'nope'"),
    ('{"cmd": "set", "agc": "magic"}', "agc must be one of: linear"),
    ('{"cmd": "set", "range": [30, 20]}', "range must be [low, high] with low < high"),
    ('{"cmd": "set", "range": [true, 20]}', "range must be [low, high] with low < high"),
])
def test_bad_commands(message, error):
    """Each bad command raises CommandError with a message for the client."""
    with pytest.raises(CommandError) as raised:
        parse_command(message)
    assert str(raised.value) == error


def test_good_commands():
    """Valid commands come back normalised with only the known fields."""
    assert parse_command('{"cmd": "stop", "extra": 1}') == {"cmd": "stop"}
    assert parse_command('{"cmd": "set", "colormap": "viridis", "range": [20, 30]}') == {
        "cmd": "set", "colormap": "viridis", "range": [20.0, 30.0]}


def test_state_notifies_only_on_change():
    """Listeners get the new state after a change and nothing when nothing changed."""
    state = AcquisitionState("inferno", "linear")
    seen = []
    state.add_listener(seen.append)
    state.apply({"cmd": "stop"})
    state.apply({"cmd": "stop"})
    state.apply({"cmd": "set", "colormap": "gray"})
    assert [(s["running"], s["colormap"]) for s in seen] == [(False, "inferno"), (False, "gray")]
