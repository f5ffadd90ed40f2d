"""Linux i2c-dev transport for the CCI: the only module that opens ``/dev/i2c-*``.

:class:`I2cBus` moves 16-bit words to and from the Lepton's CCI registers
with nothing but ``os.open``, one ``ioctl(I2C_SLAVE)`` and plain
``write()``/``read()``; it implements :class:`lepton.cci.CciBus`. A register
write is one I2C write of the address and the words; a register read is a
write of the address followed by a separate read of ``2 * count`` bytes,
which IDD §2.1.2.1 allows (docs/cci.md §1). One ioctl and two system calls
do not earn a dependency such as ``smbus2``, whose SMBus block transfers
(32 bytes, 8-bit commands) do not fit 16-bit registers anyway.

Errors (all subclasses of :class:`lepton.errors.LeptonError`)::

    LeptonError
     ├── DeviceError (errors.py)
     │    └── CciBusError      device, reason, fix, os_errno
     └── CciError (cci_protocol.py)
          └── CciBusError      no bus, no permission, not a bus, no answer

Sources: Linux UAPI ``linux/i2c-dev.h``; Lepton Software IDD 110-0144-04
Rev 303 §2.1.2 (address 0x2A, big-endian 16-bit registers); docs/cci.md §1.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Sequence
from typing import Any

from .cci_protocol import (
    CCI_ADDRESS,
    WORD_BYTES,
    CciError,
    decode_words,
    encode_register_address,
    encode_register_write,
)
from .devnode import DeviceKind, DeviceNode, device_error_from_oserror
from .errors import DeviceError

__all__ = [
    "ENABLE_I2C_FIX",
    "I2C_SLAVE",
    "CciBusError",
    "I2cBus",
    "i2c_error_from_oserror",
]

I2C_SLAVE = 0x0703  # ioctl: set the 7-bit address of later read()/write() (linux/i2c-dev.h)

ENABLE_I2C_FIX = (
    "Enable I2C with `sudo raspi-config` (Interface Options > I2C) or add "
    "`dtparam=i2c_arm=on` to /boot/firmware/config.txt, then reboot"
)
# A device that does not acknowledge its address: Linux I2C drivers report
# ENXIO, EREMOTEIO or EIO (kernel Documentation/i2c/fault-codes.rst).
_NO_ANSWER_ERRNOS = (errno.ENXIO, errno.EREMOTEIO, errno.EIO)


class CciBusError(CciError, DeviceError):
    """The I2C bus cannot be opened or the camera does not answer on it.

    Fields: see :class:`lepton.errors.DeviceError`.
    """


I2C_DEV = DeviceKind(
    node="bus",
    what="an I2C bus",
    missing="no such I2C bus",
    enable_fix=ENABLE_I2C_FIX,
    group="i2c",
    wrong_node_fix="",
    error=CciBusError,
    not_found_error=CciBusError,
    permission_error=CciBusError,
    wrong_node_error=CciBusError,
)


def i2c_error_from_oserror(device: str, address: int, exc: OSError, operation: str) -> CciBusError:
    """Translate an ``OSError`` from an i2c-dev system call into an actionable error.

    Args:
        device: the bus device, named in the message.
        address: the 7-bit device address in use.
        exc: the error from ``os.open``, ``fcntl.ioctl``, ``os.write`` or ``os.read``.
        operation: what was being done, e.g. ``"open"`` or ``"write of register 0x0004"``.

    Returns:
        A :class:`CciBusError` whose ``fix`` says what to do: ENXIO/EREMOTEIO/EIO
        (no acknowledge) -> check power and wiring; otherwise the shared ladder
        of :func:`lepton.devnode.device_error_from_oserror`: ENOENT -> enable
        I2C; EACCES/EPERM -> join group ``i2c``; ENOTTY/EISDIR -> not an I2C bus.
    """
    code = exc.errno
    if code in _NO_ANSWER_ERRNOS:
        text = os.strerror(code)
        return CciBusError(
            device,
            f"no answer from the Lepton at address 0x{address:02X} ({operation}: {text})",
            "Check the camera's power and its SDA/SCL wiring; "
            f"`i2cdetect -y {device.rsplit('-', 1)[-1]}` should show {address:02x}",
            code,
        )
    return device_error_from_oserror(I2C_DEV, device, exc, operation)


class I2cBus:
    """CCI registers over Linux i2c-dev: ``ioctl(I2C_SLAVE)``, then ``write()``/``read()``.

    Implements :class:`lepton.cci.CciBus`. Not thread-safe on its own;
    :class:`lepton.cci.Cci` serialises its use. Each call blocks for the
    transfer (a few words take well under 1 ms at 400 kHz).

    Args:
        bus: I2C bus number (``/dev/i2c-1`` on a Raspberry Pi's GPIO header).
        address: 7-bit device address, 0x2A for the Lepton (IDD §2.1.2).
        device: override the device path (default ``/dev/i2c-{bus}``).
        ioctl: ``fcntl.ioctl`` or a test's recorder, called as
            ``ioctl(fd, I2C_SLAVE, address)``.

    Raises:
        CciBusError: the bus node is missing (I2C disabled), not accessible,
            or not an I2C bus.
    """

    def __init__(
        self,
        bus: int = 1,
        address: int = CCI_ADDRESS,
        *,
        device: str | None = None,
        ioctl: Callable[[int, int, int], Any] = fcntl.ioctl,
    ):
        self.device = device if device is not None else f"/dev/i2c-{bus}"
        self.address = address

        def explain(exc: OSError, operation: str) -> CciBusError:
            return i2c_error_from_oserror(self.device, address, exc, operation)

        def select_address(node: DeviceNode[CciBusError]) -> None:
            node.call(f"ioctl I2C_SLAVE 0x{address:02X}", ioctl, I2C_SLAVE, address)

        self._node = DeviceNode(self.device, I2C_DEV, explain=explain, setup=select_address)

    def read_words(self, register: int, count: int) -> list[int]:
        """Read ``count`` 16-bit words starting at ``register``.

        Raises:
            CciBusError: the bus is closed, the camera does not acknowledge, or
                a short read.
        """
        n_bytes = count * WORD_BYTES

        def transfer(fd: int) -> bytes:
            os.write(fd, encode_register_address(register))
            return os.read(fd, n_bytes)

        data = self._node.call(f"read of register 0x{register:04X}", transfer)
        if len(data) != n_bytes:
            raise CciBusError(
                self.device,
                f"short read of register 0x{register:04X}: {len(data)} of {n_bytes} bytes",
            )
        return decode_words(data)

    def write_words(self, register: int, words: Sequence[int]) -> None:
        """Write 16-bit ``words`` starting at ``register`` in one I2C transaction.

        Raises:
            CciBusError: the bus is closed, the camera does not acknowledge, or
                a short write.
        """
        data = encode_register_write(register, words)
        written = self._node.call(f"write of register 0x{register:04X}", os.write, data)
        if written != len(data):
            raise CciBusError(
                self.device,
                f"short write of register 0x{register:04X}: {written} of {len(data)} bytes",
            )

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._node.closed

    def close(self) -> None:
        """Close the bus. Idempotent."""
        self._node.close()

    def __enter__(self) -> I2cBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
