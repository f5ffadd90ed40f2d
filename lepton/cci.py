"""The CCI client: run GET/SET/RUN commands on a Lepton over any :class:`CciBus`.

:class:`Cci` runs the register sequences of the Lepton's Command and Control
Interface, waits on BUSY with a timeout, checks the response code and offers
typed methods (FPA temperature, FFC, telemetry, TLinear, gain mode, AGC, part
number, reboot). The protocol facts it uses (registers, command words,
codes) are in :mod:`lepton.cci_protocol`; the bus is :class:`lepton.i2cdev.I2cBus`
on a camera, or :class:`lepton.cci_simulator.SimulatedCciDevice`.

Errors (all subclasses of :class:`lepton.cci_protocol.CciError`): the camera
answered with a non-zero response code (:class:`CciCommandError`), with an
enum code we do not know (:class:`CciUnknownValueError`), kept BUSY set
(:class:`CciTimeoutError`, here), or the bus failed
(:class:`lepton.i2cdev.CciBusError`).

Sources: Lepton Software IDD 110-0144-04 Rev 303 §2.1 (sequences), §4.4-4.8
(commands); docs/cci.md §4-5.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from .cci_protocol import (
    AGC_ENABLE,
    ENABLE_CODES,
    FFC_STATUS_CODES,
    GAIN_MODE_CODES,
    OEM_PART_NUMBER,
    OEM_REBOOT,
    RAD_FLUX_LINEAR_PARAMS,
    RAD_TLINEAR_ENABLE,
    RAD_TLINEAR_RESOLUTION,
    REG_COMMAND,
    REG_DATA_LENGTH,
    REG_STATUS,
    STATUS_BUSY,
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
    TELEMETRY_LOCATION_CODES,
    TLINEAR_RESOLUTION_CODES,
    CciCommand,
    CciCommandError,
    CciError,
    CciResponse,
    CommandKind,
    FfcStatus,
    GainMode,
    code_for,
    data_register,
    decode_code,
    describe_command,
    flux_params_from_words,
    flux_params_to_words,
    int_to_words,
    part_number_from_words,
    response_code,
    response_name,
    signed32,
    words_to_int,
)
from .errors import RangeError, ResolutionError, ShapeError
from .models import LeptonPart, TelemetryLocation, lepton_part
from .radiometry import FluxLinearParams, PixelUnit

__all__ = ["Cci", "CciBus", "CciTimeoutError"]

T = TypeVar("T")
_U32_WORDS = 2  # 32-bit values and enums are two words (IDD §2.1.8.1)


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


@runtime_checkable
class CciBus(Protocol):
    """Moves 16-bit words to and from CCI registers (addresses auto-increment by 2)."""

    def read_words(self, register: int, count: int) -> list[int]:
        """Read ``count`` words starting at ``register``."""
        ...

    def write_words(self, register: int, words: Sequence[int]) -> None:
        """Write ``words`` to ``register``, ``register + 2``, ..."""
        ...


class Cci:
    """Run CCI commands on a Lepton: GET/SET/RUN sequences and typed helpers.

    Sequences follow IDD §2.1 Figs. 2-4 (docs/cci.md §4): wait until
    BUSY (status bit 0) is clear; for SET write the data words to DATA0.. (or
    block buffer 0xF800 beyond 16 words); write the data length; write the
    command word; wait until BUSY is clear; check the response code (status
    bits 15-8, signed); for GET read the data words. 32-bit values and enums
    are two words, DATA0 = low 16 bits, DATA1 = high (IDD §2.1.8.1).

    Thread-safe: one command sequence at a time (a lock). A call blocks while
    the camera is BUSY, at most ``timeout_s`` per wait.

    Args:
        bus: a :class:`lepton.i2cdev.I2cBus`, a
            :class:`lepton.cci_simulator.SimulatedCciDevice` or any :class:`CciBus`.
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
        code = response_code(self._wait_not_busy(command))
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
        return words_to_int(self.get(command))

    def _set_u32(self, command: CciCommand, value: int) -> None:
        self.set(command, int_to_words(value, _U32_WORDS))

    def _get_enum(self, command: CciCommand, values: Mapping[int, T]) -> T:
        """GET a 32-bit enum; raises CciUnknownValueError for a code not in ``values``."""
        return decode_code(command.name, signed32(self._get_u32(command)), values)

    def _set_enum(self, command: CciCommand, values: Mapping[int, T], value: T) -> None:
        self._set_u32(command, code_for(values, value))

    # -- SYS
    def ping(self) -> None:
        """Check the camera answers: RUN SYS ping (0x0202). Raises like :meth:`get`."""
        self.run(SYS_PING)

    def run_ffc(self) -> None:
        """Start a flat-field correction: RUN 0x0242. Video freezes ~23 frames (< 1 s, DS §3.2)."""
        self.run(SYS_FFC)

    def ffc_state(self) -> FfcStatus:
        """SYS FFC status (GET 0x0244): READY once an FFC has finished."""
        return self._get_enum(SYS_FFC_STATUS, FFC_STATUS_CODES)

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
        return words_to_int(self.get(SYS_SERIAL_NUMBER))

    def set_telemetry(
        self, enabled: bool, location: TelemetryLocation = TelemetryLocation.FOOTER
    ) -> None:
        """Enable or disable telemetry rows and choose where they go.

        Sets the location (SET 0x021D: 0 header, 1 footer) when enabling, then
        the enable flag (SET 0x0219). Resync VoSPI afterwards: the packets per
        frame/segment change (IDD §4.5.7-8, DS §3.7; docs/cci.md §5, docs/vospi.md §7).

        Raises:
            RangeError: ``enabled`` with ``location`` OFF.
        """
        if enabled:
            if location not in TELEMETRY_LOCATION_CODES.values():
                raise RangeError("telemetry location", location, "HEADER or FOOTER")
            self._set_enum(SYS_TELEMETRY_LOCATION, TELEMETRY_LOCATION_CODES, location)
        self._set_enum(SYS_TELEMETRY_ENABLE, ENABLE_CODES, bool(enabled))

    def telemetry_enabled(self) -> bool:
        """SYS telemetry enable (GET 0x0218).

        Raises:
            CciUnknownValueError: the camera answered a code other than 0 or 1.
            CciTimeoutError, CciCommandError, CciBusError: as :meth:`get`.
        """
        return self._get_enum(SYS_TELEMETRY_ENABLE, ENABLE_CODES)

    def telemetry_location(self) -> TelemetryLocation:
        """SYS telemetry location (GET 0x021C), HEADER or FOOTER even when disabled.

        Raises:
            CciUnknownValueError: the camera answered a code other than 0 or 1.
            CciTimeoutError, CciCommandError, CciBusError: as :meth:`get`.
        """
        return self._get_enum(SYS_TELEMETRY_LOCATION, TELEMETRY_LOCATION_CODES)

    def telemetry(self) -> TelemetryLocation:
        """Where telemetry rows are now: OFF, HEADER or FOOTER. Raises as the two reads."""
        if not self.telemetry_enabled():
            return TelemetryLocation.OFF
        return self.telemetry_location()

    def gain_mode(self) -> GainMode:
        """SYS gain mode (GET 0x0248, IDD §4.5.19), radiometric parts only.

        Raises:
            CciUnknownValueError: the camera answered a code other than 0-2.
            CciCommandError: a non-radiometric part refuses it.
            CciTimeoutError, CciBusError: as :meth:`get`.
        """
        return self._get_enum(SYS_GAIN_MODE, GAIN_MODE_CODES)

    def set_gain_mode(self, mode: GainMode) -> None:
        """SYS gain mode (SET 0x0249): HIGH -10..140 C, LOW up to 400/450 C, AUTO (DS §3.3).

        Raises:
            ValueError: ``mode`` is not a :class:`GainMode` value.
            CciCommandError: a non-radiometric part refuses it.
        """
        self._set_enum(SYS_GAIN_MODE, GAIN_MODE_CODES, GainMode(mode))

    # -- AGC
    def agc_enabled(self) -> bool:
        """AGC enable (GET 0x0100). With AGC on, pixels are 8-bit, not temperatures.

        Raises:
            CciUnknownValueError: the camera answered a code other than 0 or 1.
        """
        return self._get_enum(AGC_ENABLE, ENABLE_CODES)

    def set_agc_enabled(self, enabled: bool) -> None:
        """AGC enable (SET 0x0101). Resync VoSPI afterwards (DS §3.7)."""
        self._set_enum(AGC_ENABLE, ENABLE_CODES, bool(enabled))

    # -- RAD
    def set_tlinear(self, enabled: bool, resolution_k: float = 0.01) -> None:
        """Set TLinear output: pixels in kelvin x 100 (0.01) or x 10 (0.1).

        Writes RAD TLinear resolution (SET 0x4EC5: 0 = 0.1 K, 1 = 0.01 K) when
        enabling, then RAD TLinear enable (SET 0x4EC1) (IDD §4.8.9-10;
        docs/cci.md §5).

        Raises:
            ResolutionError: ``resolution_k`` is not 0.01 or 0.1.
            CciCommandError: a non-radiometric part (Lepton 2.0/3.0) refuses it.
        """
        if resolution_k not in TLINEAR_RESOLUTION_CODES.values():
            raise ResolutionError(resolution_k)
        if enabled:
            self._set_enum(RAD_TLINEAR_RESOLUTION, TLINEAR_RESOLUTION_CODES, resolution_k)
        self._set_enum(RAD_TLINEAR_ENABLE, ENABLE_CODES, bool(enabled))

    def tlinear_enabled(self) -> bool:
        """RAD TLinear enable (GET 0x4EC0).

        Raises:
            CciCommandError: a non-radiometric part refuses it.
            CciUnknownValueError: the camera answered a code other than 0 or 1.
        """
        return self._get_enum(RAD_TLINEAR_ENABLE, ENABLE_CODES)

    def tlinear_resolution_k(self) -> float:
        """RAD TLinear resolution (GET 0x4EC4): 0.01 or 0.1 kelvin per count.

        Raises:
            CciCommandError: a non-radiometric part refuses it.
            CciUnknownValueError: the camera answered a code other than 0 or 1.
        """
        return self._get_enum(RAD_TLINEAR_RESOLUTION, TLINEAR_RESOLUTION_CODES)

    def flux_linear_params(self) -> FluxLinearParams:
        """RAD flux linear parameters (GET 0x4EBC, 8 words; docs/cci.md §7).

        Raises:
            RangeError: the camera sent a value outside the SDK's ranges.
            CciCommandError: a non-radiometric part refuses it.
            CciTimeoutError, CciBusError: as :meth:`get`.
        """
        return flux_params_from_words(self.get(RAD_FLUX_LINEAR_PARAMS))

    def set_flux_linear_params(self, params: FluxLinearParams) -> None:
        """Set the scene parameters the camera corrects its TLinear output with:
        emissivity, background, window and atmosphere (SET 0x4EBD, 8 words; docs/cci.md §7).

        Takes effect on the next frames; no resync is needed (the stream's layout
        does not change).

        Raises:
            CciCommandError: a non-radiometric part refuses it, or the camera finds a
                value out of its range.
            CciTimeoutError, CciBusError: as :meth:`get`.
        """
        self.set(RAD_FLUX_LINEAR_PARAMS, flux_params_to_words(params))

    def pixel_unit(self) -> PixelUnit:
        """What pixel values mean now, from AGC and TLinear settings (docs/vospi.md §9).

        AGC on -> COUNTS (8-bit); TLinear on -> CENTIKELVIN or DECIKELVIN by
        resolution; TLinear off or refused (Lepton 2.0/3.0) -> COUNTS.

        Raises:
            CciUnknownValueError: a setting read back with an unknown code.
            CciTimeoutError, CciBusError: as :meth:`get`.
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

        Sources disagree on the byte order within words (docs/cci.md §5), so
        both are tried and the one containing ``"500-"`` wins.
        """
        return part_number_from_words(self.get(OEM_PART_NUMBER))

    def model(self) -> LeptonPart | None:
        """The camera model from its part number (DS §1), or None for an unknown part."""
        return lepton_part(self.part_number())

    def oem_reboot(self) -> None:
        """Reboot the camera (RUN 0x4842) without waiting for an answer.

        The camera stops answering while it boots: wait at least 0.95 s (5 s
        with a shutter, for the start-up FFC) before the next CCI command, and
        resync VoSPI (IDD §2.1.1; docs/cci.md §1, docs/vospi.md §8).
        """
        self.run(OEM_REBOOT, wait=False)
