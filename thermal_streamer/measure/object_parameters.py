"""Emissivity, reflected temperature and window: the [Lepton] settings and ``set_radiometry``.

These are not render settings: they change the measured temperatures, not the picture.
A radiometric Lepton with its CCI applies them itself (RAD flux linear parameters,
docs/cci.md §7); a source without a CCI (a recording, zmq in centikelvin) corrects its
frames in software (:func:`lepton.radiometry.correct_frame`). Each setting is described
once in :data:`FIELDS` (:class:`~thermal_streamer.control.fields.Number` fields), which
serves server.conf ([Lepton]), the ``set_radiometry`` command and the docs. The values
in force are the ``radiometry`` part of the shared state, so every viewer sees them
(docs/protocol.md).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from lepton.errors import LeptonError
from lepton.radiometry import KELVIN_AT_0_C, FluxLinearParams
from thermal_streamer.control.commands import CommandError
from thermal_streamer.control.fields import Number, SettingError
from thermal_streamer.control.state import AcquisitionState

PART = "radiometry"  # the key in the shared state
COMMAND = "set_radiometry"
MIN_TEMP_C, MAX_TEMP_C = -50.0, 350.0  # within the camera's 16-bit kelvin x 100 (655.35 K)


FIELDS: tuple[Number, ...] = (
    Number("emissivity", "Emissivity", 1.0,
           "the object's emissivity (1: a black body; skin 0.98, matt paint 0.95, "
           "oxidised steel 0.8; below about 0.5 readings get unreliable)", 0.01, 1.0),
    Number("reflected_temp_c", "Reflected_Temp_C", 22.0,
           "what the object mirrors, degrees C (usually the room; 22 is the camera's "
           "power-on value)", MIN_TEMP_C, MAX_TEMP_C),
    Number("window_transmission", "Window_Transmission", 1.0,
           "of a window in front of the lens (1: no window; germanium about 0.9)", 0.01, 1.0),
    Number("window_temp_c", "Window_Temp_C", 22.0, "the window's temperature, degrees C",
           MIN_TEMP_C, MAX_TEMP_C),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}


@dataclasses.dataclass(frozen=True)
class RadiometrySettings:
    """The radiometry settings in force (see :data:`FIELDS`); valid by construction.

    Raises:
        SettingError: a value outside its field's bounds (the message names field and bounds).
    """

    emissivity: float = FIELDS_BY_NAME["emissivity"].default
    reflected_temp_c: float = FIELDS_BY_NAME["reflected_temp_c"].default
    window_transmission: float = FIELDS_BY_NAME["window_transmission"].default
    window_temp_c: float = FIELDS_BY_NAME["window_temp_c"].default

    def __post_init__(self) -> None:
        for field in FIELDS:
            value = getattr(self, field.name)
            if not field.check(value):
                raise SettingError(field.name, value, field.allowed)

    def flux_params(self) -> FluxLinearParams:
        """The camera's flux linear parameters for these settings (docs/cci.md §7).

        Clear air (transmission 1) and no window reflection; the air and what the
        window mirrors take the reflected temperature (they do not count at these values).
        """
        reflected_k = self.reflected_temp_c + KELVIN_AT_0_C
        return FluxLinearParams(
            emissivity=self.emissivity, background_k=reflected_k,
            window_transmission=self.window_transmission,
            window_k=self.window_temp_c + KELVIN_AT_0_C, atmosphere_k=reflected_k,
            window_reflected_k=reflected_k)

    def as_dict(self) -> dict[str, float]:
        """The settings as the ``radiometry`` part of the shared state, in FIELDS order."""
        return {f.name: getattr(self, f.name) for f in FIELDS}


class RadiometryCommand:
    """The ``set_radiometry`` command (a :class:`thermal_streamer.control.commands.CommandHandler`).

    ``{"cmd": "set_radiometry", "emissivity": 0.95}``: any of :data:`FIELDS`, the others
    keep their values. The source applies the new parameters (over CCI: about a
    millisecond of I2C, so in the caller's worker thread); once it has, they become the
    ``radiometry`` part of the shared state. Thread-safe.

    Args:
        state: the shared state; its ``radiometry`` part is set at once to ``settings``.
        apply: hands the flux linear parameters to the source and returns a future that
            raises NotImplementedError (the source has no temperatures) or LeptonError
            (the camera refused or did not answer).
        settings: the settings in force at start ([Lepton]).
    """

    def __init__(self, state: AcquisitionState,
                 apply: Callable[[FluxLinearParams], concurrent.futures.Future[None]],
                 settings: RadiometrySettings):
        self._state, self._apply = state, apply
        self._lock = threading.Lock()
        self._requested = self._applied = settings
        state.set_part(PART, settings.as_dict())

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """The given fields as floats.

        Raises:
            CommandError: a field is not a number within its bounds, or none is given.
        """
        fields = {}
        for field in FIELDS:
            if field.name in data:
                try:
                    fields[field.name] = field.from_json(data[field.name])
                except SettingError as exc:
                    raise CommandError(str(exc)) from None
        if not fields:
            raise CommandError(f"{COMMAND} needs at least one of: "
                               + ", ".join(f.name for f in FIELDS))
        return fields

    def run(self, command: dict[str, Any]) -> concurrent.futures.Future[None]:
        """Have the source apply the settings; the state follows once it did.

        Returns:
            A future that is done when the source applied them; it raises
            NotImplementedError (no temperatures here) or CommandError (the camera
            refused: ``set_radiometry failed: ...``), and then nothing changed.
        """
        changes = {k: v for k, v in command.items() if k in FIELDS_BY_NAME}
        with self._lock:
            settings = self._requested = dataclasses.replace(self._requested, **changes)
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def finished(applied: concurrent.futures.Future[None]) -> None:
            error = applied.exception()
            with self._lock:
                if error is None:
                    self._applied = settings
                else:
                    self._requested = self._applied
            if error is None:
                self._state.set_part(PART, settings.as_dict())
                done.set_result(None)
            elif isinstance(error, LeptonError):
                done.set_exception(CommandError(f"{COMMAND} failed: {error}"))
            else:
                done.set_exception(error)

        self._apply(settings.flux_params()).add_done_callback(finished)
        return done
