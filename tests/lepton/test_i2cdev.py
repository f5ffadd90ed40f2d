"""lepton.i2cdev: the i2c-dev transport of the CCI, its errors and its bytes (docs/cci.md §1)."""

import errno
import os

import pytest

from lepton.cci_protocol import CciError
from lepton.errors import DeviceError
from lepton.i2cdev import CciBusError, I2cBus, i2c_error_from_oserror

ENABLE_I2C = (
    "Enable I2C with `sudo raspi-config` (Interface Options > I2C) or add "
    "`dtparam=i2c_arm=on` to /boot/firmware/config.txt, then reboot"
)


def test_missing_i2c_bus_says_how_to_enable_i2c(tmp_path):
    """A nonexistent /dev/i2c-N raises CciBusError with the raspi-config fix."""
    device = str(tmp_path / "i2c-7")
    with pytest.raises(CciBusError) as info:
        I2cBus(7, device=device)
    assert str(info.value) == f"{device}: no such I2C bus. {ENABLE_I2C}"


def test_regular_file_is_not_an_i2c_bus(tmp_path):
    """I2C_SLAVE on a regular file fails with ENOTTY: not an I2C bus."""
    path = tmp_path / "file"
    path.write_bytes(b"")
    with pytest.raises(CciBusError) as info:
        I2cBus(device=str(path))
    assert str(info.value) == (
        f"{path}: not an I2C bus (ioctl I2C_SLAVE 0x2A failed: Inappropriate ioctl for device)"
    )


def test_permission_and_no_answer_errors_are_actionable():
    """EACCES says to join group i2c; EREMOTEIO (NACK) says to check power and wiring."""
    denied = i2c_error_from_oserror("/dev/i2c-1", 0x2A, OSError(errno.EACCES, "x"), "open")
    assert str(denied) == (
        "/dev/i2c-1: open: permission denied. Add your user to the i2c group with "
        "`sudo usermod -aG i2c $USER`, then log out and in again"
    )
    nack = i2c_error_from_oserror(
        "/dev/i2c-1", 0x2A, OSError(errno.EREMOTEIO, "x"), "write of register 0x0004"
    )
    assert str(nack) == (
        "/dev/i2c-1: no answer from the Lepton at address 0x2A (write of register 0x0004: "
        "Remote I/O error). Check the camera's power and its SDA/SCL wiring; "
        "`i2cdetect -y 1` should show 2a"
    )


def test_i2c_bus_bytes_through_a_fifo(tmp_path):
    """I2cBus selects 0x2A with I2C_SLAVE and writes/reads the bytes of docs/cci.md §4."""
    fifo = tmp_path / "i2c"
    os.mkfifo(fifo)
    calls = []
    bus = I2cBus(device=str(fifo), ioctl=lambda fd, request, arg: calls.append((request, arg)))
    peer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        assert calls == [(0x0703, 0x2A)]
        bus.write_words(0x0004, [0x0242])
        assert os.read(peer, 64) == bytes.fromhex("0004 0242")
        os.write(peer, bytes.fromhex("7795"))  # the camera's answer, queued first
        assert bus.read_words(0x0008, 1) == [30613]
        assert os.read(peer, 64) == bytes.fromhex("0008")  # the address write
    finally:
        bus.close()
        os.close(peer)
    with pytest.raises(CciBusError) as info:
        bus.read_words(0x0002, 1)
    assert str(info.value) == f"{fifo}: the bus is closed"


def test_directory_is_not_an_i2c_bus(tmp_path):
    """Opening a directory read-write fails with EISDIR: not an I2C bus."""
    with pytest.raises(CciBusError) as info:
        I2cBus(device=str(tmp_path))
    assert str(info.value) == f"{tmp_path}: not an I2C bus (it is a directory)"
    assert info.value.os_errno == errno.EISDIR


def test_bus_error_is_both_a_cci_error_and_a_device_error():
    """except CciError and except DeviceError both catch a bus failure."""
    error = i2c_error_from_oserror("/dev/i2c-1", 0x2A, OSError(errno.EIO, "x"), "open")
    assert isinstance(error, CciError) and isinstance(error, DeviceError)
    assert (error.device, error.os_errno) == ("/dev/i2c-1", errno.EIO)
