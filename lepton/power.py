"""The camera's power line: the :class:`PowerSwitch` protocol and a GPIO one through libgpiod.

A Lepton that hangs so badly that even the CCI stops answering comes back only
when its supply is switched off and on (docs/cci.md §6). On a Raspberry Pi that
supply can be switched by a GPIO line driving a load switch or MOSFET.
:class:`GpiodPowerSwitch` drives such a line with the libgpiod v2 Python
bindings (PyPI ``gpiod``, imported only when a line is used); it is the only
module that opens ``/dev/gpiochip*``. The line is driven high ("active") for
power on and low for off. :class:`lepton.simulated_board.SimulatedBoard` is the
simulated camera's switch.

Errors (all subclasses of :class:`lepton.errors.LeptonError`)::

    LeptonError
     ├── RangeError (errors.py)   a line spec that is not ``gpiochipN:OFFSET``
     └── DeviceError (errors.py, an OSError)
          └── PowerSwitchError    device, reason, fix, os_errno   no chip, no permission,
                                                                  no gpiod package, a bad line

Sources: libgpiod v2 Python bindings (``gpiod.request_lines``,
``gpiod.LineSettings``, ``gpiod.line.Direction``/``Value``); Linux GPIO
character devices ``/dev/gpiochipN``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .devnode import DeviceKind, device_error_from_oserror
from .errors import DeviceError, RangeError

__all__ = ["GpioLine", "GpiodPowerSwitch", "PowerSwitch", "PowerSwitchError", "parse_gpio_line"]

CONSUMER = "thermal-camera-lepton-power"  # shown by `gpioinfo` for the requested line
_LINE_SPEC = re.compile(r"(gpiochip\d+):(\d+)")


@runtime_checkable
class PowerSwitch(Protocol):
    """Switches the camera's supply on and off. Not thread-safe: one owner."""

    def set_power(self, on: bool) -> None:
        """Switch the supply on (True) or off (False); returns at once.

        Raises:
            PowerSwitchError: the line could not be set.
        """
        ...

    def close(self) -> None:
        """Release the line, leaving the supply as it is. Idempotent."""
        ...


class PowerSwitchError(DeviceError):
    """The power line cannot be opened or set (fields: see :class:`~lepton.errors.DeviceError`)."""


GPIOCHIP = DeviceKind(
    node="GPIO chip",
    what="a GPIO chip",
    missing="no such GPIO chip",
    enable_fix="Check the name with `ls /dev/gpiochip*` (or `gpiodetect`)",
    group="gpio",
    wrong_node_fix="Give a GPIO character device such as gpiochip0",
    error=PowerSwitchError,
    not_found_error=PowerSwitchError,
    permission_error=PowerSwitchError,
    wrong_node_error=PowerSwitchError,
)


@dataclass(frozen=True)
class GpioLine:
    """One GPIO line: ``chip`` (``/dev/gpiochip0``) and ``offset`` (0-based line number)."""

    chip: str
    offset: int

    def __str__(self) -> str:
        return f"{self.chip.removeprefix('/dev/')}:{self.offset}"


def parse_gpio_line(spec: str) -> GpioLine:
    """Parse ``"gpiochip0:17"`` (chip name, colon, line offset) into a :class:`GpioLine`.

    Raises:
        RangeError: ``spec`` is not ``gpiochipN:OFFSET`` (a ValueError).
    """
    match = _LINE_SPEC.fullmatch(spec.strip())
    if match is None:
        raise RangeError("GPIO line", spec, "gpiochipN:OFFSET, e.g. gpiochip0:17")
    return GpioLine(f"/dev/{match[1]}", int(match[2]))


class GpiodPowerSwitch:
    """A GPIO line, requested as an output with libgpiod v2, that powers the camera.

    Requesting the line drives it active (power on), so a camera left off by a
    crash comes back. Each :meth:`set_power` is one ``LineRequest.set_value``.

    Args:
        line: the line, or its spec (``"gpiochip0:17"``, :func:`parse_gpio_line`).

    Attributes:
        line: the :class:`GpioLine`.

    Raises:
        RangeError: a spec that does not parse.
        PowerSwitchError: the ``gpiod`` package is missing, the chip does not
            exist, the user may not open it (not in group ``gpio``), or the
            line cannot be requested (busy, offset out of range).
    """

    def __init__(self, line: GpioLine | str):
        self.line = parse_gpio_line(line) if isinstance(line, str) else line
        try:
            import gpiod
            from gpiod.line import Direction, Value
        except ImportError as exc:
            raise PowerSwitchError(
                str(self.line), f"the gpiod package is not installed ({exc})",
                "Install it with `pip install gpiod` (libgpiod v2 bindings)") from exc
        self._value = Value
        settings = gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.ACTIVE)
        try:
            self._request: Any = gpiod.request_lines(
                self.line.chip, consumer=CONSUMER, config={self.line.offset: settings})
        except OSError as exc:
            raise device_error_from_oserror(
                GPIOCHIP, self.line.chip, exc, f"request of line {self.line.offset}") from exc
        except ValueError as exc:  # gpiod: an offset the chip does not have
            raise PowerSwitchError(
                self.line.chip, f"cannot request line {self.line.offset}: {exc}",
                "Check the offset with `gpioinfo`") from exc

    def set_power(self, on: bool) -> None:
        """Drive the line active (on) or inactive (off).

        Raises:
            PowerSwitchError: the line was released or the kernel refused the value.
        """
        if self._request is None:
            raise PowerSwitchError(str(self.line), "the line is released")
        try:
            self._request.set_value(self.line.offset,
                                    self._value.ACTIVE if on else self._value.INACTIVE)
        except OSError as exc:
            raise device_error_from_oserror(GPIOCHIP, self.line.chip, exc, "set_value") from exc

    def close(self) -> None:
        """Release the line (the kernel keeps its last value). Idempotent."""
        request, self._request = self._request, None
        if request is not None:
            request.release()
