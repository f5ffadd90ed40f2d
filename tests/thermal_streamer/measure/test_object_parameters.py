"""thermal_streamer.measure.object_parameters: the [Lepton] emissivity settings and the
set_radiometry command."""

import concurrent.futures

import pytest

from lepton.cci_protocol import CciCommandError
from lepton.radiometry import FluxLinearParams
from thermal_streamer.control.commands import CommandError, CommandRunner
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.measure.object_parameters import (
    COMMAND,
    FIELDS,
    RadiometryCommand,
    RadiometrySettings,
)


class Source:
    """Records what it was asked to apply; fails with ``error`` when one is set."""

    def __init__(self):
        self.applied: list[FluxLinearParams] = []
        self.error: Exception | None = None

    def apply(self, params: FluxLinearParams) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        if self.error is not None:
            future.set_exception(self.error)
        else:
            self.applied.append(params)
            future.set_result(None)
        return future


def make(settings: RadiometrySettings | None = None):
    settings = settings or RadiometrySettings()
    state, source = AcquisitionState(RenderSettings()), Source()
    handler = RadiometryCommand(state, source.apply, settings)
    runner = CommandRunner(state, lambda: concurrent.futures.Future(), handlers={COMMAND: handler})
    return state, source, runner


def test_settings_become_flux_params_for_the_camera():
    """Emissivity and window go as they are; temperatures to kelvin; clear air, no reflection."""
    params = RadiometrySettings(emissivity=0.95, reflected_temp_c=30.0, window_transmission=0.9,
                                window_temp_c=40.0).flux_params()
    assert params == FluxLinearParams(emissivity=0.95, background_k=303.15,
                                      window_transmission=0.9, window_k=313.15,
                                      atmosphere_transmission=1.0, atmosphere_k=303.15,
                                      window_reflection=0.0, window_reflected_k=303.15)
    assert RadiometrySettings().flux_params() == FluxLinearParams()  # the camera's power-on


def test_settings_out_of_bounds_say_which_and_what():
    """A value outside its field's bounds names the field and the bounds."""
    with pytest.raises(ValueError) as info:
        RadiometrySettings(window_temp_c=400.0)
    assert str(info.value) == "window_temp_c must be a number from -50 to 350"


def test_state_starts_with_the_config_values_and_follows_a_command():
    """The radiometry part is the [Lepton] values at once; a partial set_radiometry keeps the
    other fields and reaches the source as flux parameters."""
    state, source, runner = make(RadiometrySettings(reflected_temp_c=25.0))
    assert state.snapshot()["radiometry"] == {"emissivity": 1.0, "reflected_temp_c": 25.0,
                                              "window_transmission": 1.0, "window_temp_c": 22.0}
    runner.execute('{"cmd": "set_radiometry", "emissivity": 0.9}').result(timeout=1)
    assert state.snapshot()["radiometry"]["emissivity"] == 0.9
    assert state.snapshot()["radiometry"]["reflected_temp_c"] == 25.0
    assert source.applied == [RadiometrySettings(emissivity=0.9, reflected_temp_c=25.0)
                              .flux_params()]


@pytest.mark.parametrize("message, error", [
    ('{"cmd": "set_radiometry"}', "set_radiometry needs at least one of: emissivity, "
                                  "reflected_temp_c, window_transmission, window_temp_c"),
    ('{"cmd": "set_radiometry", "emissivity": 0}', "emissivity must be a number from 0.01 to 1"),
    ('{"cmd": "set_radiometry", "emissivity": true}',
     "emissivity must be a number from 0.01 to 1"),
    ('{"cmd": "set_radiometry", "reflected_temp_c": "22"}',
     "reflected_temp_c must be a number from -50 to 350"),
])
def test_bad_values_change_nothing(message, error):
    """A bad set_radiometry is refused before the source hears of it."""
    state, source, runner = make()
    before = state.snapshot()
    with pytest.raises(CommandError) as info:
        runner.execute(message)
    assert str(info.value) == error
    assert state.snapshot() == before and source.applied == []


def test_a_camera_that_refuses_changes_nothing_and_says_so():
    """A CCI error becomes "set_radiometry failed: ..."; the state and the next partial
    command start again from what the camera last took."""
    state, source, runner = make()
    source.error = CciCommandError(0x4EBD, -7, "undefined function")
    with pytest.raises(CommandError) as info:
        runner.execute('{"cmd": "set_radiometry", "emissivity": 0.5}').result(timeout=1)
    assert str(info.value) == ("set_radiometry failed: CCI command 0x4EBD (RAD flux linear "
                               "params SET) failed: response code -7 (undefined function)")
    assert state.snapshot()["radiometry"]["emissivity"] == 1.0
    source.error = None
    runner.execute('{"cmd": "set_radiometry", "window_temp_c": 30}').result(timeout=1)
    assert source.applied[-1].emissivity == 1.0 and source.applied[-1].window_k == 303.15


def test_a_source_without_temperatures_answers_not_implemented():
    """NotImplementedError passes through (the channel sends its text to the client)."""
    state, source, runner = make()
    source.error = NotImplementedError("emissivity needs temperatures")
    with pytest.raises(NotImplementedError):
        runner.execute('{"cmd": "set_radiometry", "emissivity": 0.5}').result(timeout=1)
    assert state.snapshot()["radiometry"]["emissivity"] == 1.0


def test_fields_have_lepton_keys():
    """Every field is a [Lepton] key with a default inside its own bounds."""
    assert [f.key for f in FIELDS] == ["Emissivity", "Reflected_Temp_C", "Window_Transmission",
                                       "Window_Temp_C"]
    assert all(f.low <= f.default <= f.high for f in FIELDS)
