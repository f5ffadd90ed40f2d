"""A simulated Lepton CCI: the camera's registers, executing the commands we use.

:class:`SimulatedCciDevice` implements :class:`lepton.cci.CciBus`, so a
:class:`lepton.cci.Cci` runs on it exactly as on :class:`lepton.i2cdev.I2cBus`:
the simulated source, ``python -m lepton --simulate`` and the tests use it.
It speaks the protocol of :mod:`lepton.cci_protocol` (IDD 110-0144-04 Rev 303
§2.1, §4.4-4.8; docs/cci.md) and records every register access.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .cci_protocol import (
    AGC_ENABLE,
    COMMAND_KIND_MASK,
    OEM_PART_NUMBER,
    OEM_REBOOT,
    RAD_FLUX_LINEAR_PARAMS,
    RAD_TLINEAR_ENABLE,
    RAD_TLINEAR_RESOLUTION,
    REG_COMMAND,
    REG_DATA_LENGTH,
    REG_STATUS,
    SYS_AUX_TEMPERATURE,
    SYS_FFC,
    SYS_FFC_STATUS,
    SYS_FPA_TEMPERATURE,
    SYS_GAIN_MODE,
    SYS_PING,
    SYS_SERIAL_NUMBER,
    SYS_TELEMETRY_ENABLE,
    SYS_TELEMETRY_LOCATION,
    SYS_UPTIME,
    WORD_BYTES,
    ByteOrder,
    CciCommand,
    CciResponse,
    CommandKind,
    FfcStatus,
    GainMode,
    data_register,
    encode_status,
    flux_params_from_words,
    flux_params_to_words,
    int_to_words,
    part_number_to_words,
    signed32,
    words_to_int,
)
from .errors import RangeError
from .i2cdev import CciBusError
from .models import lepton_part
from .radiometry import FluxLinearParams
from .simulated_board import SimulatedBoard

__all__ = ["CciAccess", "SimulatedCciDevice"]

_U32_WORDS = 2  # 32-bit values and enums are two words (IDD §2.1.8.1)
_SERIAL_NUMBER_WORDS = SYS_SERIAL_NUMBER.n_words
_Read = Callable[[], list[int]]
_Write = Callable[[list[int]], int]


class CciAccess(NamedTuple):
    """A register access seen by :class:`SimulatedCciDevice`: op "read" or "write"."""

    op: str
    register: int
    words: tuple[int, ...]


class SimulatedCciDevice:
    """A Lepton's CCI registers, executing the commands this product uses.

    Implements :class:`lepton.cci.CciBus`. Writing the command register
    executes the command against simulated state with the data length and
    DATA registers as written, sets BUSY for :attr:`busy_reads` status reads,
    then reports the response code in status bits 15-8 (IDD §2.1; docs/cci.md
    §2, §4). A GET or SET with the wrong data length answers DATA_SIZE_ERROR
    (-6), an out-of-range value RANGE_ERROR (-3), an unknown command or a RAD /
    gain command on a non-radiometric part UNDEFINED_FUNCTION_ERROR (-7; the
    code a real Lepton 3.0 returns is unconfirmed). Every access is appended
    to :attr:`accesses`.

    Not thread-safe; use it through :class:`lepton.cci.Cci`, which serialises.

    Args:
        part_number: FLIR part number; decides the radiometric commands (DS §1).
        part_number_byte_order: ``"big"`` (bytes in wire order) or ``"little"``
            (low byte of each word first), the two readings of docs/cci.md §5.
        busy_reads: status reads that show BUSY after each command.
        fpa_temp_ck, housing_temp_ck: temperatures reported, centikelvin.
        uptime_ms: uptime reported, ms.
        serial_number: u64 reported by SYS FLIR serial number.
        ffc_busy_reads: FFC status GETs that answer BUSY after RUN FFC.
        board: the simulated camera's power and hang state
            (:class:`~lepton.simulated_board.SimulatedBoard`), or None. While
            the camera is unpowered or hangs for a power cycle, every access
            raises :class:`~lepton.i2cdev.CciBusError` (ENXIO, as an I2C
            address nobody acknowledges); OEM reboot clears a reboot hang; after
            a power cycle the registers are back at their power-on defaults.

    Raises:
        RangeError: ``part_number_byte_order`` is neither ``"big"`` nor ``"little"``.

    Attributes:
        device: the name in errors, ``"simulated CCI"``.

    Test knobs (attributes): :attr:`busy_forever`, :meth:`fail_next_with`,
    :attr:`busy_reads`; state attributes, each the code the camera sends
    (assign any int to play a camera that answers an unknown code):
    ``telemetry_enabled``, ``telemetry_location`` (0 header, 1 footer),
    ``tlinear_enabled``, ``tlinear_resolution`` (1 = 0.01 K), ``gain_mode``,
    ``agc_enabled``, ``ffc_state``; and ``reboots``. ``flux_params`` (a
    :class:`~lepton.radiometry.FluxLinearParams`) is what RAD flux linear parameters
    hold: power-on 1.0 and 22 C (the words a Lepton 3.5 reads back, docs/cci.md §7); a
    SET with a word outside the SDK's ranges answers RANGE_ERROR (-3; the real
    camera's code is unconfirmed). It is replaced whole on each SET, so another
    thread (the simulated camera's frames) may read it without a lock.
    """

    def __init__(
        self,
        *,
        part_number: str = "500-0771-01",
        part_number_byte_order: ByteOrder = "big",
        busy_reads: int = 0,
        fpa_temp_ck: int = 30613,
        housing_temp_ck: int = 30518,
        uptime_ms: int = 6_829_926,
        serial_number: int = 0x0000_1C2B_3A49_5867,
        ffc_busy_reads: int = 1,
        board: SimulatedBoard | None = None,
    ):
        if part_number_byte_order not in ("big", "little"):
            raise RangeError("part_number_byte_order", part_number_byte_order, "'big' or 'little'")
        self.part_number = part_number
        self.part_number_byte_order: ByteOrder = part_number_byte_order
        self.busy_reads = busy_reads
        self.busy_forever = False
        self.fpa_temp_ck = fpa_temp_ck
        self.housing_temp_ck = housing_temp_ck
        self.uptime_ms = uptime_ms
        self.serial_number = serial_number
        self.ffc_busy_reads = ffc_busy_reads
        self.accesses: list[CciAccess] = []
        self.reboots = 0
        self.board = board
        self._power_ons = board.power_ons if board else 0
        self._registers: dict[int, int] = {}
        self._busy_left = 0
        self._response = 0
        self._fail_next: int | None = None
        self._ffc_busy_left = 0
        self._defaults()
        part = lepton_part(part_number)
        radiometric = part.radiometric if part else False
        self._getters, self._setters, self._runners = self._command_table(radiometric)

    def _defaults(self) -> None:
        """Power-on state (DS §4.1 Table 6; IDD §4.8.9-10 radiometric defaults).

        Each is the code the camera sends, an int, so a test may set any code.
        """
        self.telemetry_enabled: int = 0
        self.telemetry_location: int = 1  # footer
        self.tlinear_enabled: int = 1
        self.tlinear_resolution: int = 1  # 0.01 K
        self.gain_mode: int = GainMode.HIGH
        self.agc_enabled: int = 0
        self.ffc_state: int = FfcStatus.READY
        self.flux_params = FluxLinearParams()

    def fail_next_with(self, code: int) -> None:
        """Make the next command answer ``code`` (e.g. -7) instead of executing."""
        self._fail_next = code

    device = "simulated CCI"

    def _check_board(self, operation: str) -> None:
        """Play the board: no answer while unpowered or hung; power-on defaults after a boot."""
        board = self.board
        if board is None:
            return
        if not board.cci_answers:
            raise CciBusError(
                self.device,
                f"no answer from the Lepton ({operation}: camera hung or unpowered)",
                "Power-cycle the camera",
                errno.ENXIO,
            )
        if board.power_ons != self._power_ons:
            self._power_ons = board.power_ons
            self.uptime_ms = 0
            self._busy_left = 0
            self._defaults()

    # -- CciBus
    def read_words(self, register: int, count: int) -> list[int]:
        """Read ``count`` words from ``register`` (status reads count down BUSY).

        Raises:
            ValueError: an odd register address, or a negative count.
            CciBusError: the ``board`` says the camera does not answer.
        """
        self._check_address(register, count)
        self._check_board(f"read of register 0x{register:04X}")
        if register == REG_STATUS and count == 1:
            words = [self._status()]
        else:
            words = [self._registers.get(register + WORD_BYTES * i, 0) for i in range(count)]
        self.accesses.append(CciAccess("read", register, tuple(words)))
        return words

    def write_words(self, register: int, words: Sequence[int]) -> None:
        """Write ``words`` from ``register`` on; writing REG_COMMAND executes it.

        Raises:
            ValueError: an odd register address, or a word outside 0..0xFFFF.
            CciBusError: the ``board`` says the camera does not answer.
        """
        values = tuple(int(w) for w in words)
        self._check_address(register, len(values))
        self._check_board(f"write of register 0x{register:04X}")
        if any(not 0 <= w <= 0xFFFF for w in values):
            raise ValueError(f"CCI words are 16-bit, got {values}")
        self.accesses.append(CciAccess("write", register, values))
        for i, w in enumerate(values):
            address = register + WORD_BYTES * i
            if address != REG_STATUS:  # read-only
                self._registers[address] = w
        if register <= REG_COMMAND < register + WORD_BYTES * len(values):
            self._execute(self._registers[REG_COMMAND])

    @staticmethod
    def _check_address(register: int, count: int) -> None:
        if register % WORD_BYTES or not 0 <= register <= 0xFFFF or count < 0:
            raise ValueError(f"bad CCI access: register 0x{register:04X}, {count} words")

    def _status(self) -> int:
        if self.busy_forever:
            return encode_status(0, busy=True)
        if self._busy_left > 0:
            self._busy_left -= 1
            return encode_status(0, busy=True)
        return encode_status(self._response, busy=False)

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
        kind = word & COMMAND_KIND_MASK
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
        return part_number_to_words(self.part_number, self.part_number_byte_order)

    def _ffc_status(self) -> list[int]:
        state = self.ffc_state
        if self._ffc_busy_left > 0:
            self._ffc_busy_left -= 1
            if self._ffc_busy_left == 0:
                self.ffc_state = FfcStatus.READY
        return int_to_words(state, _U32_WORDS)

    def _run_ffc(self) -> int:
        self.ffc_state = FfcStatus.BUSY if self.ffc_busy_reads else FfcStatus.READY
        self._ffc_busy_left = self.ffc_busy_reads
        return CciResponse.OK

    def _reboot(self) -> int:
        self.reboots += 1
        if self.board is not None:
            self.board.rebooted()
        self.uptime_ms = 0
        self._defaults()
        return CciResponse.OK

    def _enum_setter(self, attribute: str, allowed: range) -> _Write:
        def write(words: list[int]) -> int:
            value = signed32(words_to_int(words))
            if value not in allowed:
                return CciResponse.RANGE_ERROR
            setattr(self, attribute, value)
            return CciResponse.OK

        return write

    def _set_flux_params(self, words: list[int]) -> int:
        try:
            self.flux_params = flux_params_from_words(words)
        except RangeError:
            return CciResponse.RANGE_ERROR
        return CciResponse.OK

    def _command_table(
        self, radiometric: bool
    ) -> tuple[
        dict[int, tuple[CciCommand, _Read]],
        dict[int, tuple[CciCommand, _Write]],
        dict[int, Callable[[], int]],
    ]:
        """The commands this device answers, by command word: GET, SET and RUN."""

        def u32(attribute: str) -> _Read:
            return lambda: int_to_words(getattr(self, attribute), _U32_WORDS)

        getters: dict[CciCommand, _Read] = {
            SYS_SERIAL_NUMBER: lambda: int_to_words(self.serial_number, _SERIAL_NUMBER_WORDS),
            SYS_UPTIME: u32("uptime_ms"),
            SYS_AUX_TEMPERATURE: lambda: [self.housing_temp_ck],
            SYS_FPA_TEMPERATURE: lambda: [self.fpa_temp_ck],
            SYS_TELEMETRY_ENABLE: u32("telemetry_enabled"),
            SYS_TELEMETRY_LOCATION: u32("telemetry_location"),
            SYS_FFC_STATUS: self._ffc_status,
            AGC_ENABLE: u32("agc_enabled"),
            OEM_PART_NUMBER: self._part_number_words,
        }
        setters: dict[CciCommand, _Write] = {
            SYS_TELEMETRY_ENABLE: self._enum_setter("telemetry_enabled", range(2)),
            SYS_TELEMETRY_LOCATION: self._enum_setter("telemetry_location", range(2)),
            AGC_ENABLE: self._enum_setter("agc_enabled", range(2)),
        }
        if radiometric:
            getters[SYS_GAIN_MODE] = u32("gain_mode")
            getters[RAD_FLUX_LINEAR_PARAMS] = lambda: flux_params_to_words(self.flux_params)
            setters[RAD_FLUX_LINEAR_PARAMS] = self._set_flux_params
            getters[RAD_TLINEAR_ENABLE] = u32("tlinear_enabled")
            getters[RAD_TLINEAR_RESOLUTION] = u32("tlinear_resolution")
            setters[SYS_GAIN_MODE] = self._enum_setter("gain_mode", range(3))
            setters[RAD_TLINEAR_ENABLE] = self._enum_setter("tlinear_enabled", range(2))
            setters[RAD_TLINEAR_RESOLUTION] = self._enum_setter("tlinear_resolution", range(2))
        runners: dict[CciCommand, Callable[[], int]] = {
            SYS_PING: lambda: CciResponse.OK,
            SYS_FFC: self._run_ffc,
            OEM_REBOOT: self._reboot,
        }
        return (
            {c.word(CommandKind.GET): (c, read) for c, read in getters.items()},
            {c.word(CommandKind.SET): (c, write) for c, write in setters.items()},
            {c.word(CommandKind.RUN): run for c, run in runners.items()},
        )
