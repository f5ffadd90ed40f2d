"""lepton.simulated_board: hangs and power as the transport and the CCI device play them."""

import itertools

import numpy as np
import pytest

from lepton.cci import Cci
from lepton.cci_simulator import SimulatedCciDevice
from lepton.i2cdev import CciBusError
from lepton.models import Model
from lepton.simulated_board import Hang, SimulatedBoard
from lepton.simulator import VospiSimulator
from lepton.transport import SimulatedTransport
from lepton.vospi import PACKET_BYTES

FRAME = np.full((60, 80), 8000, np.uint16)


def board_camera(hang: Hang, at_frame: int):
    board = SimulatedBoard(hang, at_frame)
    simulator = VospiSimulator(Model.LEPTON2)
    transport = SimulatedTransport(simulator, itertools.repeat(FRAME), board=board)
    return board, transport, Cci(SimulatedCciDevice(board=board))


def test_reboot_hang_sends_discards_until_oem_reboot():
    """needs_reboot: discard packets from its frame on, CCI still answers; OEM reboot ends it."""
    board, transport, cci = board_camera(Hang.NEEDS_REBOOT, 1)
    first = transport.read(63 * PACKET_BYTES)
    assert first[1] == 0  # packet 0 of frame 0
    while board.hang is Hang.NONE:
        transport.read(PACKET_BYTES)
    hung = transport.read(5 * PACKET_BYTES)
    assert all(hung[k * PACKET_BYTES] & 0x0F == 0x0F for k in range(5))  # discard IDs xFxx
    cci.ping()
    cci.oem_reboot()
    assert board.hang is Hang.NONE and transport.read(PACKET_BYTES)[:2] == b"\x00\x00"


def test_power_cycle_hang_silences_cci_until_power_cycle():
    """needs_power_cycle: the CCI does not answer (ENXIO), reboot cannot help; off reads zeros;
    on again clears it with the power-on defaults."""
    board, transport, cci = board_camera(Hang.NEEDS_POWER_CYCLE, 0)
    transport.read(PACKET_BYTES)
    with pytest.raises(CciBusError) as caught:
        cci.ping()
    assert caught.value.errno == 6 and str(caught.value) == (
        "simulated CCI: no answer from the Lepton (read of register 0x0002: camera hung or "
        "unpowered). Power-cycle the camera")
    board.set_power(False)
    assert transport.read(2 * PACKET_BYTES) == bytes(2 * PACKET_BYTES)
    board.set_power(True)
    cci.ping()
    assert not cci.telemetry_enabled() and board.power_ons == 1
    assert transport.read(PACKET_BYTES)[:2] == b"\x00\x00"
