"""lepton.cci_simulator: the simulated camera's registers, as a CciBus (docs/cci.md §2, §4)."""

import pytest

from lepton.cci import CciBus
from lepton.cci_simulator import CciAccess, SimulatedCciDevice
from lepton.errors import RangeError


def test_simulated_device_is_a_cci_bus():
    """SimulatedCciDevice satisfies the CciBus protocol."""
    assert isinstance(SimulatedCciDevice(), CciBus)


def test_status_reads_ready_and_the_command_register_executes():
    """Status reads 0x0006 when idle; writing length and command runs the command (GET FPA temp)."""
    device = SimulatedCciDevice(fpa_temp_ck=30613)
    assert device.read_words(0x0002, 1) == [0x0006]
    device.write_words(0x0006, [1])
    device.write_words(0x0004, [0x0214])
    assert device.read_words(0x0002, 1) == [0x0006]
    assert device.read_words(0x0008, 1) == [30613]
    assert device.accesses[1:3] == [
        CciAccess("write", 0x0006, (1,)),
        CciAccess("write", 0x0004, (0x0214,)),
    ]


def test_busy_reads_count_down_then_the_response_shows():
    """busy_reads status reads show BUSY (0x0007), then the response code in bits 15-8."""
    device = SimulatedCciDevice(busy_reads=2)
    device.fail_next_with(-3)
    device.write_words(0x0004, [0x0202])
    assert [device.read_words(0x0002, 1)[0] for _ in range(3)] == [0x0007, 0x0007, 0xFD06]


@pytest.mark.parametrize("register, words", [(0x0003, [0]), (0x0004, [0x1_0000])])
def test_bad_accesses_are_refused(register, words):
    """Odd register addresses and words over 16 bits are programming errors (ValueError)."""
    with pytest.raises(ValueError):
        SimulatedCciDevice().write_words(register, words)


def test_unknown_byte_order_is_rejected():
    """part_number_byte_order is 'big' or 'little'."""
    with pytest.raises(RangeError) as info:
        SimulatedCciDevice(part_number_byte_order="middle")
    assert str(info.value) == "part_number_byte_order must be 'big' or 'little', got 'middle'"
