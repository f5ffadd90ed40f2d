"""Linux spidev transport: the only module that opens ``/dev/spidev*``.

:class:`SpidevTransport` implements the :class:`lepton.transport.Transport`
protocol with nothing but ``os.open``, ``fcntl.ioctl`` and ``os.read``: it sets
SPI mode 3, 8 bits per word, MSB first and the clock speed, then clocks whole
164-byte VoSPI packets out of the Lepton with plain ``read()`` calls, each of
which is one SPI transfer with /CS held asserted (kernel ``spidev.c``,
docs/vospi.md §10).

Why no ``spidev`` package: three setup ioctls and ``read()`` are all we use,
and the request numbers and the ``spi_ioc_transfer`` layout are written out
here (with tests against the kernel's layout) so nothing is hidden.

Errors (all subclasses of :class:`lepton.errors.LeptonError`)::

    LeptonError
     └── DeviceError (errors.py)
          └── SpiDeviceError       device, reason, fix, os_errno  (DeviceError is an OSError)
               ├── SpiDeviceNotFoundError   no such node: SPI not enabled (a FileNotFoundError)
               ├── SpiPermissionError       EACCES/EPERM: not in group spi (a PermissionError)
               ├── NotASpiDeviceError       a directory, a regular file, ENOTTY
               └── SpiBufferSizeError       EMSGSIZE: transfer longer than bufsiz

Sources: Linux UAPI ``linux/spi/spidev.h`` and ``drivers/spi/spidev.c``;
FLIR Lepton Engineering Datasheet §4.2.1 (SPI mode 3, 20 MHz max), §4.2.2.3.1
(resync by idling > 185 ms); all collected in docs/vospi.md §2, §8, §10.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
from collections.abc import Callable
from typing import Any

from .devnode import DeviceKind, DeviceNode, device_error_from_oserror
from .errors import DeviceError, RangeError
from .vospi import PACKET_BYTES, RESYNC_PAUSE_S

__all__ = [
    "BUFSIZ_PATH",
    "DEFAULT_BUFSIZ",
    "DEFAULT_SPI_SPEED_HZ",
    "MAX_SPEED_HZ",
    "NotASpiDeviceError",
    "SPI_IOC_MAGIC",
    "SPI_IOC_RD_BITS_PER_WORD",
    "SPI_IOC_RD_LSB_FIRST",
    "SPI_IOC_RD_MAX_SPEED_HZ",
    "SPI_IOC_RD_MODE",
    "SPI_IOC_RD_MODE32",
    "SPI_IOC_TRANSFER_FORMAT",
    "SPI_IOC_TRANSFER_SIZE",
    "SPI_IOC_WR_BITS_PER_WORD",
    "SPI_IOC_WR_LSB_FIRST",
    "SPI_IOC_WR_MAX_SPEED_HZ",
    "SPI_IOC_WR_MODE",
    "SPI_IOC_WR_MODE32",
    "SPI_MODE_3",
    "SpiBufferSizeError",
    "SpiDeviceError",
    "SpiDeviceNotFoundError",
    "SpiPermissionError",
    "SpidevTransport",
    "pack_spi_ioc_transfer",
    "read_bufsiz",
    "spi_error_from_oserror",
    "spi_ioc_message",
]

# --- ioctl encoding (asm-generic/ioctl.h, used on x86, ARM and ARM64) -------
# request = dir << 30 | size << 16 | type << 8 | nr        (docs/vospi.md §10)
_IOC_NRBITS = 8
_IOC_TYPEBITS = 8
_IOC_SIZEBITS = 14
_IOC_NRSHIFT = 0
_IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS
_IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS
_IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS
_IOC_WRITE = 1
_IOC_READ = 2


def _ioc(direction: int, ioc_type: int, nr: int, size: int) -> int:
    if not 0 <= size < 1 << _IOC_SIZEBITS:
        raise ValueError(f"ioctl argument size {size} does not fit in {_IOC_SIZEBITS} bits")
    return (
        direction << _IOC_DIRSHIFT
        | size << _IOC_SIZESHIFT
        | ioc_type << _IOC_TYPESHIFT
        | nr << _IOC_NRSHIFT
    )


def _iow(ioc_type: int, nr: int, size: int) -> int:
    return _ioc(_IOC_WRITE, ioc_type, nr, size)


def _ior(ioc_type: int, nr: int, size: int) -> int:
    return _ioc(_IOC_READ, ioc_type, nr, size)


_U8 = struct.calcsize("=B")
_U32 = struct.calcsize("=I")

SPI_IOC_MAGIC = ord("k")  # 0x6B, linux/spi/spidev.h
SPI_IOC_RD_MODE = _ior(SPI_IOC_MAGIC, 1, _U8)  # 0x80016B01
SPI_IOC_WR_MODE = _iow(SPI_IOC_MAGIC, 1, _U8)  # 0x40016B01
SPI_IOC_RD_LSB_FIRST = _ior(SPI_IOC_MAGIC, 2, _U8)  # 0x80016B02
SPI_IOC_WR_LSB_FIRST = _iow(SPI_IOC_MAGIC, 2, _U8)  # 0x40016B02
SPI_IOC_RD_BITS_PER_WORD = _ior(SPI_IOC_MAGIC, 3, _U8)  # 0x80016B03
SPI_IOC_WR_BITS_PER_WORD = _iow(SPI_IOC_MAGIC, 3, _U8)  # 0x40016B03
SPI_IOC_RD_MAX_SPEED_HZ = _ior(SPI_IOC_MAGIC, 4, _U32)  # 0x80046B04
SPI_IOC_WR_MAX_SPEED_HZ = _iow(SPI_IOC_MAGIC, 4, _U32)  # 0x40046B04
SPI_IOC_RD_MODE32 = _ior(SPI_IOC_MAGIC, 5, _U32)  # 0x80046B05
SPI_IOC_WR_MODE32 = _iow(SPI_IOC_MAGIC, 5, _U32)  # 0x40046B05

# struct spi_ioc_transfer: tx_buf u64, rx_buf u64, len u32, speed_hz u32,
# delay_usecs u16, bits_per_word u8, cs_change u8, tx_nbits u8, rx_nbits u8,
# word_delay_usecs u8, pad u8 -- 32 bytes on 32- and 64-bit userspace (docs/vospi.md §10).
SPI_IOC_TRANSFER_FORMAT = "=QQIIHBBBBBB"
SPI_IOC_TRANSFER_SIZE = struct.calcsize(SPI_IOC_TRANSFER_FORMAT)  # 32
_SPI_IOC_MESSAGE_MAX = ((1 << _IOC_SIZEBITS) - 1) // SPI_IOC_TRANSFER_SIZE  # 511

# --- Lepton SPI settings -------------------------------------------------------
SPI_CPHA = 0x01
SPI_CPOL = 0x02
SPI_MODE_3 = SPI_CPOL | SPI_CPHA  # Lepton: CPOL=1, CPHA=1 (DS §4.2.1, §2)
BITS_PER_WORD = 8  # DS §4.2.1 (docs/vospi.md §2)
LSB_FIRST = 0  # MSB first (DS §4.2.1, §2)
MAX_SPEED_HZ = 20_000_000  # DS §4.2.1, Table 17 (docs/vospi.md §2)
DEFAULT_SPI_SPEED_HZ = (
    18_000_000  # pylepton's choice, margin below the maximum (docs/vospi.md §2, §11)
)

# spidev's transfer buffer (kernel spidev.c module parameter, docs/vospi.md §10).
DEFAULT_BUFSIZ = 4096
BUFSIZ_PATH = "/sys/module/spidev/parameters/bufsiz"

# --- errors ----------------------------------------------------------------------
ENABLE_SPI_FIX = (
    "Enable SPI with `sudo raspi-config` (Interface Options > SPI) or add "
    "`dtparam=spi=on` to /boot/firmware/config.txt, then reboot; check the name "
    "with `ls /dev/spidev*`"
)
NOT_SPI_FIX = "Give a spidev node such as /dev/spidev0.0 (see `ls /dev/spidev*`)"
BUFSIZ_FIX = (
    "Read at most max_read_bytes per transfer, or raise the limit with "
    "`spidev.bufsiz=65536` on the kernel command line (/boot/firmware/cmdline.txt) "
    "and reboot"
)


class SpiDeviceError(DeviceError):
    """A spidev device cannot be opened, configured or read (fields: see DeviceError)."""


class SpiDeviceNotFoundError(SpiDeviceError, FileNotFoundError):
    """The device node does not exist (SPI disabled or wrong name); also a FileNotFoundError."""


class SpiPermissionError(SpiDeviceError, PermissionError):
    """The user may not open the device node (not in group ``spi``); also a PermissionError."""


class NotASpiDeviceError(SpiDeviceError):
    """The path exists but is not a spidev node (directory, regular file, ENOTTY)."""


class SpiBufferSizeError(SpiDeviceError):
    """A transfer was longer than spidev's ``bufsiz`` (EMSGSIZE)."""


SPIDEV = DeviceKind(
    node="device",
    what="a SPI device",
    missing="no such device",
    enable_fix=ENABLE_SPI_FIX,
    group="spi",
    wrong_node_fix=NOT_SPI_FIX,
    error=SpiDeviceError,
    not_found_error=SpiDeviceNotFoundError,
    permission_error=SpiPermissionError,
    wrong_node_error=NotASpiDeviceError,
)


def spi_error_from_oserror(device: str, exc: OSError, operation: str) -> SpiDeviceError:
    """Translate an ``OSError`` from a spidev system call into an actionable error.

    Args:
        device: the device path, named in the message.
        exc: the error raised by ``os.open``, ``fcntl.ioctl`` or ``os.read``.
        operation: what was being done, e.g. ``"open"``, ``"ioctl SPI_IOC_WR_MODE"``
            or ``"read of 3936 bytes"``; named in the message when it helps.

    Returns:
        A :class:`SpiDeviceError` subclass chosen by ``exc.errno``: EMSGSIZE ->
        :class:`SpiBufferSizeError`; otherwise the shared ladder of
        :func:`lepton.devnode.device_error_from_oserror`: ENOENT ->
        :class:`SpiDeviceNotFoundError`; EACCES/EPERM -> :class:`SpiPermissionError`;
        EISDIR, ENOTTY -> :class:`NotASpiDeviceError`; anything else ->
        :class:`SpiDeviceError` with the system's error text.
    """
    if exc.errno == errno.EMSGSIZE:
        return SpiBufferSizeError(
            device, f"{operation} is longer than the spidev buffer (bufsiz)", BUFSIZ_FIX, exc.errno
        )
    return device_error_from_oserror(SPIDEV, device, exc, operation)


# --- spi_ioc_transfer -------------------------------------------------------------
def pack_spi_ioc_transfer(
    *,
    length: int,
    tx_buf: int = 0,
    rx_buf: int = 0,
    speed_hz: int = 0,
    delay_usecs: int = 0,
    bits_per_word: int = 0,
    cs_change: bool = False,
    tx_nbits: int = 0,
    rx_nbits: int = 0,
    word_delay_usecs: int = 0,
) -> bytes:
    """Pack one ``struct spi_ioc_transfer`` (32 bytes, native byte order).

    Args:
        length: bytes to transfer (``len``).
        tx_buf: user address of the bytes to send; 0 shifts out zeros.
        rx_buf: user address of a writable buffer of ``length`` bytes; the buffer
            must stay alive and unmoved until the ioctl returns.
        speed_hz: clock for this transfer; 0 = the device's max speed.
        delay_usecs: delay after the transfer before /CS changes, microseconds.
        bits_per_word: 0 = the device's setting.
        cs_change: de-assert /CS after this transfer, before the next one.
        tx_nbits, rx_nbits: 0 = single-wire SPI.
        word_delay_usecs: delay between words, microseconds.

    Returns:
        ``SPI_IOC_TRANSFER_SIZE`` (32) bytes; the last byte is padding (0).

    Raises:
        struct.error: a field is out of its unsigned range.

    Source: Linux UAPI ``linux/spi/spidev.h`` (docs/vospi.md §10).
    """
    return struct.pack(
        SPI_IOC_TRANSFER_FORMAT,
        tx_buf,
        rx_buf,
        length,
        speed_hz,
        delay_usecs,
        bits_per_word,
        int(cs_change),
        tx_nbits,
        rx_nbits,
        word_delay_usecs,
        0,
    )


def spi_ioc_message(n: int) -> int:
    """Return the ioctl request number ``SPI_IOC_MESSAGE(n)`` for ``n`` transfers.

    ``_IOW('k', 0, char[32 * n])``: e.g. n=1 -> 0x40206B00, n=24 -> 0x43006B00.

    Raises:
        ValueError: ``n`` is not 1..511 (the size field is 14 bits; the kernel
            macro encodes size 0 from n=512 on).

    Source: Linux UAPI ``linux/spi/spidev.h`` (docs/vospi.md §10).
    """
    if not 1 <= n <= _SPI_IOC_MESSAGE_MAX:
        raise ValueError(f"SPI_IOC_MESSAGE(n) needs 1 <= n <= {_SPI_IOC_MESSAGE_MAX}, got {n}")
    return _iow(SPI_IOC_MAGIC, 0, SPI_IOC_TRANSFER_SIZE * n)


def read_bufsiz(path: str = BUFSIZ_PATH) -> int:
    """Return spidev's transfer buffer size in bytes.

    Reads ``path`` (``/sys/module/spidev/parameters/bufsiz``); when the file is
    missing or unreadable (spidev built in without sysfs, or not Linux) returns
    the kernel default, :data:`DEFAULT_BUFSIZ` (4096). A readable value is used
    as is, smaller or larger, since it is the limit the kernel enforces.

    Source: kernel ``drivers/spi/spidev.c`` (docs/vospi.md §10).
    """
    try:
        with open(path, encoding="ascii") as f:
            value = int(f.read().strip())
    except (OSError, ValueError):
        return DEFAULT_BUFSIZ
    return value if value > 0 else DEFAULT_BUFSIZ


class SpidevTransport:
    """Read VoSPI packets from a Lepton through Linux spidev.

    Opening configures the device: ``SPI_IOC_WR_MODE`` 3, ``SPI_IOC_WR_LSB_FIRST``
    0 (MSB first), ``SPI_IOC_WR_BITS_PER_WORD`` 8, ``SPI_IOC_WR_MAX_SPEED_HZ``
    ``speed_hz`` (the order every C and Python client uses, docs/vospi.md §10).
    Each :meth:`read` is one ``read()`` system call of whole packets, no
    longer than :attr:`max_read_bytes`, so no transfer ends inside a packet and
    none exceeds spidev's ``bufsiz`` (docs/vospi.md §2, §10).

    Not thread-safe: one reader thread owns the transport. A call to
    :meth:`read` blocks for the transfer time (164 bytes take 65.6 us at
    20 MHz); :meth:`resync` blocks for 185 ms.

    Args:
        device: spidev node, ``/dev/spidevB.C`` (Pi: ``/dev/spidev0.0`` = CE0).
        speed_hz: SCK frequency, 1..20,000,000 Hz. The Lepton needs about
            2.1 MHz (Lepton 2) or 8.5 MHz (Lepton 3) to keep up; use 16-20 MHz (docs/vospi.md §2).
        bufsiz_path: where to read spidev's ``bufsiz`` (see :func:`read_bufsiz`).
        sleep: ``time.sleep`` or a test's fake; used only by :meth:`resync`.
        ioctl: ``fcntl.ioctl`` or a test's recorder, called as
            ``ioctl(fd, request, argument_bytes)``.

    Attributes:
        device, speed_hz, bufsiz: as configured.
        max_read_bytes: the largest whole-packet read that fits in ``bufsiz``
            (3936 = 24 packets for the default 4096).

    Raises:
        RangeError: ``speed_hz`` is not an integer in 1..20,000,000 (a ValueError).
        SpiDeviceNotFoundError: the node does not exist.
        SpiPermissionError: the user may not open it.
        NotASpiDeviceError: it is a directory or a file that rejects SPI ioctls.
        SpiBufferSizeError: ``bufsiz`` is smaller than one packet.
        SpiDeviceError: any other failure to open or configure it.
    """

    packet_bytes = PACKET_BYTES

    def __init__(
        self,
        device: str = "/dev/spidev0.0",
        speed_hz: int = DEFAULT_SPI_SPEED_HZ,
        *,
        bufsiz_path: str = BUFSIZ_PATH,
        sleep: Callable[[float], Any] = time.sleep,
        ioctl: Callable[[int, int, bytes], Any] = fcntl.ioctl,
    ):
        if isinstance(speed_hz, bool) or not isinstance(speed_hz, int):
            raise RangeError("speed_hz", speed_hz, "an integer number of Hz")
        if not 1 <= speed_hz <= MAX_SPEED_HZ:
            raise RangeError(
                "speed_hz", speed_hz, f"1..{MAX_SPEED_HZ} (the Lepton's maximum SCK is 20 MHz)"
            )
        self.device = device
        self.speed_hz = speed_hz
        self.bufsiz = read_bufsiz(bufsiz_path)
        self.max_read_bytes = self.bufsiz // self.packet_bytes * self.packet_bytes
        if self.max_read_bytes == 0:
            raise SpiBufferSizeError(
                device,
                f"spidev bufsiz is {self.bufsiz} bytes, "
                f"less than one {self.packet_bytes}-byte packet",
                BUFSIZ_FIX,
            )
        self._sleep = sleep
        self._ioctl = ioctl
        self._node = DeviceNode(
            device,
            SPIDEV,
            explain=lambda exc, operation: spi_error_from_oserror(device, exc, operation),
            setup=self._configure,
        )

    def _configure(self, node: DeviceNode[SpiDeviceError]) -> None:
        settings = (
            ("SPI_IOC_WR_MODE", SPI_IOC_WR_MODE, struct.pack("=B", SPI_MODE_3)),
            ("SPI_IOC_WR_LSB_FIRST", SPI_IOC_WR_LSB_FIRST, struct.pack("=B", LSB_FIRST)),
            (
                "SPI_IOC_WR_BITS_PER_WORD",
                SPI_IOC_WR_BITS_PER_WORD,
                struct.pack("=B", BITS_PER_WORD),
            ),
            ("SPI_IOC_WR_MAX_SPEED_HZ", SPI_IOC_WR_MAX_SPEED_HZ, struct.pack("=I", self.speed_hz)),
        )
        for name, request, argument in settings:
            node.call(f"ioctl {name}", self._ioctl, request, argument)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._node.closed

    def read(self, n_bytes: int) -> bytes:
        """Clock up to ``n_bytes`` of VoSPI packets out of the camera in one transfer.

        Args:
            n_bytes: at least one packet (164 bytes); rounded down to whole
                packets and capped at :attr:`max_read_bytes`, so a transfer
                never ends inside a packet (docs/vospi.md §2) nor exceeds
                ``bufsiz`` (docs/vospi.md §10).

        Returns:
            Whole 164-byte packets, at least one; ``b""`` after :meth:`close`
            or when a stand-in file or FIFO has ended (a SPI device never ends;
            a partial packet at the end of a stand-in is dropped). Blocks for
            the transfer: 3936 bytes take 1.6 ms at 20 MHz.

        Raises:
            RangeError: ``n_bytes`` is less than one packet.
            SpiBufferSizeError: the kernel refused the transfer as too long.
            SpiDeviceError: the read failed.
        """
        if n_bytes < self.packet_bytes:
            raise RangeError("n_bytes", n_bytes, f">= {self.packet_bytes} (one packet)")
        if self.closed:
            return b""
        want = min(n_bytes, self.max_read_bytes) // self.packet_bytes * self.packet_bytes
        data = b""
        # spidev returns the whole transfer at once; a stand-in FIFO may return
        # less, so gather until the packets are whole.
        while len(data) < want:
            chunk = self._node.call(f"read of {want} bytes", os.read, want - len(data))
            if not chunk:
                return data[: len(data) // self.packet_bytes * self.packet_bytes]
            data += chunk
        return data

    def resync(self) -> None:
        """Let VoSPI resynchronise: no transfers for ``RESYNC_PAUSE_S`` (185 ms).

        With no transfer in progress spidev leaves /CS de-asserted and SCK idle,
        which resets the Lepton's VoSPI interface; the next read starts with
        discard packets (DS §4.2.2.3.1, docs/vospi.md §8). Blocks for 185 ms.
        Whether /CS stays high while idle depends on the SPI controller driver
        (docs/vospi.md §8: our assumption); the Raspberry Pi's does.
        """
        self._sleep(RESYNC_PAUSE_S)

    def close(self) -> None:
        """Close the device. Idempotent."""
        self._node.close()

    def __enter__(self) -> SpidevTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"SpidevTransport({self.device!r}, speed_hz={self.speed_hz}, "
            f"max_read_bytes={self.max_read_bytes}, {state})"
        )
