"""The Lepton's Command and Control Interface (CCI): 16-bit registers over I2C.

Three layers, each usable on its own:

* a **bus** moves 16-bit words to and from 16-bit register addresses
  (:class:`CciBus` protocol): :class:`I2cBus` on Linux ``/dev/i2c-N``, or
  :class:`SimulatedCciDevice`, a register model of the camera that executes the
  commands this product uses;
* :func:`command_word` builds command words (module, index, GET/SET/RUN, OEM bit);
* :class:`Cci` runs the GET/SET/RUN register sequences, waits on BUSY with a
  timeout, checks the response code and offers typed methods (FPA temperature,
  FFC, telemetry, TLinear, gain mode, AGC, part number, reboot).

Register map (Lepton Software IDD §2.1, Fig. 1; specs/vospi.md §11.2)::

    0x0002  status: bit 0 BUSY, bit 1 boot mode, bit 2 boot status,
            bits 15-8 response code (signed int8, 0 = OK)
    0x0004  command (writing it starts the command)
    0x0006  data length, in 16-bit words
    0x0008  DATA0 ... 0x0026 DATA15  (DATAk = 0x0008 + 2k)
    0xF800  block data buffer 0, used when more than 16 words move

Errors (all subclasses of :class:`lepton.errors.LeptonError`)::

    LeptonError
     └── CciError
          ├── CciBusError        device, reason, fix   (also a DeviceError: no bus, no permission, no answer)
          ├── CciTimeoutError    command, timeout_s    (BUSY never cleared)
          └── CciCommandError    command, code, name   (non-zero response code)
"""

from __future__ import annotations

import enum
import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .errors import DeviceError, LeptonError, RangeError, ResolutionError, ShapeError
from .radiometry import PixelUnit
from .vospi import Model, TelemetryLocation

__all__ = [
    "AGC_ENABLE",
    "BLOCK_BUFFER_0",
    "CCI_ADDRESS",
    "Cci",
    "CciAccess",
    "CciBus",
    "CciBusError",
    "CciCommand",
    "CciCommandError",
    "CciError",
    "CciModule",
    "CciResponse",
    "CciTimeoutError",
    "CommandKind",
    "FfcStatus",
    "GainMode",
    "I2C_SLAVE",
    "I2cBus",
    "LeptonPart",
    "MODEL_NAMES",
    "OEM_PART_NUMBER",
    "OEM_REBOOT",
    "PART_NUMBERS",
    "RAD_TLINEAR_ENABLE",
    "RAD_TLINEAR_RESOLUTION",
    "REG_COMMAND",
    "REG_DATA0",
    "REG_DATA_LENGTH",
    "REG_STATUS",
    "SYS_AUX_TEMPERATURE",
    "SYS_FFC",
    "SYS_FFC_STATUS",
    "SYS_FPA_TEMPERATURE",
    "SYS_GAIN_MODE",
    "SYS_PING",
    "SYS_SERIAL_NUMBER",
    "SYS_TELEMETRY_ENABLE",
    "SYS_TELEMETRY_LOCATION",
    "SYS_UPTIME",
    "SimulatedCciDevice",
    "command_word",
    "data_register",
    "decode_words",
    "describe_command",
    "encode_register_address",
    "encode_register_write",
    "i2c_error_from_oserror",
    "lepton_part",
]

# --- registers (IDD §2.1.2, Fig. 1; specs/vospi.md §11.1-11.2) ---------------
CCI_ADDRESS = 0x2A  # 7-bit I2C address
REG_POWER = 0x0000
REG_STATUS = 0x0002
REG_COMMAND = 0x0004
REG_DATA_LENGTH = 0x0006
REG_DATA0 = 0x0008
DATA_REGISTERS = 16  # DATA0..DATA15
BLOCK_BUFFER_0 = 0xF800
BLOCK_BUFFER_WORDS = 512  # 0xF800-0xFBFF
WORD_BYTES = 2  # registers and data are 16-bit, big-endian on the wire

STATUS_BUSY = 0x0001
STATUS_BOOT_MODE = 0x0002  # 1 = normal
STATUS_BOOT_STATUS = 0x0004  # 1 = booted
STATUS_RESPONSE_SHIFT = 8  # bits 15-8: response code, signed int8

# Linux i2c-dev (linux/i2c-dev.h)
I2C_SLAVE = 0x0703


# --- command words (IDD §2.1.3, §4.2-4.3, Fig. 10; specs/vospi.md §11.3) ------
class CciModule(enum.IntEnum):
    """CCI module IDs, bits 11-8 of a command word."""

    AGC = 0x1
    SYS = 0x2
    VID = 0x3
    OEM = 0x8
    RAD = 0xE


class CommandKind(enum.IntEnum):
    """Command type, bits 1-0 of a command word."""

    GET = 0
    SET = 1
    RUN = 2


OEM_BIT = 0x4000  # bit 14, the "protection" bit set for OEM and RAD commands
_OEM_BIT_MODULES = (CciModule.OEM, CciModule.RAD)
_MAX_COMMAND_INDEX = 0x3F  # bits 7-2


def command_word(module: CciModule, index: int, kind: CommandKind) -> int:
    """Return the 16-bit CCI command word.

    ``module << 8 | index << 2 | kind``, plus ``0x4000`` for OEM and RAD.
    Worked examples (IDD §2.1.3, specs/vospi.md §11.3): SYS (2), index 0x10,
    RUN -> 0x0242 (run FFC); OEM, 0x10, RUN -> 0x4842 (reboot); RAD, 0x30,
    SET -> 0x4EC1 (TLinear enable).

    Args:
        module: the module.
        index: command index 0..63 (the "command base" divided by 4).
        kind: GET, SET or RUN.

    Raises:
        RangeError: ``index`` is outside 0..63.
    """
    if not 0 <= index <= _MAX_COMMAND_INDEX:
        raise RangeError("CCI command index", index, f"0..{_MAX_COMMAND_INDEX}")
    module = CciModule(module)
    word = module << 8 | index << 2 | CommandKind(kind)
    if module in _OEM_BIT_MODULES:
        word |= OEM_BIT
    return word


class CciCommand(NamedTuple):
    """A CCI command: module, index, a name for messages, data words for GET/SET."""

    module: CciModule
    index: int
    name: str
    n_words: int

    def word(self, kind: CommandKind) -> int:
        """The command word for ``kind`` (see :func:`command_word`)."""
        return command_word(self.module, self.index, kind)


# The commands this product uses (IDD rev 303 §4.4-4.8; specs/vospi.md §11.5).
SYS_PING = CciCommand(CciModule.SYS, 0x00, "SYS ping", 0)  # RUN 0x0202
SYS_SERIAL_NUMBER = CciCommand(CciModule.SYS, 0x02, "SYS FLIR serial number", 4)  # GET 0x0208
SYS_UPTIME = CciCommand(CciModule.SYS, 0x03, "SYS uptime", 2)  # GET 0x020C
SYS_AUX_TEMPERATURE = CciCommand(CciModule.SYS, 0x04, "SYS AUX temperature", 1)  # GET 0x0210
SYS_FPA_TEMPERATURE = CciCommand(CciModule.SYS, 0x05, "SYS FPA temperature", 1)  # GET 0x0214
SYS_TELEMETRY_ENABLE = CciCommand(CciModule.SYS, 0x06, "SYS telemetry enable", 2)  # 0x0218/9
SYS_TELEMETRY_LOCATION = CciCommand(CciModule.SYS, 0x07, "SYS telemetry location", 2)  # 0x021C/D
SYS_FFC = CciCommand(CciModule.SYS, 0x10, "SYS FFC", 0)  # RUN 0x0242
SYS_FFC_STATUS = CciCommand(CciModule.SYS, 0x11, "SYS FFC status", 2)  # GET 0x0244
SYS_GAIN_MODE = CciCommand(CciModule.SYS, 0x12, "SYS gain mode", 2)  # 0x0248/9
AGC_ENABLE = CciCommand(CciModule.AGC, 0x00, "AGC enable", 2)  # 0x0100/1
OEM_PART_NUMBER = CciCommand(CciModule.OEM, 0x07, "OEM part number", 16)  # GET 0x481C
OEM_REBOOT = CciCommand(CciModule.OEM, 0x10, "OEM reboot", 0)  # RUN 0x4842
RAD_TLINEAR_ENABLE = CciCommand(CciModule.RAD, 0x30, "RAD TLinear enable", 2)  # 0x4EC0/1
RAD_TLINEAR_RESOLUTION = CciCommand(CciModule.RAD, 0x31, "RAD TLinear resolution", 2)  # 0x4EC4/5

_COMMANDS = (
    SYS_PING,
    SYS_SERIAL_NUMBER,
    SYS_UPTIME,
    SYS_AUX_TEMPERATURE,
    SYS_FPA_TEMPERATURE,
    SYS_TELEMETRY_ENABLE,
    SYS_TELEMETRY_LOCATION,
    SYS_FFC,
    SYS_FFC_STATUS,
    SYS_GAIN_MODE,
    AGC_ENABLE,
    OEM_PART_NUMBER,
    OEM_REBOOT,
    RAD_TLINEAR_ENABLE,
    RAD_TLINEAR_RESOLUTION,
)
_COMMAND_NAMES = {c.word(CommandKind.GET): c.name for c in _COMMANDS}
_KIND_MASK = 0x0003


def describe_command(word: int) -> str:
    """Return ``"0x0242 (SYS FFC RUN)"`` for a known command word, ``"0x1234"`` otherwise."""
    name = _COMMAND_NAMES.get(word & ~_KIND_MASK)
    kind = CommandKind(word & _KIND_MASK).name if word & _KIND_MASK != 3 else "?"
    return f"0x{word:04X} ({name} {kind})" if name else f"0x{word:04X}"


# --- response codes (IDD §2.3 Fig. 12; SDK LEPTON_ErrorCodes.h; specs/vospi.md §11.2)
class CciResponse(enum.IntEnum):
    """Response codes in status bits 15-8 (signed)."""

    OK = 0
    ERROR = -1
    NOT_READY = -2
    RANGE_ERROR = -3
    CHECKSUM_ERROR = -4
    BAD_ARG_POINTER_ERROR = -5
    DATA_SIZE_ERROR = -6
    UNDEFINED_FUNCTION_ERROR = -7
    FUNCTION_NOT_SUPPORTED = -8
    DATA_OUT_OF_RANGE_ERROR = -9
    COMMAND_NOT_ALLOWED = -11


_RESPONSE_NAMES = {
    CciResponse.ERROR: "error",
    CciResponse.NOT_READY: "not ready",
    CciResponse.RANGE_ERROR: "range error",
    CciResponse.CHECKSUM_ERROR: "checksum error",
    CciResponse.BAD_ARG_POINTER_ERROR: "bad argument pointer",
    CciResponse.DATA_SIZE_ERROR: "data size error",
    CciResponse.UNDEFINED_FUNCTION_ERROR: "undefined function",
    CciResponse.FUNCTION_NOT_SUPPORTED: "function not supported",
    CciResponse.DATA_OUT_OF_RANGE_ERROR: "data out of range",
    CciResponse.COMMAND_NOT_ALLOWED: "command not allowed",
}


def response_name(code: int) -> str:
    """Return the name of a response code from IDD §2.3, or ``"unknown response code"``."""
    try:
        return _RESPONSE_NAMES[CciResponse(code)]
    except (ValueError, KeyError):
        return "unknown response code"


# --- errors ---------------------------------------------------------------------
class CciError(LeptonError):
    """Base class of CCI (I2C control) errors."""


class CciBusError(CciError, DeviceError):
    """The I2C bus cannot be opened or the camera does not answer on it (fields: see DeviceError)."""


class CciTimeoutError(CciError):
    """The camera kept BUSY set in the status register for ``timeout_s``.

    Attributes:
        command: the command word being issued.
        timeout_s: how long we waited, seconds.
    """

    def __init__(self, command: int, timeout_s: float):
        self.command = command
        self.timeout_s = timeout_s
        super().__init__(
            f"CCI command {describe_command(command)} timed out: "
            f"the camera kept BUSY set for {timeout_s:g} s"
        )


class CciCommandError(CciError):
    """The camera answered a command with a non-zero response code.

    Attributes:
        command: the command word.
        code: the response code (negative).
        name: the code's name from IDD §2.3, e.g. ``"undefined function"``.
    """

    def __init__(self, command: int, code: int, name: str):
        self.command = command
        self.code = code
        self.name = name
        super().__init__(
            f"CCI command {describe_command(command)} failed: response code {code} ({name})"
        )


# --- bus protocol and the wire encoding ----------------------------------------------
@runtime_checkable
class CciBus(Protocol):
    """Moves 16-bit words to and from CCI registers (addresses auto-increment by 2)."""

    def read_words(self, register: int, count: int) -> list[int]:
        """Read ``count`` words starting at ``register``."""
        ...

    def write_words(self, register: int, words: Sequence[int]) -> None:
        """Write ``words`` to ``register``, ``register + 2``, ..."""
        ...


def data_register(n_words: int) -> int:
    """Where ``n_words`` of command data live: DATA0 (<= 16 words) or block buffer 0xF800.

    Raises:
        RangeError: more words than the block buffer holds (512).
    """
    if not 0 <= n_words <= BLOCK_BUFFER_WORDS:
        raise RangeError("CCI data length", n_words, f"0..{BLOCK_BUFFER_WORDS} words")
    return REG_DATA0 if n_words <= DATA_REGISTERS else BLOCK_BUFFER_0


def encode_register_address(register: int) -> bytes:
    """The 2 bytes (big-endian) that select ``register`` before a read (IDD §2.1.2)."""
    return register.to_bytes(WORD_BYTES, "big")


def encode_register_write(register: int, words: Sequence[int]) -> bytes:
    """The bytes of one I2C write: register address, then each word, all big-endian.

    Example (specs/vospi.md §11.4): ``encode_register_write(0x0004, [0x0242])`` ->
    ``00 04 02 42``.
    """
    return encode_register_address(register) + b"".join(
        w.to_bytes(WORD_BYTES, "big") for w in words
    )


def decode_words(data: bytes) -> list[int]:
    """Split big-endian bytes into 16-bit words."""
    return [
        int.from_bytes(data[i : i + WORD_BYTES], "big") for i in range(0, len(data), WORD_BYTES)
    ]


ENABLE_I2C_FIX = (
    "Enable I2C with `sudo raspi-config` (Interface Options > I2C) or add "
    "`dtparam=i2c_arm=on` to /boot/firmware/config.txt, then reboot"
)
I2C_GROUP_FIX = (
    "Add your user to the i2c group with `sudo usermod -aG i2c $USER`, "
    "then log out and in again"
)


def i2c_error_from_oserror(device: str, address: int, exc: OSError, operation: str) -> CciBusError:
    """Translate an ``OSError`` from an i2c-dev system call into an actionable error.

    Args:
        device: the bus device, named in the message.
        address: the 7-bit device address in use.
        exc: the error from ``os.open``, ``fcntl.ioctl``, ``os.write`` or ``os.read``.
        operation: what was being done, e.g. ``"open"`` or ``"write of register 0x0004"``.

    Returns:
        A :class:`CciBusError` whose ``fix`` says what to do: ENOENT -> enable
        I2C; EACCES/EPERM -> join group ``i2c``; ENXIO/EREMOTEIO/EIO (no
        acknowledge) -> check power and wiring; ENOTTY/EISDIR -> not an I2C bus.
    """
    code = exc.errno
    text = os.strerror(code) if code is not None else str(exc)
    if code == errno.ENOENT:
        return CciBusError(device, "no such I2C bus", ENABLE_I2C_FIX, code)
    if code in (errno.EACCES, errno.EPERM):
        return CciBusError(device, f"{operation}: permission denied", I2C_GROUP_FIX, code)
    if code in (errno.ENOTTY, errno.EISDIR):
        return CciBusError(device, f"not an I2C bus ({operation} failed: {text})", "", code)
    if code in (errno.ENXIO, errno.EREMOTEIO, errno.EIO):
        return CciBusError(
            device,
            f"no answer from the Lepton at address 0x{address:02X} ({operation}: {text})",
            "Check the camera's power and its SDA/SCL wiring; "
            f"`i2cdetect -y {device.rsplit('-', 1)[-1]}` should show {address:02x}",
            code,
        )
    return CciBusError(device, f"{operation} failed: {text}", "", code)


class I2cBus:
    """CCI over Linux i2c-dev: ``ioctl(I2C_SLAVE)``, then plain ``write()``/``read()``.

    A register write is one I2C write of the address and the words; a register
    read is a write of the address followed by a separate read of ``2 * count``
    bytes, which IDD §2.1.2.1 allows (specs/vospi.md §11.1). Only the standard
    library is used: one ioctl and two system calls do not earn a dependency
    such as ``smbus2``, whose SMBus block transfers (32 bytes, 8-bit commands)
    do not fit 16-bit registers anyway.

    Not thread-safe on its own; :class:`Cci` serialises its use.

    Args:
        bus: I2C bus number (``/dev/i2c-1`` on a Raspberry Pi's GPIO header).
        address: 7-bit device address, 0x2A for the Lepton.
        device: override the device path (default ``/dev/i2c-{bus}``).
        ioctl: ``fcntl.ioctl`` or a test's recorder.

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
        self._fd: int | None = None
        try:
            self._fd = os.open(self.device, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise i2c_error_from_oserror(self.device, self.address, exc, "open") from exc
        try:
            ioctl(self._fd, I2C_SLAVE, address)
        except OSError as exc:
            self.close()
            operation = f"ioctl I2C_SLAVE 0x{address:02X}"
            raise i2c_error_from_oserror(self.device, address, exc, operation) from exc

    def _fd_or_raise(self) -> int:
        if self._fd is None:
            raise CciBusError(self.device, "the bus is closed")
        return self._fd

    def read_words(self, register: int, count: int) -> list[int]:
        """Read ``count`` 16-bit words starting at ``register``.

        Raises:
            CciBusError: the camera does not acknowledge, or a short read.
        """
        fd = self._fd_or_raise()
        try:
            os.write(fd, encode_register_address(register))
            data = os.read(fd, count * WORD_BYTES)
        except OSError as exc:
            operation = f"read of register 0x{register:04X}"
            raise i2c_error_from_oserror(self.device, self.address, exc, operation) from exc
        if len(data) != count * WORD_BYTES:
            raise CciBusError(
                self.device,
                f"short read of register 0x{register:04X}: "
                f"{len(data)} of {count * WORD_BYTES} bytes",
            )
        return decode_words(data)

    def write_words(self, register: int, words: Sequence[int]) -> None:
        """Write 16-bit ``words`` starting at ``register`` in one I2C transaction.

        Raises:
            CciBusError: the camera does not acknowledge, or a short write.
        """
        fd = self._fd_or_raise()
        data = encode_register_write(register, words)
        try:
            written = os.write(fd, data)
        except OSError as exc:
            operation = f"write of register 0x{register:04X}"
            raise i2c_error_from_oserror(self.device, self.address, exc, operation) from exc
        if written != len(data):
            raise CciBusError(
                self.device,
                f"short write of register 0x{register:04X}: {written} of {len(data)} bytes",
            )

    def close(self) -> None:
        """Close the bus. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> I2cBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- values -------------------------------------------------------------------------
class FfcStatus(enum.IntEnum):
    """SYS FFC status (GET 0x0244; IDD §4.5.18); not the telemetry FFC state."""

    WRITE_ERROR = -2
    ERROR = -1
    READY = 0
    BUSY = 1
    COLLECTING_FRAMES = 2


class GainMode(enum.IntEnum):
    """SYS gain mode (0x0248/0x0249; IDD §4.5.19), radiometric parts only."""

    HIGH = 0
    LOW = 1
    AUTO = 2


_TELEMETRY_LOCATION_CODES = {TelemetryLocation.HEADER: 0, TelemetryLocation.FOOTER: 1}
_TLINEAR_RESOLUTION_CODES = {0.1: 0, 0.01: 1}  # RAD TLinear resolution (IDD §4.8.10)


@dataclass(frozen=True)
class LeptonPart:
    """What a FLIR part number says about the camera (Engineering Datasheet §1).

    Attributes:
        part_number: e.g. ``"500-0771-01"``.
        name: e.g. ``"Lepton 3.5"``.
        model: :class:`lepton.vospi.Model`, which fixes the frame shape.
        radiometric: True when TLinear (centikelvin pixels) is available.
    """

    part_number: str
    name: str
    model: Model
    radiometric: bool


PART_NUMBERS = {
    p.part_number: p
    for p in (
        LeptonPart("500-0659-01", "Lepton 2.0", Model.LEPTON2, False),
        LeptonPart("500-0763-01", "Lepton 2.5", Model.LEPTON2, True),
        LeptonPart("500-0726-01", "Lepton 3.0", Model.LEPTON3, False),
        LeptonPart("500-0771-01", "Lepton 3.5", Model.LEPTON3, True),
    )
}
_PART_NUMBER_LENGTH = len("500-0771-01")
# How to name a model when only the VoSPI stream (not the part number) is known.
MODEL_NAMES = {Model.LEPTON2: "Lepton 2.x", Model.LEPTON3: "Lepton 3.x"}


def lepton_part(part_number: str) -> LeptonPart | None:
    """Look up a part number (its first 11 characters) in :data:`PART_NUMBERS`; None if unknown."""
    return PART_NUMBERS.get(part_number.strip()[:_PART_NUMBER_LENGTH])


def _words_to_u32(words: Sequence[int]) -> int:
    """Two words, least-significant first (IDD §2.1.8.1, §4.1)."""
    return words[0] | words[1] << 16


def _signed32(value: int) -> int:
    return value - (1 << 32) if value & 0x8000_0000 else value


def _u32_to_words(value: int) -> list[int]:
    value &= 0xFFFF_FFFF
    return [value & 0xFFFF, value >> 16]


def _part_number_from_words(words: Sequence[int]) -> str:
    """Decode the 32-byte part-number string, accepting either byte order (§11.5)."""
    candidates = []
    for order in ("big", "little"):
        raw = b"".join(w.to_bytes(WORD_BYTES, order) for w in words)
        text = raw.split(b"\0", 1)[0].decode("ascii", errors="replace").strip()
        if "500-" in text:
            return text[text.index("500-") :]
        candidates.append(text)
    return candidates[0]


# --- high level -------------------------------------------------------------------------
class Cci:
    """Run CCI commands on a Lepton: GET/SET/RUN sequences and typed helpers.

    Sequences follow IDD §2.1 Figs. 2-4 (specs/vospi.md §11.4): wait until
    BUSY (status bit 0) is clear; for SET write the data words to DATA0.. (or
    block buffer 0xF800 beyond 16 words); write the data length; write the
    command word; wait until BUSY is clear; check the response code (status
    bits 15-8, signed); for GET read the data words. 32-bit values and enums
    are two words, DATA0 = low 16 bits, DATA1 = high (IDD §2.1.8.1).

    Thread-safe: one command sequence at a time (a lock). A call blocks while
    the camera is BUSY, at most ``timeout_s`` per wait.

    Args:
        bus: an :class:`I2cBus`, a :class:`SimulatedCciDevice` or any
            :class:`CciBus`.
        timeout_s: longest wait for BUSY to clear, seconds.
        poll_interval_s: pause between status reads, seconds.
        clock: monotonic clock in seconds (``time.monotonic``) or a test's.
        sleep: ``time.sleep`` or a test's.
    """

    def __init__(
        self,
        bus: CciBus,
        *,
        timeout_s: float = 5.0,
        poll_interval_s: float = 0.001,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ):
        self.bus = bus
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()

    # -- sequences
    def _wait_not_busy(self, command: int) -> int:
        deadline = self._clock() + self.timeout_s
        while True:
            (status,) = self.bus.read_words(REG_STATUS, 1)
            if not status & STATUS_BUSY:
                return status
            if self._clock() >= deadline:
                raise CciTimeoutError(command, self.timeout_s)
            self._sleep(self.poll_interval_s)

    def _finish(self, command: int) -> None:
        status = self._wait_not_busy(command)
        code = status >> STATUS_RESPONSE_SHIFT
        if code & 0x80:
            code -= 0x100
        if code != CciResponse.OK:
            raise CciCommandError(command, code, response_name(code))

    def get(self, command: CciCommand) -> list[int]:
        """GET ``command.n_words`` words.

        Raises:
            CciTimeoutError: BUSY stayed set for ``timeout_s``.
            CciCommandError: the camera answered with a non-zero code.
            CciBusError: the I2C transfer failed.
        """
        word = command.word(CommandKind.GET)
        with self._lock:
            self._wait_not_busy(word)
            self.bus.write_words(REG_DATA_LENGTH, [command.n_words])
            self.bus.write_words(REG_COMMAND, [word])
            self._finish(word)
            return self.bus.read_words(data_register(command.n_words), command.n_words)

    def set(self, command: CciCommand, words: Sequence[int]) -> None:
        """SET ``words`` (exactly ``command.n_words`` of them).

        Raises:
            ShapeError: not ``command.n_words`` words.
            CciTimeoutError, CciCommandError, CciBusError: as :meth:`get`.
        """
        if len(words) != command.n_words:
            raise ShapeError(
                f"{command.name} data", f"{command.n_words} words", f"{len(words)} words"
            )
        word = command.word(CommandKind.SET)
        with self._lock:
            self._wait_not_busy(word)
            self.bus.write_words(data_register(len(words)), list(words))
            self.bus.write_words(REG_DATA_LENGTH, [len(words)])
            self.bus.write_words(REG_COMMAND, [word])
            self._finish(word)

    def run(self, command: CciCommand, *, wait: bool = True) -> None:
        """RUN ``command`` (no data).

        Args:
            wait: wait for BUSY to clear and check the response; False only for
                a command after which the camera stops answering (reboot).

        Raises:
            CciTimeoutError, CciCommandError, CciBusError: as :meth:`get`.
        """
        word = command.word(CommandKind.RUN)
        with self._lock:
            self._wait_not_busy(word)
            self.bus.write_words(REG_DATA_LENGTH, [0])
            self.bus.write_words(REG_COMMAND, [word])
            if wait:
                self._finish(word)

    def _get_u32(self, command: CciCommand) -> int:
        return _words_to_u32(self.get(command))

    def _set_u32(self, command: CciCommand, value: int) -> None:
        self.set(command, _u32_to_words(value))

    # -- SYS
    def ping(self) -> None:
        """Check the camera answers: RUN SYS ping (0x0202). Raises like :meth:`get`."""
        self.run(SYS_PING)

    def run_ffc(self) -> None:
        """Start a flat-field correction: RUN 0x0242. Video freezes ~23 frames (< 1 s, DS §3.2)."""
        self.run(SYS_FFC)

    def ffc_state(self) -> FfcStatus:
        """SYS FFC status (GET 0x0244): READY once an FFC has finished."""
        return FfcStatus(_signed32(self._get_u32(SYS_FFC_STATUS)))

    def fpa_temp_ck(self) -> int:
        """Focal-plane-array temperature, centikelvin (GET 0x0214, IDD §4.5.6)."""
        return self.get(SYS_FPA_TEMPERATURE)[0]

    def housing_temp_ck(self) -> int:
        """AUX (housing) temperature, centikelvin (GET 0x0210, IDD §4.5.5)."""
        return self.get(SYS_AUX_TEMPERATURE)[0]

    def uptime_ms(self) -> int:
        """Milliseconds since the camera booted, u32 (GET 0x020C, IDD §4.5.4)."""
        return self._get_u32(SYS_UPTIME)

    def serial_number(self) -> int:
        """FLIR serial number, u64 (GET 0x0208, four words least-significant first)."""
        words = self.get(SYS_SERIAL_NUMBER)
        return sum(w << (16 * i) for i, w in enumerate(words))

    def set_telemetry(
        self, enabled: bool, location: TelemetryLocation = TelemetryLocation.FOOTER
    ) -> None:
        """Enable or disable telemetry rows and choose where they go.

        Sets the location (SET 0x021D: 0 header, 1 footer) when enabling, then
        the enable flag (SET 0x0219). Resync VoSPI afterwards: the packets per
        frame/segment change (IDD §4.5.7-8, DS §3.7; specs/vospi.md §7.1).

        Raises:
            RangeError: ``enabled`` with ``location`` OFF.
        """
        if enabled:
            if location not in _TELEMETRY_LOCATION_CODES:
                raise RangeError("telemetry location", location, "HEADER or FOOTER")
            self._set_u32(SYS_TELEMETRY_LOCATION, _TELEMETRY_LOCATION_CODES[location])
        self._set_u32(SYS_TELEMETRY_ENABLE, int(bool(enabled)))

    def telemetry_enabled(self) -> bool:
        """SYS telemetry enable (GET 0x0218)."""
        return self._get_u32(SYS_TELEMETRY_ENABLE) == 1

    def telemetry_location(self) -> TelemetryLocation:
        """SYS telemetry location (GET 0x021C), HEADER or FOOTER even when disabled."""
        code = self._get_u32(SYS_TELEMETRY_LOCATION)
        return {v: k for k, v in _TELEMETRY_LOCATION_CODES.items()}[code]

    def telemetry(self) -> TelemetryLocation:
        """Where telemetry rows are now: OFF, HEADER or FOOTER."""
        if not self.telemetry_enabled():
            return TelemetryLocation.OFF
        return self.telemetry_location()

    def gain_mode(self) -> GainMode:
        """SYS gain mode (GET 0x0248), radiometric parts only."""
        return GainMode(self._get_u32(SYS_GAIN_MODE))

    def set_gain_mode(self, mode: GainMode) -> None:
        """SYS gain mode (SET 0x0249): HIGH -10..140 C, LOW up to 400/450 C, AUTO (DS §3.3)."""
        self._set_u32(SYS_GAIN_MODE, GainMode(mode))

    # -- AGC
    def agc_enabled(self) -> bool:
        """AGC enable (GET 0x0100). With AGC on, pixels are 8-bit, not temperatures."""
        return self._get_u32(AGC_ENABLE) == 1

    def set_agc_enabled(self, enabled: bool) -> None:
        """AGC enable (SET 0x0101). Resync VoSPI afterwards (DS §3.7)."""
        self._set_u32(AGC_ENABLE, int(bool(enabled)))

    # -- RAD
    def set_tlinear(self, enabled: bool, resolution_k: float = 0.01) -> None:
        """Set TLinear output: pixels in kelvin x 100 (0.01) or x 10 (0.1).

        Writes RAD TLinear resolution (SET 0x4EC5: 0 = 0.1 K, 1 = 0.01 K) when
        enabling, then RAD TLinear enable (SET 0x4EC1) (IDD §4.8.9-10).

        Raises:
            ResolutionError: ``resolution_k`` is not 0.01 or 0.1.
            CciCommandError: a non-radiometric part (Lepton 2.0/3.0) refuses it.
        """
        if resolution_k not in _TLINEAR_RESOLUTION_CODES:
            raise ResolutionError(resolution_k)
        if enabled:
            self._set_u32(RAD_TLINEAR_RESOLUTION, _TLINEAR_RESOLUTION_CODES[resolution_k])
        self._set_u32(RAD_TLINEAR_ENABLE, int(bool(enabled)))

    def tlinear_enabled(self) -> bool:
        """RAD TLinear enable (GET 0x4EC0). Fails on non-radiometric parts."""
        return self._get_u32(RAD_TLINEAR_ENABLE) == 1

    def tlinear_resolution_k(self) -> float:
        """RAD TLinear resolution (GET 0x4EC4): 0.01 or 0.1 kelvin per count."""
        code = self._get_u32(RAD_TLINEAR_RESOLUTION)
        return {v: k for k, v in _TLINEAR_RESOLUTION_CODES.items()}[code]

    def pixel_unit(self) -> PixelUnit:
        """What pixel values mean now, from AGC and TLinear settings (specs/vospi.md §9).

        AGC on -> COUNTS (8-bit); TLinear on -> CENTIKELVIN or DECIKELVIN by
        resolution; TLinear off or refused (Lepton 2.0/3.0) -> COUNTS.
        """
        if self.agc_enabled():
            return PixelUnit.COUNTS
        try:
            if not self.tlinear_enabled():
                return PixelUnit.COUNTS
        except CciCommandError:
            return PixelUnit.COUNTS
        if self.tlinear_resolution_k() == 0.01:
            return PixelUnit.CENTIKELVIN
        return PixelUnit.DECIKELVIN

    # -- OEM
    def part_number(self) -> str:
        """FLIR part number, e.g. ``"500-0771-01"`` (GET 0x481C, 16 words = 32 bytes).

        Sources disagree on the byte order within words (specs/vospi.md §11.5),
        so both are tried and the one containing ``"500-"`` wins.
        """
        return _part_number_from_words(self.get(OEM_PART_NUMBER))

    def model(self) -> LeptonPart | None:
        """The camera model from its part number (DS §1), or None for an unknown part."""
        return lepton_part(self.part_number())

    def oem_reboot(self) -> None:
        """Reboot the camera (RUN 0x4842) without waiting for an answer.

        The camera stops answering while it boots: wait at least 0.95 s (5 s
        with a shutter, for the start-up FFC) before the next CCI command, and
        resync VoSPI (IDD §2.1.1, specs/vospi.md §8, §11.1).
        """
        self.run(OEM_REBOOT, wait=False)


# --- simulated device -------------------------------------------------------------------
class CciAccess(NamedTuple):
    """A register access seen by :class:`SimulatedCciDevice`: op "read" or "write"."""

    op: str
    register: int
    words: tuple[int, ...]


_READY = STATUS_BOOT_MODE | STATUS_BOOT_STATUS  # 0x0006


class SimulatedCciDevice:
    """A Lepton's CCI registers, executing the commands this product uses.

    Implements :class:`CciBus`. Writing the command register executes the
    command against simulated state with the data length and DATA registers
    as written, sets BUSY for :attr:`busy_reads` status reads, then reports the
    response code in status bits 15-8 (IDD §2.1; specs/vospi.md §11.2, §11.4).
    A GET or SET with the wrong data length answers DATA_SIZE_ERROR (-6), an
    out-of-range value RANGE_ERROR (-3), an unknown command or a RAD / gain
    command on a non-radiometric part UNDEFINED_FUNCTION_ERROR (-7; the code a
    real Lepton 3.0 returns is unconfirmed). Every access is appended to
    :attr:`accesses`.

    Not thread-safe; use it through :class:`Cci`, which serialises.

    Args:
        part_number: FLIR part number; decides the radiometric commands (DS §1).
        part_number_byte_order: ``"big"`` (bytes in wire order) or ``"little"``
            (low byte of each word first), the two readings of §11.5.
        busy_reads: status reads that show BUSY after each command.
        fpa_temp_ck, housing_temp_ck: temperatures reported, centikelvin.
        uptime_ms: uptime reported, ms.
        serial_number: u64 reported by SYS FLIR serial number.
        ffc_busy_reads: FFC status GETs that answer BUSY after RUN FFC.

    Test knobs (attributes): :attr:`busy_forever`, :meth:`fail_next_with`,
    :attr:`busy_reads`; state attributes ``telemetry_enabled``,
    ``telemetry_location`` (0 header, 1 footer), ``tlinear_enabled``,
    ``tlinear_resolution`` (1 = 0.01 K), ``gain_mode``, ``agc_enabled``,
    ``ffc_state``, ``reboots``.
    """

    def __init__(
        self,
        *,
        part_number: str = "500-0771-01",
        part_number_byte_order: str = "big",
        busy_reads: int = 0,
        fpa_temp_ck: int = 30613,
        housing_temp_ck: int = 30518,
        uptime_ms: int = 6_829_926,
        serial_number: int = 0x0000_1C2B_3A49_5867,
        ffc_busy_reads: int = 1,
    ):
        if part_number_byte_order not in ("big", "little"):
            raise RangeError("part_number_byte_order", part_number_byte_order, "'big' or 'little'")
        self.part_number = part_number
        self.part_number_byte_order = part_number_byte_order
        self.busy_reads = busy_reads
        self.busy_forever = False
        self.fpa_temp_ck = fpa_temp_ck
        self.housing_temp_ck = housing_temp_ck
        self.uptime_ms = uptime_ms
        self.serial_number = serial_number
        self.ffc_busy_reads = ffc_busy_reads
        self.accesses: list[CciAccess] = []
        self.reboots = 0
        self._registers: dict[int, int] = {}
        self._busy_left = 0
        self._response = CciResponse.OK
        self._fail_next: int | None = None
        self._ffc_busy_left = 0
        self._defaults()
        part = lepton_part(part_number)
        radiometric = part.radiometric if part else False
        self._getters, self._setters, self._runners = self._command_table(radiometric)

    def _defaults(self) -> None:
        """Power-on state (DS §4.1 Table 6; IDD §4.8.9-10 radiometric defaults)."""
        self.telemetry_enabled = 0
        self.telemetry_location = 1  # footer
        self.tlinear_enabled = 1
        self.tlinear_resolution = 1  # 0.01 K
        self.gain_mode = GainMode.HIGH
        self.agc_enabled = 0
        self.ffc_state = FfcStatus.READY

    def fail_next_with(self, code: int) -> None:
        """Make the next command answer ``code`` (e.g. -7) instead of executing."""
        self._fail_next = code

    # -- CciBus
    def read_words(self, register: int, count: int) -> list[int]:
        """Read ``count`` words from ``register`` (status reads count down BUSY)."""
        self._check_address(register, count)
        if register == REG_STATUS and count == 1:
            words = [self._status()]
        else:
            words = [self._registers.get(register + WORD_BYTES * i, 0) for i in range(count)]
        self.accesses.append(CciAccess("read", register, tuple(words)))
        return words

    def write_words(self, register: int, words: Sequence[int]) -> None:
        """Write ``words`` from ``register`` on; writing REG_COMMAND executes it."""
        words = tuple(int(w) for w in words)
        self._check_address(register, len(words))
        if any(not 0 <= w <= 0xFFFF for w in words):
            raise ValueError(f"CCI words are 16-bit, got {words}")
        self.accesses.append(CciAccess("write", register, words))
        for i, w in enumerate(words):
            address = register + WORD_BYTES * i
            if address != REG_STATUS:  # read-only
                self._registers[address] = w
        if register <= REG_COMMAND < register + WORD_BYTES * len(words):
            self._execute(self._registers[REG_COMMAND])

    @staticmethod
    def _check_address(register: int, count: int) -> None:
        if register % WORD_BYTES or not 0 <= register <= 0xFFFF or count < 0:
            raise ValueError(f"bad CCI access: register 0x{register:04X}, {count} words")

    def _status(self) -> int:
        if self.busy_forever:
            return _READY | STATUS_BUSY
        if self._busy_left > 0:
            self._busy_left -= 1
            return _READY | STATUS_BUSY
        return (self._response & 0xFF) << STATUS_RESPONSE_SHIFT | _READY

    # -- commands
    def _data(self, n_words: int) -> list[int]:
        base = data_register(n_words)
        return [self._registers.get(base + WORD_BYTES * i, 0) for i in range(n_words)]

    def _put_data(self, words: Sequence[int]) -> None:
        base = data_register(len(words))
        for i, w in enumerate(words):
            self._registers[base + WORD_BYTES * i] = w

    def _execute(self, word: int) -> None:
        self._busy_left = self.busy_reads
        length = self._registers.get(REG_DATA_LENGTH, 0)
        if self._fail_next is not None:
            self._response, self._fail_next = self._fail_next, None
            return
        kind = word & _KIND_MASK
        if kind == CommandKind.GET and word in self._getters:
            command, read = self._getters[word]
            if length != command.n_words:
                self._response = CciResponse.DATA_SIZE_ERROR
                return
            self._put_data(read())
            self._response = CciResponse.OK
        elif kind == CommandKind.SET and word in self._setters:
            command, write = self._setters[word]
            if length != command.n_words:
                self._response = CciResponse.DATA_SIZE_ERROR
                return
            self._response = write(self._data(length))
        elif kind == CommandKind.RUN and word in self._runners:
            self._response = CciResponse.DATA_SIZE_ERROR if length else self._runners[word]()
        else:
            self._response = CciResponse.UNDEFINED_FUNCTION_ERROR

    def _part_number_words(self) -> list[int]:
        raw = self.part_number.encode("ascii").ljust(OEM_PART_NUMBER.n_words * WORD_BYTES, b"\0")
        return [
            int.from_bytes(raw[i : i + WORD_BYTES], self.part_number_byte_order)
            for i in range(0, len(raw), WORD_BYTES)
        ]

    def _ffc_status(self) -> list[int]:
        state = self.ffc_state
        if self._ffc_busy_left > 0:
            self._ffc_busy_left -= 1
            if self._ffc_busy_left == 0:
                self.ffc_state = FfcStatus.READY
        return _u32_to_words(state)

    def _run_ffc(self) -> int:
        self.ffc_state = FfcStatus.BUSY if self.ffc_busy_reads else FfcStatus.READY
        self._ffc_busy_left = self.ffc_busy_reads
        return CciResponse.OK

    def _reboot(self) -> int:
        self.reboots += 1
        self.uptime_ms = 0
        self._defaults()
        return CciResponse.OK

    def _enum_setter(self, attribute: str, allowed: range) -> Callable[[list[int]], int]:
        def write(words: list[int]) -> int:
            value = _signed32(_words_to_u32(words))
            if value not in allowed:
                return CciResponse.RANGE_ERROR
            setattr(self, attribute, value)
            return CciResponse.OK

        return write

    def _command_table(self, radiometric: bool):
        get, set_ = CommandKind.GET, CommandKind.SET

        def u32(attribute: str) -> Callable[[], list[int]]:
            return lambda: _u32_to_words(getattr(self, attribute))

        getters = {
            SYS_SERIAL_NUMBER: lambda: [(self.serial_number >> 16 * i) & 0xFFFF for i in range(4)],
            SYS_UPTIME: u32("uptime_ms"),
            SYS_AUX_TEMPERATURE: lambda: [self.housing_temp_ck],
            SYS_FPA_TEMPERATURE: lambda: [self.fpa_temp_ck],
            SYS_TELEMETRY_ENABLE: u32("telemetry_enabled"),
            SYS_TELEMETRY_LOCATION: u32("telemetry_location"),
            SYS_FFC_STATUS: self._ffc_status,
            AGC_ENABLE: u32("agc_enabled"),
            OEM_PART_NUMBER: self._part_number_words,
        }
        setters = {
            SYS_TELEMETRY_ENABLE: self._enum_setter("telemetry_enabled", range(2)),
            SYS_TELEMETRY_LOCATION: self._enum_setter("telemetry_location", range(2)),
            AGC_ENABLE: self._enum_setter("agc_enabled", range(2)),
        }
        if radiometric:
            getters[SYS_GAIN_MODE] = u32("gain_mode")
            getters[RAD_TLINEAR_ENABLE] = u32("tlinear_enabled")
            getters[RAD_TLINEAR_RESOLUTION] = u32("tlinear_resolution")
            setters[SYS_GAIN_MODE] = self._enum_setter("gain_mode", range(3))
            setters[RAD_TLINEAR_ENABLE] = self._enum_setter("tlinear_enabled", range(2))
            setters[RAD_TLINEAR_RESOLUTION] = self._enum_setter("tlinear_resolution", range(2))
        runners = {
            SYS_PING.word(CommandKind.RUN): lambda: CciResponse.OK,
            SYS_FFC.word(CommandKind.RUN): self._run_ffc,
            OEM_REBOOT.word(CommandKind.RUN): self._reboot,
        }
        return (
            {c.word(get): (c, read) for c, read in getters.items()},
            {c.word(set_): (c, write) for c, write in setters.items()},
            runners,
        )
