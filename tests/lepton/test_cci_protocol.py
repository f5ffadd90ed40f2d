"""lepton.cci_protocol: command words, the commands' words, wire encoding, codes (docs/cci.md)."""

import pytest

from lepton import cci_protocol
from lepton.cci_protocol import (
    ENABLE_CODES,
    GAIN_MODE_CODES,
    CciError,
    CciModule,
    CciUnknownValueError,
    CommandKind,
    GainMode,
    code_for,
    command_word,
    decode_code,
    decode_words,
    encode_register_address,
    encode_register_write,
    encode_status,
    int_to_words,
    part_number_from_words,
    part_number_to_words,
    response_code,
    response_name,
    signed32,
    words_to_int,
)
from lepton.errors import LeptonError, RangeError
from lepton.radiometry import FluxLinearParams

# --- command words -------------------------------------------------------------


def test_worked_examples_of_idd_2_1_3():
    """run FFC = 0x0242, OEM reboot = 0x4842, RAD TLinear enable SET = 0x4EC1 (docs/cci.md §3)."""
    assert command_word(CciModule.SYS, 0x10, CommandKind.RUN) == 0x0242
    assert command_word(CciModule.OEM, 0x10, CommandKind.RUN) == 0x4842
    assert command_word(CciModule.RAD, 0x30, CommandKind.SET) == 0x4EC1
    assert 0x0242 == 0b0000_0010_0100_0010


def test_command_constants_match_the_spec_table():
    """Every command the product uses has the GET/SET/RUN words of docs/cci.md §5."""
    get, set_, run = CommandKind.GET, CommandKind.SET, CommandKind.RUN
    assert cci_protocol.SYS_PING.word(run) == 0x0202
    assert cci_protocol.SYS_SERIAL_NUMBER.word(get) == 0x0208
    assert cci_protocol.SYS_UPTIME.word(get) == 0x020C
    assert cci_protocol.SYS_AUX_TEMPERATURE.word(get) == 0x0210
    assert cci_protocol.SYS_FPA_TEMPERATURE.word(get) == 0x0214
    assert (
        cci_protocol.SYS_TELEMETRY_ENABLE.word(get),
        cci_protocol.SYS_TELEMETRY_ENABLE.word(set_),
    ) == (
        0x0218,
        0x0219,
    )
    assert (
        cci_protocol.SYS_TELEMETRY_LOCATION.word(get),
        cci_protocol.SYS_TELEMETRY_LOCATION.word(set_),
    ) == (
        0x021C,
        0x021D,
    )
    assert cci_protocol.SYS_FFC.word(run) == 0x0242
    assert cci_protocol.SYS_FFC_STATUS.word(get) == 0x0244
    assert (cci_protocol.SYS_GAIN_MODE.word(get), cci_protocol.SYS_GAIN_MODE.word(set_)) == (
        0x0248,
        0x0249,
    )
    assert (cci_protocol.AGC_ENABLE.word(get), cci_protocol.AGC_ENABLE.word(set_)) == (
        0x0100,
        0x0101,
    )
    assert cci_protocol.OEM_PART_NUMBER.word(get) == 0x481C
    assert cci_protocol.OEM_REBOOT.word(run) == 0x4842
    assert (
        cci_protocol.RAD_TLINEAR_ENABLE.word(get),
        cci_protocol.RAD_TLINEAR_ENABLE.word(set_),
    ) == (0x4EC0, 0x4EC1)
    assert cci_protocol.RAD_TLINEAR_RESOLUTION.word(set_) == 0x4EC5
    assert (
        cci_protocol.RAD_FLUX_LINEAR_PARAMS.word(get),
        cci_protocol.RAD_FLUX_LINEAR_PARAMS.word(set_),
    ) == (0x4EBC, 0x4EBD)
    assert cci_protocol.RAD_FLUX_LINEAR_PARAMS.n_words == 8


def test_oem_bit_only_for_oem_and_rad():
    """Bit 14 is set for OEM and RAD commands and clear for AGC, SYS and VID."""
    for module in CciModule:
        word = command_word(module, 0, CommandKind.GET)
        assert bool(word & 0x4000) == (module in (CciModule.OEM, CciModule.RAD))
        assert (word >> 8) & 0xF == module


@pytest.mark.parametrize("index", [-1, 64])
def test_command_index_outside_six_bits_is_rejected(index):
    """The command index has bits 7-2 only: 0..63."""
    with pytest.raises(RangeError) as info:
        command_word(CciModule.SYS, index, CommandKind.GET)
    assert str(info.value) == f"CCI command index must be 0..63, got {index}"


def test_describe_command_names_known_words():
    """Messages show the word and the command's name and kind."""
    assert cci_protocol.describe_command(0x0242) == "0x0242 (SYS FFC RUN)"
    assert cci_protocol.describe_command(0x4EC1) == "0x4EC1 (RAD TLinear enable SET)"
    assert cci_protocol.describe_command(0x1234) == "0x1234"


# --- wire encoding ------------------------------------------------------------------


def test_wire_encoding_is_big_endian_address_then_words():
    """Register writes and reads are big-endian byte strings as in docs/cci.md §4."""
    assert encode_register_write(0x0006, [0x0000]) == bytes.fromhex("0006 0000")
    assert encode_register_write(0x0004, [0x0242]) == bytes.fromhex("0004 0242")
    assert encode_register_write(0x0008, [1, 0]) == bytes.fromhex("0008 0001 0000")
    assert encode_register_address(0x0008) == bytes.fromhex("0008")
    assert decode_words(bytes.fromhex("7795")) == [30613]
    assert decode_words(b"") == []


def test_multi_word_values_are_least_significant_word_first():
    """words_to_int / int_to_words: DATA0 holds the low 16 bits (IDD §2.1.8.1)."""
    assert words_to_int([0x3766, 0x0068]) == 0x0068_3766
    assert int_to_words(0x0068_3766, 2) == [0x3766, 0x0068]
    assert int_to_words(-1, 2) == [0xFFFF, 0xFFFF]
    assert signed32(words_to_int([0xFFFF, 0xFFFF])) == -1
    assert signed32(2) == 2


def test_status_word_encodes_busy_and_the_signed_response_code():
    """Status 0x0006 = booted and ready; 0x0007 = BUSY; bits 15-8 carry a signed code."""
    assert encode_status(0, busy=False) == 0x0006
    assert encode_status(0, busy=True) == 0x0007
    assert encode_status(-7, busy=False) == 0xF906
    assert response_code(0xF906) == -7
    assert response_code(0x0006) == 0
    assert response_name(-7) == "undefined function"
    assert response_name(-42) == "unknown response code"


@pytest.mark.parametrize("order", ["big", "little"])
def test_part_number_words_decode_in_either_byte_order(order):
    """The 16 part-number words decode whichever the byte order (docs/cci.md §5)."""
    words = part_number_to_words("500-0771-01", order)
    assert len(words) == 16
    assert part_number_from_words(words) == "500-0771-01"


def test_known_codes_decode_and_encode():
    """Each code table maps a code to its value and back."""
    assert decode_code("SYS gain mode", 2, GAIN_MODE_CODES) is GainMode.AUTO
    assert decode_code("AGC enable", 1, ENABLE_CODES) is True
    assert code_for(GAIN_MODE_CODES, GainMode.LOW) == 1


def test_unknown_code_raises_an_error_with_field_and_code():
    """A code not in the table: CciUnknownValueError naming field, code and the known codes."""
    with pytest.raises(CciUnknownValueError) as info:
        decode_code("SYS gain mode", 7, GAIN_MODE_CODES)
    error = info.value
    assert (error.field, error.code) == ("SYS gain mode", 7)
    assert error.allowed == "0 (HIGH), 1 (LOW), 2 (AUTO)"
    assert str(error) == (
        "the camera answered SYS gain mode with code 7, which this driver does not know "
        "(known: 0 (HIGH), 1 (LOW), 2 (AUTO))"
    )
    assert isinstance(error, CciError) and isinstance(error, LeptonError)
    assert not isinstance(error, (KeyError, ValueError))


def test_flux_params_power_on_words_are_what_a_lepton_35_reads_back():
    """1.0 is 0x2000 (3.13), 22 C is 0x734B (K x 100), in the SDK's field order (docs/cci.md §7)."""
    words = cci_protocol.flux_params_to_words(FluxLinearParams())
    assert words == [0x2000, 0x734B, 0x2000, 0x734B, 0x2000, 0x734B, 0x0000, 0x734B]
    assert cci_protocol.flux_params_from_words(words) == FluxLinearParams()


def test_flux_params_scale_each_field_in_its_place():
    """Emissivity 0.95 -> 7782, TBkg 30 C -> 30315, tauWindow 0.9 -> 7373, TWindow 40 C ->
    31315, reflWindow 0.05 -> 410; decoding gives the 3.13 and K x 100 values back."""
    params = FluxLinearParams(emissivity=0.95, background_k=303.15, window_transmission=0.9,
                              window_k=313.15, atmosphere_transmission=0.5, atmosphere_k=250.0,
                              window_reflection=0.05, window_reflected_k=280.0)
    words = cci_protocol.flux_params_to_words(params)
    assert words == [7782, 30315, 7373, 31315, 4096, 25000, 410, 28000]
    decoded = cci_protocol.flux_params_from_words(words)
    assert decoded.emissivity == 7782 / 8192 and decoded.window_transmission == 7373 / 8192
    assert decoded.window_reflection == 410 / 8192 and decoded.atmosphere_transmission == 0.5
    assert (decoded.background_k, decoded.window_k, decoded.atmosphere_k,
            decoded.window_reflected_k) == (303.15, 313.15, 250.0, 280.0)


def test_flux_params_words_outside_the_sdk_ranges_are_refused():
    """Emissivity word 81 (< 82) and a reflection above 8192 - tauWindow do not decode."""
    with pytest.raises(RangeError) as info:
        cci_protocol.flux_params_from_words([81, 29515, 8192, 29515, 8192, 29515, 0, 29515])
    assert str(info.value).startswith("emissivity must be 0.01..1")
    with pytest.raises(RangeError) as info:
        cci_protocol.flux_params_from_words([8192, 29515, 8000, 29515, 8192, 29515, 200, 29515])
    assert "window_reflection" in str(info.value)
