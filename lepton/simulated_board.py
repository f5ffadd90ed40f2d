"""The board a simulated Lepton sits on: its power line, and the hangs that need it.

Field cameras hang: the video stops and stays stopped until the camera is
rebooted over CCI, or, worse, the CCI stops answering too and only pulling the
power brings it back (groupgets/LeptonModule #40, pylepton #5; the Cacophony
Project power-cycles its Lepton for this). :class:`SimulatedBoard` plays both,
shared by a simulated camera's two sides:

* :class:`lepton.transport.SimulatedTransport` (``board=``) sends discard
  packets only while the camera hangs, and all-zero bytes while it is
  unpowered (MISO low: docs/vospi.md §4, §5);
* :class:`lepton.cci_simulator.SimulatedCciDevice` (``board=``) stops
  answering (an I2C address not acknowledged, ENXIO) while it hangs for a
  power cycle or is unpowered, clears a reboot hang on OEM reboot, and comes
  back from a power cycle with its power-on defaults (docs/cci.md §1, §5).

It is also a :class:`lepton.power.PowerSwitch`: the stand-in for the GPIO line
that switches the camera's supply. Pure state, no clocks; not thread-safe (the
source thread owns a simulated camera).
"""

from __future__ import annotations

import enum

__all__ = ["Hang", "SimulatedBoard"]


class Hang(enum.Enum):
    """How a simulated camera hangs."""

    NONE = "none"
    NEEDS_REBOOT = "needs_reboot"  # video stops; CCI answers; an OEM reboot clears it
    NEEDS_POWER_CYCLE = "needs_power_cycle"  # video and CCI stop; only power off and on clears it


class SimulatedBoard:
    """A simulated camera's power and hang state; also its :class:`~lepton.power.PowerSwitch`.

    Args:
        hang: the hang to start at unique frame ``hang_at_frame``, once.
        hang_at_frame: index (from 0) of the unique frame at which the camera
            hangs, counted by :meth:`reached_frame`; None: never.

    Attributes:
        powered: True while the supply is on.
        hang: the current :class:`Hang` (NONE while the camera works).
        power_changes: every :meth:`set_power` call's value, in order.
        power_ons: times the supply came back on after being off (boots).
    """

    def __init__(self, hang: Hang = Hang.NONE, hang_at_frame: int | None = None):
        self.powered = True
        self.hang = Hang.NONE
        self.power_changes: list[bool] = []
        self.power_ons = 0
        self._scheduled = (Hang(hang), hang_at_frame) if hang is not Hang.NONE else None

    @property
    def video_runs(self) -> bool:
        """True while the camera sends its VoSPI stream (powered and not hung)."""
        return self.powered and self.hang is Hang.NONE

    @property
    def cci_answers(self) -> bool:
        """True while the CCI acknowledges its address (powered, not hung for a power cycle)."""
        return self.powered and self.hang is not Hang.NEEDS_POWER_CYCLE

    def reached_frame(self, index: int) -> None:
        """The camera is about to send unique frame ``index``; a hang scheduled for it starts."""
        if self._scheduled is not None and index >= (self._scheduled[1] or 0):
            self.hang, self._scheduled = self._scheduled[0], None

    def hang_now(self, hang: Hang) -> None:
        """Hang the camera at once (``Hang.NONE``: let it work again)."""
        self.hang = Hang(hang)

    def rebooted(self) -> None:
        """The camera ran OEM reboot (docs/cci.md §5): a reboot hang is over."""
        if self.hang is Hang.NEEDS_REBOOT:
            self.hang = Hang.NONE

    # -- PowerSwitch
    def set_power(self, on: bool) -> None:
        """Switch the camera's supply; on after off boots it, clearing any hang."""
        self.power_changes.append(bool(on))
        if on and not self.powered:
            self.hang = Hang.NONE
            self.power_ons += 1
        self.powered = bool(on)

    def close(self) -> None:
        """Release the line (nothing to release here). Idempotent."""
