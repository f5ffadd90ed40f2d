"""Healing a camera that stays out of sync: a pure escalation state machine and its shell.

Lepton cameras in the field lose sync and sometimes never find it again until
someone pulls the power (groupgets/LeptonModule #40, pylepton #5; the Cacophony
Project power-cycles its Lepton for this). :class:`RecoveryMachine` decides
what to try, from two inputs only, "a valid frame arrived" (:meth:`~RecoveryMachine.frame`)
and "time passed" (:meth:`~RecoveryMachine.tick`), both with the time given by
the caller; it returns the :class:`RecoveryAction` to perform, or None. It
never touches a device, a clock or a logger. :class:`Recovery` is the thin
shell that reads the clock, performs the actions on the camera and logs each
step once. The escalation, with ``R`` = ``recover_after_s`` (docs/cci.md §6)::

    STREAMING --no frame for R/2--> STALLED        action RESYNC (DS §4.2.2.3.1)
    STALLED   --no frame for R----> REBOOTING      action REBOOT (CCI OEM reboot, IDD §4.7)
    REBOOTING --boot_s------------> VERIFYING      action CONFIGURE (settings again, resync)
    VERIFYING --R, no frame-------> POWERED_OFF    action POWER_OFF   (power line, allowed)
    POWERED_OFF --power_off_s-----> BOOTING        action POWER_ON
    BOOTING   --boot_s------------> VERIFYING      action CONFIGURE
    VERIFYING --R, no frame-------> BACKING_OFF    (every allowed step failed)
    BACKING_OFF --retry time------> REBOOTING      a new round (or POWERED_OFF without CCI)
    any state but REBOOTING, POWERED_OFF, BOOTING --frame--> STREAMING

A step the camera cannot take (no CCI: no reboot; no power line: no power
cycle) is skipped. A power cycle happens at most once per
``power_cycle_min_interval_s``; when it is not yet allowed, the machine backs
off until it is. Without a power line, reboot rounds back off the same way.
Frames seen while the camera is restarting (REBOOTING, POWERED_OFF, BOOTING)
were sent before the restart and are ignored. The systemd watchdog, which the
daemon pets only while frames flow, remains the last resort.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import LeptonError, RangeError
from .power import PowerSwitch

__all__ = [
    "BOOT_S",
    "MIN_BOOT_S",
    "Recovery",
    "RecoveryAction",
    "RecoveryCounters",
    "RecoveryMachine",
    "RecoveryPolicy",
    "RecoveryState",
]

# After power-up or a reboot the camera needs at least 0.95 s before it answers over
# CCI, 5 s for a camera with a shutter, which runs an FFC at start (IDD §2.1.1;
# docs/cci.md §1).
MIN_BOOT_S = 0.95
BOOT_S = 5.0
_LOG = logging.getLogger(__name__)


class RecoveryState(enum.Enum):
    """Where the escalation stands (shown as ``recovery`` in the source's status)."""

    STREAMING = "streaming"  # frames flow
    STALLED = "stalled"  # no frame for recover_after_s / 2; a resync was forced
    REBOOTING = "rebooting"  # CCI OEM reboot sent; the camera boots (boot_s)
    POWERED_OFF = "powered_off"  # the power line is off (power_off_s)
    BOOTING = "booting"  # the power is back on; the camera boots (boot_s)
    VERIFYING = "verifying"  # configured again after a restart; waiting for a frame
    BACKING_OFF = "backing_off"  # every allowed step failed; waiting to try again


class RecoveryAction(enum.Enum):
    """What the shell must do."""

    RESYNC = "resync"  # idle the bus > 185 ms, restart the parser (docs/vospi.md §8)
    REBOOT = "reboot"  # CCI OEM reboot, RUN 0x4842 (docs/cci.md §5)
    POWER_OFF = "power_off"  # switch the camera's supply off
    POWER_ON = "power_on"  # switch it back on
    CONFIGURE = "configure"  # the camera booted with its defaults: set it up again, resync


@dataclass(frozen=True)
class RecoveryPolicy:
    """The escalation's timing, seconds.

    Attributes:
        recover_after_s: no valid frame for this long (a resync forced halfway)
            starts the escalation; also how long each restart gets to bring
            frames back. > 0.
        power_off_s: how long the supply stays off in a power cycle, > 0.
        power_cycle_min_interval_s: at most one power cycle per this many
            seconds (and, without a power line, one reboot round), >= 0.
        boot_s: wait after a reboot or power-on before configuring the camera,
            >= 0 (:data:`BOOT_S`, IDD §2.1.1).

    Raises:
        RangeError: a value out of its range.
    """

    recover_after_s: float = 5.0
    power_off_s: float = 2.0
    power_cycle_min_interval_s: float = 300.0
    boot_s: float = BOOT_S

    def __post_init__(self) -> None:
        for name, low_is_allowed in (("recover_after_s", False), ("power_off_s", False),
                                     ("power_cycle_min_interval_s", True), ("boot_s", True)):
            value = getattr(self, name)
            if not (value >= 0 if low_is_allowed else value > 0):
                raise RangeError(name, value, ">= 0" if low_is_allowed else "> 0")


@dataclass
class RecoveryCounters:
    """What the escalation did (each a count since the machine was made).

    Attributes:
        resyncs: resyncs it forced (the read loop's own are counted by the Lepton).
        reboots: CCI reboots. power_cycles: power cycles.
        recoveries: times frames came back after a stall.
    """

    resyncs: int = 0
    reboots: int = 0
    power_cycles: int = 0
    recoveries: int = 0


class RecoveryMachine:
    """The escalation as a pure state machine: inputs with their times in, actions out.

    Args:
        policy: the timing.
        now: the current time, seconds on any monotonic clock; the camera is
            taken as last seen streaming then.
        can_reboot: the camera has a CCI to reboot it through.
        can_power_cycle: a power line switches the camera's supply.

    Attributes:
        state: the :class:`RecoveryState`.
        counters: the :class:`RecoveryCounters`.
        retry_at: in BACKING_OFF, when the next round starts (None: never;
            nothing is left to try but frames coming back by themselves).

    Not thread-safe; every call is O(1).
    """

    _RESTARTING = frozenset({RecoveryState.REBOOTING, RecoveryState.POWERED_OFF,
                             RecoveryState.BOOTING})

    def __init__(self, policy: RecoveryPolicy, now: float, *, can_reboot: bool,
                 can_power_cycle: bool):
        self.policy = policy
        self.can_reboot = can_reboot
        self.can_power_cycle = can_power_cycle
        self.state = RecoveryState.STREAMING
        self.counters = RecoveryCounters()
        self.retry_at: float | None = None
        self._last_frame = now
        self._since = now
        self._last_reboot: float | None = None
        self._last_power_cycle: float | None = None
        self._restart = RecoveryAction.REBOOT  # the restart of the current round so far

    def frame(self, now: float) -> RecoveryAction | None:
        """A valid frame arrived at ``now``. Returns None (a frame never needs an action)."""
        if self.state in self._RESTARTING:
            return None
        self._last_frame = now
        if self.state is not RecoveryState.STREAMING:
            self.counters.recoveries += 1
            self._enter(RecoveryState.STREAMING, now)
        return None

    def tick(self, now: float) -> RecoveryAction | None:
        """Time has passed without a frame, up to ``now``: the action due, if any."""
        silent = now - self._last_frame
        waited = now - self._since
        policy = self.policy
        state = self.state
        if state is RecoveryState.STREAMING and silent >= policy.recover_after_s / 2:
            self.counters.resyncs += 1
            return self._enter(RecoveryState.STALLED, now, RecoveryAction.RESYNC)
        if state is RecoveryState.STALLED and silent >= policy.recover_after_s:
            return self._start_round(now)
        if state in (RecoveryState.REBOOTING, RecoveryState.BOOTING) and waited >= policy.boot_s:
            return self._enter(RecoveryState.VERIFYING, now, RecoveryAction.CONFIGURE)
        if state is RecoveryState.POWERED_OFF and waited >= policy.power_off_s:
            return self._enter(RecoveryState.BOOTING, now, RecoveryAction.POWER_ON)
        if state is RecoveryState.VERIFYING and waited >= policy.recover_after_s:
            if self._restart is RecoveryAction.POWER_OFF:
                return self._back_off(now)
            return self._power_cycle(now)
        retry_at = self.retry_at
        if state is RecoveryState.BACKING_OFF and retry_at is not None and now >= retry_at:
            return self._start_round(now)
        return None

    # -- transitions
    def _enter(self, state: RecoveryState, now: float,
               action: RecoveryAction | None = None) -> RecoveryAction | None:
        self.state, self._since = state, now
        if state is not RecoveryState.BACKING_OFF:
            self.retry_at = None
        return action

    def _start_round(self, now: float) -> RecoveryAction | None:
        if self.can_reboot:
            self._restart = RecoveryAction.REBOOT
            self._last_reboot = now
            self.counters.reboots += 1
            return self._enter(RecoveryState.REBOOTING, now, RecoveryAction.REBOOT)
        return self._power_cycle(now)

    def _power_cycle_allowed(self, now: float) -> bool:
        last = self._last_power_cycle
        return self.can_power_cycle and (
            last is None or now - last >= self.policy.power_cycle_min_interval_s)

    def _power_cycle(self, now: float) -> RecoveryAction | None:
        if not self._power_cycle_allowed(now):
            return self._back_off(now)
        self._restart = RecoveryAction.POWER_OFF
        self._last_power_cycle = now
        self.counters.power_cycles += 1
        return self._enter(RecoveryState.POWERED_OFF, now, RecoveryAction.POWER_OFF)

    def _back_off(self, now: float) -> RecoveryAction | None:
        """Every allowed step failed: wait for the next round (no action now)."""
        self._enter(RecoveryState.BACKING_OFF, now)
        interval = self.policy.power_cycle_min_interval_s
        if self.can_power_cycle and self._last_power_cycle is not None:
            self.retry_at = self._last_power_cycle + interval
        elif self.can_reboot and self._last_reboot is not None:
            self.retry_at = self._last_reboot + interval
        else:
            self.retry_at = None
        return None


class Recovery:
    """The shell around :class:`RecoveryMachine`: reads the clock, performs, logs once per step.

    Call :meth:`frame` for every valid frame and :meth:`tick` after every read
    (at least every half second; with frames flowing it does nothing).
    An action that fails (the CCI does not answer, the GPIO line cannot be
    set) is logged and counted in ``errors``; the escalation goes on.

    Args:
        policy: the timing.
        resync: resynchronises the VoSPI stream (``Lepton.resync``); blocks ~185 ms.
        configure: sets the camera up again after it booted with its defaults
            (telemetry, TLinear over CCI); may raise :class:`~lepton.errors.LeptonError`.
        reboot: sends CCI OEM reboot (``Cci.oem_reboot``), or None without CCI.
        power: the camera's :class:`~lepton.power.PowerSwitch`, or None; the
            Recovery owns it and closes it in :meth:`close`.
        clock: ``time.monotonic`` or a test's, seconds.
        log: where steps are logged.

    Attributes:
        machine: the :class:`RecoveryMachine`. errors: actions that raised.

    Not thread-safe: the source thread owns it; :meth:`status` may be read
    from another thread (it reads a few attributes).
    """

    def __init__(self, policy: RecoveryPolicy, *, resync: Callable[[], None],
                 configure: Callable[[], None], reboot: Callable[[], None] | None = None,
                 power: PowerSwitch | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 log: logging.Logger = _LOG):
        self._resync, self._configure, self._reboot, self._power = resync, configure, reboot, power
        self._clock, self._log = clock, log
        self.machine = RecoveryMachine(policy, clock(), can_reboot=reboot is not None,
                                       can_power_cycle=power is not None)
        self.errors = 0

    def frame(self) -> None:
        """A valid frame arrived."""
        before = self.machine.state
        self.machine.frame(self._clock())
        if before is not self.machine.state:
            self._log.warning("camera recovered: frames again (after %s)", before.value)

    def tick(self) -> None:
        """Time has passed: perform whatever step is due (blocks while it runs)."""
        now = self._clock()
        before = self.machine.state
        action = self.machine.tick(now)
        if action is not None:
            self._perform(action)
        if self.machine.state is RecoveryState.BACKING_OFF and before is not self.machine.state:
            retry = self.machine.retry_at
            self._log.error(
                "camera still silent after every recovery step; %s (the systemd watchdog "
                "restarts the daemon if it runs as a service)",
                "nothing more to try" if retry is None
                else f"next attempt in {retry - now:.0f} s")

    def _perform(self, action: RecoveryAction) -> None:
        policy = self.machine.policy
        steps: dict[RecoveryAction, tuple[str, Callable[[], None]]] = {
            RecoveryAction.RESYNC: (
                f"no frame for {policy.recover_after_s / 2:g} s: resynchronising VoSPI",
                self._resync),
            RecoveryAction.REBOOT: (
                f"no frame for {policy.recover_after_s:g} s: rebooting the camera over CCI",
                self._reboot_camera),
            RecoveryAction.POWER_OFF: (
                f"still no frame: power-cycling the camera ({policy.power_off_s:g} s off)",
                lambda: self._set_power(False)),
            RecoveryAction.POWER_ON: ("power back on", lambda: self._set_power(True)),
            RecoveryAction.CONFIGURE: ("camera restarted: configuring it and resynchronising",
                                       self._configure_and_resync),
        }
        message, perform = steps[action]
        self._log.warning("%s", message)
        try:
            perform()
        except LeptonError as exc:
            self.errors += 1
            self._log.warning("recovery step %s failed: %s", action.value, exc)

    def _reboot_camera(self) -> None:
        if self._reboot is not None:
            self._reboot()

    def _set_power(self, on: bool) -> None:
        if self._power is not None:
            self._power.set_power(on)

    def _configure_and_resync(self) -> None:
        try:
            self._configure()
        finally:
            self._resync()

    def close(self) -> None:
        """Switch the camera back on if a power cycle was under way, then release the line.

        Raises:
            PowerSwitchError: the line could not be set.
        """
        if self._power is not None:
            if self.machine.state is RecoveryState.POWERED_OFF:
                self._power.set_power(True)
            self._power.close()

    def status(self) -> dict[str, str | int]:
        """``recovery`` (the state's value) and the counters, prefixed ``recovery_``."""
        counters = self.machine.counters
        return {"recovery": self.machine.state.value,
                "recovery_resyncs": counters.resyncs, "recovery_reboots": counters.reboots,
                "recovery_power_cycles": counters.power_cycles,
                "recoveries": counters.recoveries, "recovery_errors": self.errors}
