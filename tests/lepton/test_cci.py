"""lepton.cci: the CCI client's register sequences, BUSY, errors and typed helpers (docs/cci.md)."""

import pytest

from lepton import cci_protocol
from lepton.cci import Cci, CciTimeoutError
from lepton.cci_protocol import (
    CciCommand,
    CciCommandError,
    CciError,
    CciModule,
    CciUnknownValueError,
    FfcStatus,
    GainMode,
    encode_register_address,
    encode_register_write,
)
from lepton.cci_simulator import CciAccess, SimulatedCciDevice
from lepton.errors import LeptonError, RangeError, ResolutionError, ShapeError
from lepton.models import LeptonPart, Model, TelemetryLocation
from lepton.radiometry import FluxLinearParams, PixelUnit

READY = 0x0006  # status: boot mode + booted, not BUSY, response 0


class FakeClock:
    """Monotonic clock that advances only when slept on."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def make(device=None, **kwargs):
    """A Cci on a simulated device with a fake clock; returns (cci, device, clock)."""
    device = device if device is not None else SimulatedCciDevice()
    clock = FakeClock()
    kwargs.setdefault("timeout_s", 0.25)
    kwargs.setdefault("poll_interval_s", 0.125)
    return Cci(device, clock=clock, sleep=clock.sleep, **kwargs), device, clock


def wire_bytes(accesses):
    """Register accesses as the I2C transactions of docs/cci.md §4: ("write"|"read", bytes)."""
    out = []
    for op, register, words in accesses:
        if op == "write":
            out.append(("write", encode_register_write(register, words)))
        else:
            out.append(("write", encode_register_address(register)))
            out.append(("read", encode_register_write(0, words)[2:]))
    return out


def status_read(value=READY):
    return CciAccess("read", 0x0002, (value,))


# --- sequences (docs/cci.md §4) against the simulated device -------------------------------------


def test_get_fpa_temperature_sequence_matches_spec_bytes():
    """GET FPA temp: status, 1 -> 0x0006, 0x0214 -> 0x0004, status, read DATA0 (docs/cci.md §4)."""
    c, device, _ = make()
    assert c.fpa_temp_ck() == 30613  # 306.13 K = 32.98 C
    assert device.accesses == [
        status_read(),
        CciAccess("write", 0x0006, (1,)),
        CciAccess("write", 0x0004, (0x0214,)),
        status_read(),
        CciAccess("read", 0x0008, (30613,)),
    ]
    assert wire_bytes(device.accesses) == [
        ("write", bytes.fromhex("0002")),
        ("read", bytes.fromhex("0006")),
        ("write", bytes.fromhex("0006 0001")),
        ("write", bytes.fromhex("0004 0214")),
        ("write", bytes.fromhex("0002")),
        ("read", bytes.fromhex("0006")),
        ("write", bytes.fromhex("0008")),
        ("read", bytes.fromhex("7795")),
    ]


def test_run_ffc_sequence_matches_spec_bytes():
    """RUN FFC: status 00 06, write 00 06 00 00, write 00 04 02 42, poll (docs/cci.md §4)."""
    c, device, _ = make()
    c.run_ffc()
    assert wire_bytes(device.accesses) == [
        ("write", bytes.fromhex("0002")),
        ("read", bytes.fromhex("0006")),
        ("write", bytes.fromhex("0006 0000")),
        ("write", bytes.fromhex("0004 0242")),
        ("write", bytes.fromhex("0002")),
        ("read", bytes.fromhex("0006")),
    ]


def test_set_sequence_writes_data_then_length_then_command():
    """SET telemetry: DATA0.. first, then length 2, then the command, each enum low word first."""
    c, device, _ = make()
    c.set_telemetry(True, TelemetryLocation.HEADER)
    assert device.accesses == [
        status_read(),
        CciAccess("write", 0x0008, (0, 0)),
        CciAccess("write", 0x0006, (2,)),
        CciAccess("write", 0x0004, (0x021D,)),
        status_read(),
        status_read(),
        CciAccess("write", 0x0008, (1, 0)),
        CciAccess("write", 0x0006, (2,)),
        CciAccess("write", 0x0004, (0x0219,)),
        status_read(),
    ]
    assert (device.telemetry_enabled, device.telemetry_location) == (1, 0)


def test_set_of_more_than_16_words_uses_block_buffer():
    """More than 16 data words go through block buffer 0 at 0xF800, not DATA0."""
    c, device, _ = make()
    big = CciCommand(CciModule.OEM, 0x3F, "OEM test", 20)
    with pytest.raises(CciCommandError):
        c.set(big, list(range(20)))
    assert device.accesses[1] == CciAccess("write", 0xF800, tuple(range(20)))
    assert device.accesses[2] == CciAccess("write", 0x0006, (20,))


def test_set_with_wrong_word_count_is_rejected_before_the_bus():
    """set() checks the number of words against the command and touches nothing."""
    c, device, _ = make()
    with pytest.raises(ShapeError) as info:
        c.set(cci_protocol.SYS_GAIN_MODE, [1])
    assert str(info.value) == "SYS gain mode data must be 2 words, got 1 words"
    assert device.accesses == []


def test_busy_for_some_reads_is_polled_with_the_interval():
    """BUSY for 3 status reads after the command: 3 more polls, each after one interval."""
    c, device, clock = make(SimulatedCciDevice(busy_reads=3), timeout_s=1.0)
    assert c.fpa_temp_ck() == 30613
    busy = status_read(0x0007)
    data = CciAccess("read", 0x0008, (30613,))
    assert device.accesses[3:] == [busy, busy, busy, status_read(), data]
    assert clock.sleeps == [0.125, 0.125, 0.125]


def test_busy_that_never_clears_times_out_without_writing_the_command():
    """BUSY stuck before the command: CciTimeoutError after timeout_s, command never written."""
    device = SimulatedCciDevice()
    device.busy_forever = True
    c, _, clock = make(device)
    with pytest.raises(CciTimeoutError) as info:
        c.fpa_temp_ck()
    assert str(info.value) == (
        "CCI command 0x0214 (SYS FPA temperature GET) timed out: "
        "the camera kept BUSY set for 0.25 s"
    )
    assert (info.value.command, info.value.timeout_s) == (0x0214, 0.25)
    assert device.accesses == [status_read(0x0007)] * 3
    assert clock.sleeps == [0.125, 0.125]
    assert isinstance(info.value, CciError) and isinstance(info.value, LeptonError)


def test_busy_that_never_clears_after_the_command_times_out():
    """BUSY set by the command for longer than timeout_s also raises CciTimeoutError."""
    c, device, _ = make(SimulatedCciDevice(busy_reads=100))
    with pytest.raises(CciTimeoutError) as info:
        c.run_ffc()
    assert str(info.value) == (
        "CCI command 0x0242 (SYS FFC RUN) timed out: the camera kept BUSY set for 0.25 s"
    )


def test_error_response_code_raises_command_error_with_name():
    """A response code of -7 raises CciCommandError naming the command and the code."""
    c, device, _ = make()
    device.fail_next_with(-7)
    with pytest.raises(CciCommandError) as info:
        c.run_ffc()
    assert str(info.value) == (
        "CCI command 0x0242 (SYS FFC RUN) failed: response code -7 (undefined function)"
    )
    error = info.value
    assert (error.command, error.code, error.name) == (0x0242, -7, "undefined function")
    assert device.accesses[-1] == status_read(0xF906)
    c.run_ffc()  # only the next command failed


def test_unknown_response_code_is_still_reported():
    """A code missing from IDD §2.3's table is reported as unknown."""
    c, device, _ = make()
    device.fail_next_with(-42)
    with pytest.raises(CciCommandError) as info:
        c.ping()
    assert str(info.value) == (
        "CCI command 0x0202 (SYS ping RUN) failed: response code -42 (unknown response code)"
    )


def test_wrong_data_length_is_a_data_size_error():
    """The simulated camera answers DATA_SIZE_ERROR when the length does not fit the command."""
    c, _, _ = make()
    with pytest.raises(CciCommandError) as info:
        c.get(CciCommand(CciModule.SYS, 0x05, "SYS FPA temperature", 2))
    assert info.value.code == -6
    assert info.value.name == "data size error"


def test_unknown_command_is_undefined_function():
    """A command the device does not implement answers -7."""
    c, _, _ = make()
    with pytest.raises(CciCommandError) as info:
        c.get(CciCommand(CciModule.VID, 0x0C, "VID output format", 2))
    assert str(info.value) == ("CCI command 0x0330 failed: response code -7 (undefined function)")


# --- typed helpers ----------------------------------------------------------------------


def test_32_bit_values_are_low_word_first():
    """uptime and serial number come back least-significant word first (DATA0 = low)."""
    device = SimulatedCciDevice(uptime_ms=0x0068_3766, serial_number=0x1111_2222_3333_4444)
    c, _, _ = make(device)
    assert c.uptime_ms() == 0x0068_3766
    assert device.accesses[-1] == CciAccess("read", 0x0008, (0x3766, 0x0068))
    assert c.serial_number() == 0x1111_2222_3333_4444
    assert device.accesses[-1] == CciAccess("read", 0x0008, (0x4444, 0x3333, 0x2222, 0x1111))


@pytest.mark.parametrize("order", ["big", "little"])
def test_part_number_read_in_either_byte_order(order):
    """The part number is found whichever byte order the words carry (docs/cci.md §5)."""
    c, _, _ = make(SimulatedCciDevice(part_number_byte_order=order))
    assert c.part_number() == "500-0771-01"
    assert c.model() == LeptonPart("500-0771-01", "Lepton 3.5", Model.LEPTON3, True)


@pytest.mark.parametrize(
    "part, name, model, radiometric",
    [
        ("500-0659-01", "Lepton 2.0", Model.LEPTON2, False),
        ("500-0763-01", "Lepton 2.5", Model.LEPTON2, True),
        ("500-0726-01", "Lepton 3.0", Model.LEPTON3, False),
    ],
)
def test_model_from_part_number(part, name, model, radiometric):
    """Each part number of the datasheet's table maps to its model and radiometry."""
    c, _, _ = make(SimulatedCciDevice(part_number=part))
    assert c.model() == LeptonPart(part, name, model, radiometric)


def test_unknown_part_number_gives_no_model():
    """A part number outside the table gives model() None, not a guess."""
    c, _, _ = make(SimulatedCciDevice(part_number="500-0690-00"))
    assert c.part_number() == "500-0690-00"
    assert c.model() is None


def test_telemetry_settings_round_trip():
    """telemetry() is OFF by default and reports the location once enabled."""
    c, _, _ = make()
    assert c.telemetry() is TelemetryLocation.OFF
    assert c.telemetry_location() is TelemetryLocation.FOOTER
    c.set_telemetry(True, TelemetryLocation.HEADER)
    assert c.telemetry_enabled()
    assert c.telemetry() is TelemetryLocation.HEADER
    c.set_telemetry(False)
    assert c.telemetry() is TelemetryLocation.OFF


def test_enabling_telemetry_at_location_off_is_rejected():
    """set_telemetry(True, OFF) is a contradiction and raises RangeError."""
    c, device, _ = make()
    with pytest.raises(RangeError) as info:
        c.set_telemetry(True, TelemetryLocation.OFF)
    off = TelemetryLocation.OFF
    assert str(info.value) == f"telemetry location must be HEADER or FOOTER, got {off!r}"
    assert device.accesses == []


def test_tlinear_and_pixel_unit():
    """TLinear 0.01 K -> centikelvin, 0.1 K -> decikelvin, off or AGC on -> counts."""
    c, device, _ = make()
    assert c.tlinear_enabled() and c.tlinear_resolution_k() == 0.01
    assert c.pixel_unit() is PixelUnit.CENTIKELVIN
    c.set_tlinear(True, 0.1)
    assert (device.tlinear_enabled, device.tlinear_resolution) == (1, 0)
    assert c.pixel_unit() is PixelUnit.DECIKELVIN
    c.set_tlinear(False)
    assert c.pixel_unit() is PixelUnit.COUNTS
    c.set_tlinear(True)
    c.set_agc_enabled(True)
    assert c.agc_enabled()
    assert c.pixel_unit() is PixelUnit.COUNTS


def test_tlinear_resolution_other_than_the_two_is_rejected():
    """Only 0.01 and 0.1 K exist (IDD §4.8.10)."""
    c, _, _ = make()
    with pytest.raises(ResolutionError) as info:
        c.set_tlinear(True, 0.05)
    assert str(info.value) == "TLinear resolution must be 0.01 or 0.1 K, got 0.05"


def test_non_radiometric_part_refuses_tlinear_and_reports_counts():
    """A Lepton 3.0 refuses RAD TLinear; pixel_unit() falls back to counts."""
    c, _, _ = make(SimulatedCciDevice(part_number="500-0726-01"))
    with pytest.raises(CciCommandError) as info:
        c.tlinear_enabled()
    assert str(info.value) == (
        "CCI command 0x4EC0 (RAD TLinear enable GET) failed: response code -7 (undefined function)"
    )
    assert c.pixel_unit() is PixelUnit.COUNTS


def test_gain_mode_round_trip_and_range():
    """Gain mode reads HIGH by default, takes LOW/AUTO, and the device rejects 3."""
    c, _, _ = make()
    assert c.gain_mode() is GainMode.HIGH
    c.set_gain_mode(GainMode.AUTO)
    assert c.gain_mode() is GainMode.AUTO
    with pytest.raises(CciCommandError) as info:
        c.set(cci_protocol.SYS_GAIN_MODE, [3, 0])
    assert info.value.name == "range error"


def test_ffc_state_goes_busy_then_ready():
    """After RUN FFC the FFC status reads BUSY once, then READY."""
    c, _, _ = make()
    assert c.ffc_state() is FfcStatus.READY
    c.run_ffc()
    assert c.ffc_state() is FfcStatus.BUSY
    assert c.ffc_state() is FfcStatus.READY


def test_housing_temperature_and_ping():
    """AUX temperature is read in centikelvin; ping succeeds on a healthy camera."""
    c, _, _ = make(SimulatedCciDevice(housing_temp_ck=30518))
    assert c.housing_temp_ck() == 30518
    c.ping()


def test_oem_reboot_does_not_wait_for_an_answer_and_restores_defaults():
    """OEM reboot writes 0x4842 and returns; the camera comes back with default settings."""
    c, device, _ = make()
    c.set_agc_enabled(True)
    device.accesses.clear()
    c.oem_reboot()
    assert device.accesses == [
        status_read(),
        CciAccess("write", 0x0006, (0,)),
        CciAccess("write", 0x0004, (0x4842,)),
    ]
    assert device.reboots == 1
    assert not c.agc_enabled()


# --- codes the driver does not know, sent by the simulated camera -------------------------


@pytest.mark.parametrize(
    "attribute, code, read, field, known",
    [
        ("gain_mode", 3, Cci.gain_mode, "SYS gain mode", "0 (HIGH), 1 (LOW), 2 (AUTO)"),
        (
            "ffc_state",
            7,
            Cci.ffc_state,
            "SYS FFC status",
            "-2 (WRITE_ERROR), -1 (ERROR), 0 (READY), 1 (BUSY), 2 (COLLECTING_FRAMES)",
        ),
        (
            "telemetry_location",
            2,
            Cci.telemetry_location,
            "SYS telemetry location",
            "0 (HEADER), 1 (FOOTER)",
        ),
        ("telemetry_enabled", 2, Cci.telemetry, "SYS telemetry enable", "0 (False), 1 (True)"),
        (
            "tlinear_resolution",
            -1,
            Cci.tlinear_resolution_k,
            "RAD TLinear resolution",
            "0 (0.1), 1 (0.01)",
        ),
        ("agc_enabled", 5, Cci.pixel_unit, "AGC enable", "0 (False), 1 (True)"),
    ],
)
def test_unknown_code_from_the_camera_raises_unknown_value_error(
    attribute, code, read, field, known
):
    """A GET answered with an unknown code raises CciUnknownValueError, not KeyError/ValueError."""
    device = SimulatedCciDevice()
    setattr(device, attribute, code)
    c, _, _ = make(device)
    with pytest.raises(CciUnknownValueError) as info:
        read(c)
    error = info.value
    assert (error.field, error.code, error.allowed) == (field, code, known)
    assert str(error) == (
        f"the camera answered {field} with code {code}, which this driver does not know "
        f"(known: {known})"
    )
    assert isinstance(error, CciError)


def test_unknown_location_after_enabling_is_reported_by_telemetry():
    """telemetry() with telemetry on and location code 9 raises, naming the location field."""
    device = SimulatedCciDevice()
    c, _, _ = make(device)
    c.set_telemetry(True, TelemetryLocation.HEADER)
    device.telemetry_location = 9
    with pytest.raises(CciUnknownValueError) as info:
        c.telemetry()
    assert (info.value.field, info.value.code) == ("SYS telemetry location", 9)


def test_flux_linear_params_round_trip_in_bytes():
    """SET 0x4EBD writes the 8 words to DATA0.. then length 8, then the command; GET reads
    them back (docs/cci.md §4, §7)."""
    c, device, _ = make()
    assert c.flux_linear_params() == FluxLinearParams()
    device.accesses.clear()
    c.set_flux_linear_params(FluxLinearParams(emissivity=0.95, background_k=303.15))
    assert wire_bytes(device.accesses) == [
        ("write", bytes.fromhex("0002")), ("read", bytes.fromhex("0006")),
        ("write", bytes.fromhex("0008 1E66 766B 2000 734B 2000 734B 0000 734B")),
        ("write", bytes.fromhex("0006 0008")),
        ("write", bytes.fromhex("0004 4EBD")),
        ("write", bytes.fromhex("0002")), ("read", bytes.fromhex("0006")),
    ]
    assert c.flux_linear_params().emissivity == 0x1E66 / 8192
    assert device.flux_params.background_k == 303.15


def test_flux_linear_params_out_of_range_and_on_a_lepton_30():
    """The device answers a word outside the SDK's ranges with RANGE_ERROR; a Lepton 3.0
    has no RAD commands (-7) and keeps nothing."""
    c, device, _ = make()
    with pytest.raises(CciCommandError) as info:
        c.set(cci_protocol.RAD_FLUX_LINEAR_PARAMS, [50, 29515, 8192, 29515, 8192, 29515, 0, 29515])
    assert info.value.name == "range error"
    assert device.flux_params == FluxLinearParams()
    c, _, _ = make(SimulatedCciDevice(part_number="500-0726-01"))
    with pytest.raises(CciCommandError) as info:
        c.set_flux_linear_params(FluxLinearParams(emissivity=0.9))
    assert str(info.value) == ("CCI command 0x4EBD (RAD flux linear params SET) failed: "
                               "response code -7 (undefined function)")


def test_reboot_restores_the_power_on_flux_params():
    """After OEM reboot the flux linear parameters are back at 1.0 and 22 C."""
    c, device, _ = make()
    c.set_flux_linear_params(FluxLinearParams(emissivity=0.5))
    c.oem_reboot()
    assert device.flux_params == FluxLinearParams()
