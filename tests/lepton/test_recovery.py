"""lepton.recovery: the escalation machine value by value, and its shell on a simulated camera."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from lepton.camera import Lepton
from lepton.cci import Cci
from lepton.cci_simulator import SimulatedCciDevice
from lepton.models import Model, TelemetryLocation
from lepton.recovery import (
    Recovery,
    RecoveryAction,
    RecoveryCounters,
    RecoveryMachine,
    RecoveryPolicy,
    RecoveryState,
)
from lepton.simulated_board import Hang, SimulatedBoard
from lepton.simulator import VospiSimulator
from lepton.transport import SimulatedTransport

A, S = RecoveryAction, RecoveryState
POLICY = RecoveryPolicy(recover_after_s=5, power_off_s=2, power_cycle_min_interval_s=300,
                        boot_s=1)


def run(machine: RecoveryMachine, times) -> list[tuple[float, RecoveryAction, RecoveryState]]:
    """Tick at each time; the actions returned, with when and the state after."""
    out = []
    for now in times:
        action = machine.tick(now)
        if action is not None:
            out.append((now, action, machine.state))
    return out


def test_full_escalation_in_order():
    """Resync at R/2, reboot at R, configure after boot, power cycle, configure, then back off."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=True, can_power_cycle=True)
    assert run(machine, [x / 2 for x in range(0, 60)]) == [
        (2.5, A.RESYNC, S.STALLED),
        (5.0, A.REBOOT, S.REBOOTING),
        (6.0, A.CONFIGURE, S.VERIFYING),
        (11.0, A.POWER_OFF, S.POWERED_OFF),
        (13.0, A.POWER_ON, S.BOOTING),
        (14.0, A.CONFIGURE, S.VERIFYING),
    ]
    assert machine.state is S.BACKING_OFF and machine.retry_at == 311.0
    assert machine.counters == RecoveryCounters(resyncs=1, reboots=1, power_cycles=1)


def test_back_off_allows_one_power_cycle_per_interval():
    """A dead camera gets the next round only Power_Cycle_Min_Interval after the last cycle."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=True, can_power_cycle=True)
    run(machine, range(0, 20))
    assert run(machine, [310.0, 310.9]) == []
    assert run(machine, [311.0, 312.0, 317.0, 318.0]) == [
        (311.0, A.REBOOT, S.REBOOTING),
        (312.0, A.CONFIGURE, S.VERIFYING),
        (317.0, A.POWER_OFF, S.POWERED_OFF),
    ]
    assert machine.counters.power_cycles == 2


def test_power_cycle_too_soon_is_skipped():
    """Failing again 60 s after a power cycle: a reboot only, then wait for the interval."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=True, can_power_cycle=True)
    run(machine, range(0, 15))  # power cycle at 11, configured again at 14
    machine.frame(20.0)
    assert machine.state is S.STREAMING and machine.counters.recoveries == 1
    machine.frame(80.0)  # the last frame before it fails again
    assert run(machine, [81.0, 82.5, 85.0, 86.0, 91.0]) == [
        (82.5, A.RESYNC, S.STALLED),
        (85.0, A.REBOOT, S.REBOOTING),
        (86.0, A.CONFIGURE, S.VERIFYING),
    ]
    assert machine.state is S.BACKING_OFF and machine.retry_at == 311.0


def test_without_power_line_reboots_back_off():
    """No power line: a failed reboot round waits the interval before the next reboot."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=True, can_power_cycle=False)
    assert [a for _, a, _ in run(machine, range(0, 20))] == [A.RESYNC, A.REBOOT, A.CONFIGURE]
    assert machine.state is S.BACKING_OFF and machine.retry_at == 305.0
    assert run(machine, [304.0, 305.0]) == [(305.0, A.REBOOT, S.REBOOTING)]


def test_without_cci_the_power_cycle_comes_first():
    """No CCI: the round is the power cycle alone."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=False, can_power_cycle=True)
    assert [a for _, a, _ in run(machine, range(0, 20))] == [
        A.RESYNC, A.POWER_OFF, A.POWER_ON, A.CONFIGURE]
    assert machine.counters.reboots == 0 and machine.retry_at == 305.0


def test_nothing_to_try_only_resyncs():
    """Neither CCI nor a power line: one forced resync, then backing off with nothing to retry."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=False, can_power_cycle=False)
    assert run(machine, range(0, 1000, 5)) == [(5, A.RESYNC, S.STALLED)]
    assert machine.state is S.BACKING_OFF and machine.retry_at is None
    machine.frame(1000.0)
    assert machine.state is S.STREAMING


def test_frames_during_a_restart_are_ignored():
    """Frames while rebooting or powered off predate the restart; one when verifying counts."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=True, can_power_cycle=True)
    run(machine, [2.5, 5.0])
    machine.frame(5.5)
    assert machine.state is S.REBOOTING
    assert run(machine, [6.0]) == [(6.0, A.CONFIGURE, S.VERIFYING)]
    machine.frame(6.5)
    assert machine.state is S.STREAMING and machine.counters.recoveries == 1
    assert run(machine, [8.9, 9.0]) == [(9.0, A.RESYNC, S.STALLED)]  # R/2 after 6.5


def test_steady_frames_never_escalate():
    """A frame every 0.1 s keeps the machine streaming with no action."""
    machine = RecoveryMachine(POLICY, 0.0, can_reboot=True, can_power_cycle=True)
    for k in range(1000):
        machine.frame(k / 10)
        assert machine.tick(k / 10 + 0.05) is None
    assert machine.counters == RecoveryCounters()


@pytest.mark.parametrize("field, value, allowed", [
    ("recover_after_s", 0, "> 0"), ("power_off_s", -1, "> 0"),
    ("power_cycle_min_interval_s", -1, ">= 0"), ("boot_s", -0.5, ">= 0")])
def test_policy_ranges(field, value, allowed):
    """A policy value out of range is a RangeError naming it."""
    with pytest.raises(ValueError) as caught:
        RecoveryPolicy(**{field: value})
    assert str(caught.value) == f"{field} must be {allowed}, got {value}"


class Clock:
    """A monotonic clock that advances ``step`` per read and by whatever is slept."""

    def __init__(self, step: float = 0.001):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def simulated_camera(hang: Hang, at_frame: int, clock: Clock):
    """A Lepton 3.5 on a simulated board: VoSPI transport and CCI device share its state."""
    board = SimulatedBoard(hang, at_frame)
    device = SimulatedCciDevice(board=board)
    frames = itertools.cycle([np.full((120, 160), 30000 + k, np.uint16) for k in range(4)])
    transport = SimulatedTransport(VospiSimulator(Model.LEPTON3, TelemetryLocation.FOOTER),
                                   frames, board=board)
    camera = Lepton(model=Model.LEPTON3, telemetry=TelemetryLocation.FOOTER, transport=transport,
                    clock=clock, sleep=clock.sleep)
    return camera, board, device, Cci(device, clock=clock, sleep=clock.sleep)


def drive(camera: Lepton, recovery: Recovery, clock: Clock, seconds: float) -> list[bool]:
    """The source's loop for ``seconds`` of simulated time: True per frame, False per empty read."""
    seen = []
    end = clock.now + seconds
    while clock.now < end:
        frame = camera.next_frame(0.5)
        if frame is not None:
            recovery.frame()
        recovery.tick()
        seen.append(frame is not None)
    return seen


@pytest.mark.parametrize("hang, steps", [
    (Hang.NEEDS_REBOOT, {"recovery_resyncs": 1, "recovery_reboots": 1,
                         "recovery_power_cycles": 0, "recovery_errors": 0}),
    (Hang.NEEDS_POWER_CYCLE, {"recovery_resyncs": 1, "recovery_reboots": 1,
                              "recovery_power_cycles": 1, "recovery_errors": 2}),
])
def test_shell_heals_a_simulated_camera(hang, steps, caplog):
    """Each step acts on the simulated CCI device and power line, in order, logged once each."""
    clock = Clock()
    camera, board, device, cci = simulated_camera(hang, 5, clock)
    configured = []

    def configure() -> None:
        cci.set_telemetry(True, TelemetryLocation.FOOTER)
        configured.append(device.telemetry_enabled)

    recovery = Recovery(POLICY, resync=camera.resync, configure=configure,
                        reboot=cci.oem_reboot, power=board, clock=clock,
                        log=logging.getLogger("test.recovery"))
    with caplog.at_level(logging.INFO, "test.recovery"):
        seen = drive(camera, recovery, clock, 40.0)
    first_gap = seen.index(False)
    assert first_gap == 5 and any(seen[first_gap:])  # frames, silence, frames again
    assert recovery.machine.state is S.STREAMING
    status = recovery.status()
    assert {k: status[k] for k in steps} == steps and status["recoveries"] == 1
    assert device.reboots == (1 if hang is Hang.NEEDS_REBOOT else 0)  # a hung CCI never got it
    assert board.power_changes == ([] if hang is Hang.NEEDS_REBOOT else [False, True])
    assert configured[-1] == 1  # telemetry set again after the camera lost it
    messages = [r.getMessage() for r in caplog.records]
    expected = ["no frame for 2.5 s: resynchronising VoSPI",
                "no frame for 5 s: rebooting the camera over CCI"]
    if hang is Hang.NEEDS_POWER_CYCLE:
        expected += ["still no frame: power-cycling the camera (2 s off)", "power back on"]
    steps_logged = [m for m in messages if m in expected]
    assert steps_logged == expected
    assert messages[-1] == "camera recovered: frames again (after verifying)"
    recovery.close()


def test_close_powers_the_camera_back_on():
    """Stopping mid power cycle switches the supply on again and releases the line."""
    clock = Clock()
    camera, board, _device, cci = simulated_camera(Hang.NEEDS_POWER_CYCLE, 0, clock)
    recovery = Recovery(POLICY, resync=camera.resync, configure=lambda: None, power=board,
                        clock=clock)
    drive(camera, recovery, clock, 6.0)
    assert recovery.machine.state is S.POWERED_OFF and not board.powered
    recovery.close()
    assert board.powered and board.power_changes == [False, True]
