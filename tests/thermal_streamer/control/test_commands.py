"""thermal_streamer.control.commands: validation of client commands and the shared state."""

import pytest

from thermal_streamer.control.commands import CommandError, apply_command, parse_command
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState


@pytest.mark.parametrize("message, error", [
    ("{not json", "malformed command: not valid JSON"),
    (b"\xff\xfe", "malformed command: not valid JSON"),
    ("[1, 2]", "malformed command: expected a JSON object"),
    ('{"cmd": "reboot"}', "unknown command 'reboot'; commands: start, stop, set, ffc"),
    ('{"cmd": "set"}', "set needs at least one of: colormap, agc, range, clip_percent, scale, "
                       "interpolation, jpeg_quality, isotherm, isotherm_color"),
    ('{"cmd": "set", "isotherm": [40, 30]}',
     "isotherm must be [low, high] with low < high, or null for none"),
    ('{"cmd": "set", "isotherm_color": "green"}',
     "isotherm_color must be a colour #RRGGBB, e.g. #00ff00"),
    ('{"cmd": "set", "colormap": "nope"}', "colormap must be a thermal palette (ironbow, rainbow, "
                                           "white-hot, black-hot) or a matplotlib colormap name, "
                                           "e.g. inferno, magma, viridis, gray"),
    ('{"cmd": "set", "agc": "magic"}', "agc must be one of: linear, percentile, histogram, fixed"),
    ('{"cmd": "set", "scale": 9}', "scale must be an integer from 1 to 8"),
    ('{"cmd": "set", "scale": 2.0}', "scale must be an integer from 1 to 8"),
    ('{"cmd": "set", "interpolation": "lanczos"}',
     "interpolation must be one of: nearest, bilinear, bicubic"),
    ('{"cmd": "set", "jpeg_quality": 100}', "jpeg_quality must be an integer from 1 to 95"),
    ('{"cmd": "set", "clip_percent": 50}', "clip_percent must be a number from 0 to 49.99"),
    ('{"cmd": "set", "range": [30, 20]}', "range must be [low, high] with low < high"),
    ('{"cmd": "set", "range": [true, 20]}', "range must be [low, high] with low < high"),
    ('{"cmd": "set", "range": null}', "range must be [low, high] with low < high"),
    ("[" * 2000 + "]" * 2000, "malformed command: nested too deeply"),
])
def test_bad_commands(message, error):
    """Each bad command raises CommandError with a message for the client."""
    with pytest.raises(CommandError) as raised:
        parse_command(message)
    assert str(raised.value) == error


def test_good_commands():
    """Valid commands come back normalised with only the known fields."""
    assert parse_command('{"cmd": "stop", "extra": 1}') == {"cmd": "stop"}
    assert parse_command('{"cmd": "set", "colormap": "ironbow", "range": [20, 30]}') == {
        "cmd": "set", "colormap": "ironbow", "range": (20.0, 30.0)}
    assert parse_command('{"cmd": "ffc", "token": "s3cret"}') == {"cmd": "ffc", "token": "s3cret"}


def test_fixed_agc_needs_a_range():
    """Switching to fixed AGC without any range is refused and changes nothing."""
    state = AcquisitionState(RenderSettings())
    with pytest.raises(CommandError) as raised:
        apply_command({"cmd": "set", "agc": "fixed"}, state)
    assert str(raised.value) == "range must be set when agc is fixed"
    assert state.snapshot()["agc"] == "linear"
    apply_command({"cmd": "set", "agc": "fixed", "range": (20.0, 30.0)}, state)
    assert state.render_settings().range == (20.0, 30.0)


def test_state_notifies_only_on_change():
    """Listeners get the new state after a change and nothing when nothing changed."""
    state = AcquisitionState(RenderSettings())
    seen = []
    state.add_listener(seen.append)
    apply_command({"cmd": "stop"}, state)
    apply_command({"cmd": "stop"}, state)
    apply_command({"cmd": "set", "colormap": "gray"}, state)
    assert [(s["running"], s["colormap"]) for s in seen] == [(False, "inferno"), (False, "gray")]


def test_command_runner_applies_authorises_and_runs_ffc():
    """One runner for every channel: set applies at once, the token guards, ffc is a future."""
    import concurrent.futures

    from thermal_streamer.control.commands import CommandRunner, TokenError

    state = AcquisitionState(RenderSettings())
    ffc_runs = []

    def run_ffc() -> concurrent.futures.Future[None]:
        ffc_runs.append(1)
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_exception(NotImplementedError("no shutter"))
        return future

    runner = CommandRunner(state, run_ffc, control_token="s3cret")
    with pytest.raises(TokenError):
        runner.execute('{"cmd": "set", "scale": 2}')
    assert state.render_settings().scale == 1
    assert runner.execute('{"cmd": "set", "scale": 2, "token": "s3cret"}').done()
    assert runner.execute('{"cmd": "stop"}', connection_token="s3cret").result() is None
    assert state.render_settings().scale == 2 and not state.running
    with pytest.raises(CommandError, match="scale must be"):  # validated before the token
        runner.execute('{"cmd": "set", "scale": 0}')
    with pytest.raises(NotImplementedError):
        runner.execute('{"cmd": "ffc", "token": "s3cret"}').result()
    assert ffc_runs == [1]


def test_handlers_plug_in_commands_with_their_own_validation():
    """A CommandHandler's command is validated by it, guarded by the token and run."""
    import concurrent.futures

    from thermal_streamer.control.commands import CommandRunner

    class Mark:
        def __init__(self) -> None:
            self.runs: list[dict] = []

        def validate(self, data: dict) -> dict:
            if not isinstance(data.get("label"), str):
                raise CommandError("mark needs a label")
            return {"label": data["label"]}

        def run(self, command: dict) -> concurrent.futures.Future[None] | None:
            self.runs.append(command)
            return None

    mark = Mark()
    runner = CommandRunner(AcquisitionState(RenderSettings()), concurrent.futures.Future,
                           handlers={"mark": mark})
    with pytest.raises(CommandError, match="^mark needs a label$"):
        runner.execute('{"cmd": "mark"}')
    assert runner.execute('{"cmd": "mark", "label": "door"}').done()
    assert runner.execute('{"cmd": "mark", "label": "gate"}', sender="192.0.2.7").done()
    assert mark.runs == [{"cmd": "mark", "label": "door", "sender": "unknown"},
                         {"cmd": "mark", "label": "gate", "sender": "192.0.2.7"}]
    with pytest.raises(CommandError, match="commands: start, stop, set, ffc, mark$"):
        runner.execute('{"cmd": "nope"}')


class StepClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_ffc_at_most_once_every_10_s_the_others_refused_and_counted(caplog):
    """One ffc passes; the next within 10 s is refused with when it ran and when the next
    may (nothing run), counted and logged once per run of refusals; after 10 s one passes."""
    import concurrent.futures

    from thermal_streamer.control.commands import FFC_MIN_INTERVAL_S, CommandRunner

    clock, runs = StepClock(), []

    def run_ffc() -> concurrent.futures.Future[None]:
        runs.append(clock.now)
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_result(None)
        return future

    runner = CommandRunner(AcquisitionState(RenderSettings()), run_ffc, clock=clock)
    caplog.set_level("INFO", "thermal_streamer.control.commands")
    assert FFC_MIN_INTERVAL_S == 10.0
    runner.execute('{"cmd": "ffc"}', sender="192.0.2.7").result()
    errors = []
    for step in (0.0, 3.5, 6.25):
        clock.now += step
        with pytest.raises(CommandError) as error:
            runner.execute('{"cmd": "ffc"}', sender="192.0.2.7")
        errors.append(str(error.value))
    assert errors == ["ffc ran 0 s ago; next in 10 s", "ffc ran 3 s ago; next in 7 s",
                      "ffc ran 9 s ago; next in 1 s"]
    clock.now += 0.25
    runner.execute('{"cmd": "ffc"}').result()
    assert runs == [500.0, 510.0] and runner.ffc_refused == 3
    assert [r.getMessage() for r in caplog.records] == [
        "ffc from 192.0.2.7 refused: at most one every 10 s (refused so far: 1)",
        "ffc accepted again (refused so far: 3)"]


def test_an_ffc_that_did_not_start_does_not_hold_back_the_next():
    """run_ffc raising at once (nothing started): the next ffc is not refused."""
    import concurrent.futures

    from thermal_streamer.control.commands import CommandRunner

    calls = []

    def run_ffc() -> concurrent.futures.Future[None]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("executor shut down")
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_result(None)
        return future

    runner = CommandRunner(AcquisitionState(RenderSettings()), run_ffc, clock=StepClock())
    with pytest.raises(RuntimeError):
        runner.execute('{"cmd": "ffc"}')
    runner.execute('{"cmd": "ffc"}').result()
    assert calls == [1, 1] and runner.ffc_refused == 0
