"""The Lepton's Command and Control Interface (CCI), as data: no I/O at all.

Register addresses, command words and the commands this product uses, the
status register and its response codes, how words become bytes on the I2C
wire and back, and how the camera's 32-bit enum codes map to our values.
:mod:`lepton.i2cdev` moves the bytes, :class:`lepton.cci.Cci` runs the command
sequences, :class:`lepton.cci_simulator.SimulatedCciDevice` plays the camera;
all three take their facts from here.

Register map (Lepton Software IDD 110-0144-04 Rev 303 §2.1, Fig. 1;
docs/cci.md §2)::

    0x0002  status: bit 0 BUSY, bit 1 boot mode, bit 2 boot status,
            bits 15-8 response code (signed int8, 0 = OK)
    0x0004  command (writing it starts the command)
    0x0006  data length, in 16-bit words
    0x0008  DATA0 ... 0x0026 DATA15  (DATAk = 0x0008 + 2k)
    0xF800  block data buffer 0, used when more than 16 words move

Errors (all subclasses of :class:`lepton.errors.LeptonError`)::

    LeptonError
     └── CciError                                       (here)
          ├── CciCommandError       command, code, name   non-zero response code (here)
          ├── CciUnknownValueError  field, code, allowed  an enum code we do not know (here)
          ├── CciTimeoutError       command, timeout_s    BUSY never cleared (lepton.cci)
          └── CciBusError           device, reason, fix   also a DeviceError (lepton.i2cdev)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple, TypeVar

from .errors import LeptonError, RangeError
from .models import TelemetryLocation
from .radiometry import FluxLinearParams

__all__ = [
    "AGC_ENABLE",
    "BLOCK_BUFFER_0",
    "BLOCK_BUFFER_WORDS",
    "CCI_ADDRESS",
    "COMMAND_KIND_MASK",
    "DATA_REGISTERS",
    "ENABLE_CODES",
    "FFC_STATUS_CODES",
    "GAIN_MODE_CODES",
    "OEM_PART_NUMBER",
    "OEM_REBOOT",
    "RAD_FLUX_LINEAR_PARAMS",
    "RAD_TLINEAR_ENABLE",
    "RAD_TLINEAR_RESOLUTION",
    "REG_COMMAND",
    "REG_DATA0",
    "REG_DATA_LENGTH",
    "REG_STATUS",
    "STATUS_BOOT_MODE",
    "STATUS_BOOT_STATUS",
    "STATUS_BUSY",
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
    "TELEMETRY_LOCATION_CODES",
    "TLINEAR_RESOLUTION_CODES",
    "WORD_BYTES",
    "ByteOrder",
    "CciCommand",
    "CciCommandError",
    "CciError",
    "CciModule",
    "CciResponse",
    "CciUnknownValueError",
    "CommandKind",
    "FfcStatus",
    "GainMode",
    "code_for",
    "flux_params_from_words",
    "flux_params_to_words",
    "command_word",
    "data_register",
    "decode_code",
    "decode_words",
    "describe_command",
    "encode_register_address",
    "encode_register_write",
    "encode_status",
    "int_to_words",
    "part_number_from_words",
    "part_number_to_words",
    "response_code",
    "response_name",
    "signed32",
    "words_to_int",
]

T = TypeVar("T")
ByteOrder = Literal["big", "little"]

# --- registers (IDD §2.1.2, Fig. 1; docs/cci.md §1-2) ------------------------
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
_STATUS_READY = STATUS_BOOT_MODE | STATUS_BOOT_STATUS  # 0x0006: booted, normal mode


# --- command words (IDD §2.1.3, §4.2-4.3, Fig. 10; docs/cci.md §3) -----------
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
COMMAND_KIND_MASK = 0x0003  # bits 1-0


def command_word(module: CciModule, index: int, kind: CommandKind) -> int:
    """Return the 16-bit CCI command word.

    ``module << 8 | index << 2 | kind``, plus ``0x4000`` for OEM and RAD.
    Worked examples (IDD §2.1.3; docs/cci.md §3): SYS (2), index 0x10, RUN ->
    0x0242 (run FFC); OEM, 0x10, RUN -> 0x4842 (reboot); RAD, 0x30, SET ->
    0x4EC1 (TLinear enable).

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
    """A CCI command: module, command index, a name for messages, data words for GET/SET.

    (The index field is ``command_index``: ``index`` would hide ``tuple.index``.)
    """

    module: CciModule
    command_index: int
    name: str
    n_words: int

    def word(self, kind: CommandKind) -> int:
        """The command word for ``kind`` (see :func:`command_word`)."""
        return command_word(self.module, self.command_index, kind)


# The commands this product uses (IDD Rev 303 §4.4-4.8; docs/cci.md §5).
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
RAD_FLUX_LINEAR_PARAMS = CciCommand(CciModule.RAD, 0x2F, "RAD flux linear params", 8)  # 0x4EBC/D
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
    RAD_FLUX_LINEAR_PARAMS,
    RAD_TLINEAR_ENABLE,
    RAD_TLINEAR_RESOLUTION,
)
_COMMAND_NAMES = {c.word(CommandKind.GET): c.name for c in _COMMANDS}
_KIND_NAMES = {k.value: k.name for k in CommandKind}


def describe_command(word: int) -> str:
    """Return ``"0x0242 (SYS FFC RUN)"`` for a known command word, ``"0x1234"`` otherwise."""
    name = _COMMAND_NAMES.get(word & ~COMMAND_KIND_MASK)
    kind = _KIND_NAMES.get(word & COMMAND_KIND_MASK, "?")
    return f"0x{word:04X} ({name} {kind})" if name else f"0x{word:04X}"


# --- status and response codes (IDD §2.1, §2.3 Fig. 12; docs/cci.md §2, §4) ----
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


_RESPONSE_NAMES: dict[int, str] = {
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
    return _RESPONSE_NAMES.get(code, "unknown response code")


def response_code(status: int) -> int:
    """The signed response code in bits 15-8 of a status word (IDD §2.1; docs/cci.md §2)."""
    code = (status >> STATUS_RESPONSE_SHIFT) & 0xFF
    return code - 0x100 if code & 0x80 else code


def encode_status(response: int, *, busy: bool) -> int:
    """The status word of a booted camera in normal mode: BUSY, or done with ``response``.

    While BUSY the response bits read 0 (IDD §2.1; docs/cci.md §2).
    """
    if busy:
        return _STATUS_READY | STATUS_BUSY
    return (response & 0xFF) << STATUS_RESPONSE_SHIFT | _STATUS_READY


# --- errors ---------------------------------------------------------------------
class CciError(LeptonError):
    """Base class of CCI (I2C control) errors."""


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


class CciUnknownValueError(CciError):
    """The camera answered a GET with an enum code this driver does not know.

    A newer firmware, a part we have not met, or a garbled transfer; the value
    is not guessed.

    Attributes:
        field: what was read, the command's name (e.g. ``"SYS gain mode"``).
        code: the code the camera sent (signed 32-bit).
        allowed: the codes we know, as text (``"0 (HIGH), 1 (LOW), 2 (AUTO)"``).
    """

    def __init__(self, field: str, code: int, allowed: str):
        self.field = field
        self.code = code
        self.allowed = allowed
        super().__init__(
            f"the camera answered {field} with code {code}, which this driver does not know "
            f"(known: {allowed})"
        )


# --- the wire encoding (IDD §2.1.2, §2.1.8; docs/cci.md §1, §4) ---------------------
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

    Example (docs/cci.md §4): ``encode_register_write(0x0004, [0x0242])`` ->
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


def words_to_int(words: Sequence[int]) -> int:
    """Join words into an unsigned integer, least-significant word first.

    DATA0 holds the low 16 bits (IDD §2.1.8.1, §4.1; docs/cci.md §4): 32-bit
    enums and counters are two words, the serial number four.
    """
    return sum(w << (16 * i) for i, w in enumerate(words))


def int_to_words(value: int, n_words: int) -> list[int]:
    """Split ``value`` (taken modulo 2**(16 * n_words)) into words, least-significant first."""
    return [(value >> (16 * i)) & 0xFFFF for i in range(n_words)]


def signed32(value: int) -> int:
    """Read an unsigned 32-bit value as a signed one (C enums on the camera are int32)."""
    return value - (1 << 32) if value & 0x8000_0000 else value


def part_number_to_words(part_number: str, byte_order: ByteOrder) -> list[int]:
    """The 16 words of OEM part number: ASCII, NUL-padded to 32 bytes (IDD §4.7; docs/cci.md §5).

    ``byte_order`` says which byte of each word comes first in the string:
    ``"big"`` (wire order) or ``"little"``, the two readings sources disagree on.
    """
    size = OEM_PART_NUMBER.n_words * WORD_BYTES
    raw = part_number.encode("ascii").ljust(size, b"\0")
    return [int.from_bytes(raw[i : i + WORD_BYTES], byte_order) for i in range(0, size, WORD_BYTES)]


def part_number_from_words(words: Sequence[int]) -> str:
    """Decode the 32-byte part-number string, accepting either byte order (docs/cci.md §5).

    The reading that contains ``"500-"`` wins (FLIR part numbers start so, DS
    §1); when neither does, the wire-order reading is returned.
    """
    candidates = []
    order: ByteOrder
    for order in ("big", "little"):
        raw = b"".join(w.to_bytes(WORD_BYTES, order) for w in words)
        text = raw.split(b"\0", 1)[0].decode("ascii", errors="replace").strip()
        if "500-" in text:
            return text[text.index("500-") :]
        candidates.append(text)
    return candidates[0]


# --- enum codes (IDD §4.4.1, §4.5.7-8, §4.5.18-19, §4.8.9-10; docs/cci.md §5) -------
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


# code -> value, for the commands whose data is one 32-bit enum.
ENABLE_CODES: Mapping[int, bool] = {0: False, 1: True}  # LEP_*_ENABLE_E
FFC_STATUS_CODES: Mapping[int, FfcStatus] = {s.value: s for s in FfcStatus}
GAIN_MODE_CODES: Mapping[int, GainMode] = {m.value: m for m in GainMode}
TELEMETRY_LOCATION_CODES: Mapping[int, TelemetryLocation] = {
    0: TelemetryLocation.HEADER,
    1: TelemetryLocation.FOOTER,
}
TLINEAR_RESOLUTION_CODES: Mapping[int, float] = {0: 0.1, 1: 0.01}  # kelvin per count


def decode_code(field: str, code: int, values: Mapping[int, T]) -> T:
    """Map an enum code the camera sent to its value.

    Args:
        field: what was read, for the error (e.g. ``"SYS gain mode"``).
        code: the signed code.
        values: code -> value, one of the ``*_CODES`` tables.

    Raises:
        CciUnknownValueError: ``code`` is not in ``values``.
    """
    try:
        return values[code]
    except KeyError:
        allowed = ", ".join(f"{c} ({_value_name(v)})" for c, v in values.items())
        raise CciUnknownValueError(field, code, allowed) from None


def code_for(values: Mapping[int, T], value: T) -> int:
    """The code of ``value`` in one of the ``*_CODES`` tables, for a SET.

    Raises:
        KeyError: ``value`` is not in the table (callers check their arguments first).
    """
    for code, known in values.items():
        if known == value:
            return code
    raise KeyError(value)


def _value_name(value: object) -> str:
    return value.name if isinstance(value, enum.Enum) else str(value)


# --- RAD flux linear parameters (SDK LEPTON_RAD.h; docs/cci.md §7) -------------------
FLUX_FRACTION_ONE = 8192  # 3.13 fixed point: 8192 = 1.0
FLUX_KELVIN_SCALE = 100  # temperatures are kelvin x 100
# The eight words in order (DATA0..DATA7), each one 16-bit field of the SDK's struct:
# (attribute, is a fraction). Not a 32-bit value: no low/high word pairs here.
_FLUX_WORDS = (
    ("emissivity", True),  # sceneEmissivity
    ("background_k", False),  # TBkgK
    ("window_transmission", True),  # tauWindow
    ("window_k", False),  # TWindowK
    ("atmosphere_transmission", True),  # tauAtm
    ("atmosphere_k", False),  # TAtmK
    ("window_reflection", True),  # reflWindow
    ("window_reflected_k", False),  # TReflK
)


def flux_params_to_words(params: FluxLinearParams) -> list[int]:
    """The 8 words of RAD flux linear parameters (SET 0x4EBD; docs/cci.md §7).

    Fractions as 3.13 fixed point (round(x * 8192)), temperatures as round(K * 100),
    in the SDK's field order: emissivity, TBkg, tauWindow, TWindow, tauAtm, TAtm,
    reflWindow, TRefl.
    """
    return [round(getattr(params, name) * (FLUX_FRACTION_ONE if fraction else FLUX_KELVIN_SCALE))
            for name, fraction in _FLUX_WORDS]


def flux_params_from_words(words: Sequence[int]) -> FluxLinearParams:
    """Decode the 8 words of RAD flux linear parameters (GET 0x4EBC; docs/cci.md §7).

    Raises:
        RangeError: a value outside the camera's ranges (e.g. emissivity word < 82).
    """
    return FluxLinearParams(**{
        name: word / (FLUX_FRACTION_ONE if fraction else FLUX_KELVIN_SCALE)
        for (name, fraction), word in zip(_FLUX_WORDS, words, strict=True)})
