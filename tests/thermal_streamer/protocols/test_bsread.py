"""thermal_streamer.protocols.bsread: the worked examples of docs/bsread.md decode to the stated
values."""

import contextlib
import hashlib
import json
import struct

import bitshuffle
import lz4.block
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thermal_streamer.protocols.bsread import (
    BsreadError,
    BsreadParser,
    DataHeaderError,
    MainHeaderError,
    PartCountError,
    bitshuffle_lz4_decompress,
)

# §11: the real Python sender's message, byte for byte
DATA_HEADER = (b'{"htype": "bsr_d-1.1", "channels": [{"name": "image", "type": "uint16", "shape": '
               b'[3, 2], "encoding": "little"}, {"name": "temp_min", "type": "float64", "shape": '
               b'[1], "encoding": "little"}, {"name": "temp_max", "type": "float64", "shape": '
               b'[1], "encoding": "little"}]}')
MAIN_HEADER = (b'{"htype": "bsr_m-1.1", "hash": "02b622fe6182389a336f0e78bcff3111", "pulse_id": '
               b'1000, "global_timestamp": {"sec": 1700000000, "ns": 123456789}}')
TIMESTAMP = bytes.fromhex("00F1536500000000" "15CD5B0700000000")
IMAGE = bytes.fromhex("010002000300000100 02FFFF".replace(" ", ""))
TEMP_MIN, TEMP_MAX = bytes.fromhex("0000000000803540"), bytes.fromhex("0000000000204240")
EXAMPLE = [MAIN_HEADER, DATA_HEADER, IMAGE, TIMESTAMP, TEMP_MIN, TIMESTAMP, TEMP_MAX, TIMESTAMP]

# §11, the same message with data_compression="bitshuffle_lz4"
COMPRESSED_DATA_HEADER = DATA_HEADER.replace(
    b'"encoding": "little"}', b'"encoding": "little", "compression": "bitshuffle_lz4"}')
COMPRESSED_HASH = "ed8b20472bc1f5de6c56b5597445e96a"
COMPRESSED_IMAGE = bytes.fromhex("000000000000000C" "00002000" "010002000300000100 02FFFF"
                                 .replace(" ", ""))
COMPRESSED_TEMP_MIN = bytes.fromhex("0000000000000008" "00002000" "0000000000803540")
COMPRESSED_TEMP_MAX = bytes.fromhex("0000000000000008" "00002000" "0000000000204240")
# §11, "a real compressed block": 4x4 uint16 v[r][c] = 257·(4r+c)
REAL_BLOCK = bytes.fromhex("0000000000000020" "00002000" "00000015"
                           "93AAAACCCCF0F000FF00010007100050000000 0000".replace(" ", ""))


def main_header(hash_: str, pulse_id: int = 1000, **extra) -> bytes:
    return json.dumps({"htype": "bsr_m-1.1", "hash": hash_, "pulse_id": pulse_id,
                       "global_timestamp": {"sec": 1700000000, "ns": 123456789}, **extra}).encode()


def message(channels: list[dict], values: list[bytes], timestamps=None, pulse_id=1) -> list[bytes]:
    """A plain bsread message with the given channel entries and value parts."""
    dh = json.dumps({"htype": "bsr_d-1.1", "channels": channels}).encode()
    parts = [main_header(hashlib.md5(dh).hexdigest(), pulse_id), dh]
    for i, value in enumerate(values):
        parts += [value, TIMESTAMP if timestamps is None else timestamps[i]]
    return parts


def bsread_bitshuffle(array: np.ndarray) -> bytes:
    """Compress like the PY sender (§8.2) with the bitshuffle package."""
    size = array.dtype.itemsize
    block = max(128, 8192 // size // 8 * 8)
    body = bitshuffle.compress_lz4(np.ascontiguousarray(array).reshape(-1), block)
    return struct.pack(">qI", array.nbytes, block * size) + body.tobytes()


def test_worked_example_plain():
    """§11's plain message: image (2, 3) uint16, two float64 scalars, the global timestamp."""
    assert hashlib.md5(DATA_HEADER).hexdigest() == "02b622fe6182389a336f0e78bcff3111"
    assert (len(MAIN_HEADER), len(DATA_HEADER)) == (142, 266)
    msg = BsreadParser().parse(EXAMPLE)
    assert msg.pulse_id == 1000 and msg.global_timestamp == (1700000000, 123456789)
    assert msg.timestamp == pytest.approx(1700000000.123456789)
    image = msg.values["image"]
    assert image.dtype == np.dtype("<u2") and image.shape == (2, 3)
    assert image.tolist() == [[1, 2, 3], [256, 512, 65535]]
    assert msg.values["temp_min"] == 21.5 and msg.values["temp_max"] == 36.25
    assert msg.timestamps == {name: (1700000000, 123456789)
                              for name in ("image", "temp_min", "temp_max")}
    assert msg.errors == {} and msg.data_header_changed and msg.size_bytes == 484


def test_worked_example_bitshuffle_values():
    """§11's message with bitshuffle_lz4 values (all leftover elements) decodes the same."""
    assert (len(COMPRESSED_DATA_HEADER),
            hashlib.md5(COMPRESSED_DATA_HEADER).hexdigest()) == (365, COMPRESSED_HASH)
    parts = [main_header(COMPRESSED_HASH), COMPRESSED_DATA_HEADER, COMPRESSED_IMAGE, TIMESTAMP,
             COMPRESSED_TEMP_MIN, TIMESTAMP, COMPRESSED_TEMP_MAX, TIMESTAMP]
    msg = BsreadParser().parse(parts)
    assert msg.values["image"].tolist() == [[1, 2, 3], [256, 512, 65535]]
    assert (msg.values["temp_min"], msg.values["temp_max"]) == (21.5, 36.25)
    assert [c.compression for c in msg.data_header.channels] == ["bitshuffle_lz4"] * 3


def test_real_compressed_block():
    """§11's 37-byte compressed 4x4 image decodes to 257·(4r+c); the package agrees."""
    expected = (257 * np.arange(16, dtype="<u2")).reshape(4, 4)
    assert bitshuffle_lz4_decompress(REAL_BLOCK, 2, 32) == expected.tobytes()
    assert bsread_bitshuffle(expected) == REAL_BLOCK
    parts = message([{"name": "img", "type": "uint16", "shape": [4, 4],
                      "compression": "bitshuffle_lz4"}], [REAL_BLOCK])
    assert np.array_equal(BsreadParser().parse(parts).values["img"], expected)


def test_compressed_data_header():
    """§11's bitshuffle_lz4 data header: 259 bytes, hash 918326f3..., decodes to the JSON."""
    part1 = bsread_bitshuffle(np.frombuffer(DATA_HEADER, np.uint8))
    assert len(part1) == 259 and part1.startswith(bytes.fromhex("000000000000010A00002000000000F1"))
    assert hashlib.md5(part1).hexdigest() == "918326f3267c1cec36347c083135ce1d"
    parts = [main_header("918326f3267c1cec36347c083135ce1d", dh_compression="bitshuffle_lz4"),
             part1, *EXAMPLE[2:]]
    msg = BsreadParser().parse(parts)
    assert [c.name for c in msg.data_header.channels] == ["image", "temp_min", "temp_max"]
    assert msg.values["temp_max"] == 36.25


@pytest.mark.parametrize("order", ["big", "little"])
def test_lz4_data_header_and_values_either_length_order(order):
    """§8.3: an lz4 length written big- or little-endian is read by its plausible value."""
    image = np.arange(12, dtype="<u2")
    value = len(image.tobytes()).to_bytes(4, order) + lz4.block.compress(
        image.tobytes(), store_size=False)
    dh = json.dumps({"htype": "bsr_d-1.1", "channels": [
        {"name": "img", "type": "uint16", "shape": [4, 3], "compression": "lz4"}]}).encode()
    part1 = len(dh).to_bytes(4, order) + lz4.block.compress(dh, store_size=False)
    parts = [main_header(hashlib.md5(part1).hexdigest(), dh_compression="lz4"), part1,
             value, TIMESTAMP]
    assert BsreadParser().parse(parts).values["img"].tolist() == image.reshape(3, 4).tolist()


def test_data_header_cached_by_hash():
    """§9: a known hash reuses the parsed header (part 1 not read); a new hash is parsed."""
    parser = BsreadParser()
    first, second = parser.parse(EXAMPLE), parser.parse(EXAMPLE[:1] + [b"ignored"] + EXAMPLE[2:])
    assert parser.data_header_parses == 1
    assert first.data_header_changed and not second.data_header_changed
    assert second.values["temp_min"] == 21.5
    other = message([{"name": "x", "type": "int32"}], [struct.pack("<i", -5)])
    assert parser.parse(other).values == {"x": -5} and parser.data_header_parses == 2
    assert parser.parse(EXAMPLE).data_header_changed and parser.data_header_parses == 2


def test_wrong_hash_is_not_cached():
    """A data header whose MD5 is not its hash is parsed every time, never reused stale."""
    parser = BsreadParser()
    parts = [main_header("0" * 32), *EXAMPLE[1:]]
    parser.parse(parts)
    parser.parse(parts)
    assert parser.data_header_parses == 2


def test_part_count_mismatch_raises():
    """A data header that does not match the parts raises PartCountError with its counts."""
    with pytest.raises(PartCountError) as error:
        BsreadParser().parse(EXAMPLE[:6])
    assert str(error.value) == "data header lists 3 channels, so the message needs 8 parts, not 6"
    assert (error.value.channels, error.value.parts) == (3, 6)


def test_value_length_mismatch_is_a_channel_error():
    """§10.5: a value of the wrong length makes that channel None; the others decode."""
    msg = BsreadParser().parse(EXAMPLE[:2] + [IMAGE[:10]] + EXAMPLE[3:])
    assert msg.values["image"] is None and msg.values["temp_max"] == 36.25
    assert msg.errors == {"image": "value has 10 bytes; shape [3, 2] of uint16 needs 12"}


def test_truncated_compressed_value_is_a_channel_error():
    """A truncated bitshuffle_lz4 image is a channel error (bitshuffle itself would crash)."""
    image = (np.arange(480 * 640) % 4000).astype("<u2")
    truncated = bsread_bitshuffle(image)[:20000]
    parts = message([{"name": "img", "type": "uint16", "shape": [640, 480],
                      "compression": "bitshuffle_lz4"}], [truncated])
    msg = BsreadParser().parse(parts)
    assert msg.values == {"img": None}
    assert msg.errors["img"].startswith("truncated: a block of ")


def test_empty_parts_defaults_and_byte_order():
    """§4 defaults (type float64, shape [1]); §7 empty value -> None, empty timestamp -> global;
    big-endian values and timestamps; strings and bools."""
    channels = [{"name": "bare"}, {"name": "gone", "type": "int16"},
                {"name": "big", "type": "int32", "shape": [2], "encoding": "big"},
                {"name": "text", "type": "string"}, {"name": "flag", "type": "bool"},
                {"name": "odd", "type": "complex128"}]
    values = [struct.pack("<d", 2.5), b"", struct.pack(">ii", 1, -2), "héllo".encode(),
              b"\x01", b"\x00" * 16]
    stamps = [b"", b"", struct.pack(">QQ", 5, 6), TIMESTAMP, TIMESTAMP, TIMESTAMP]
    msg = BsreadParser().parse(message(channels, values, stamps))
    assert msg.values["bare"] == 2.5 and msg.timestamps["bare"] == (1700000000, 123456789)
    assert msg.values["gone"] is None and "gone" not in msg.timestamps
    assert msg.values["big"].tolist() == [1, -2] and msg.timestamps["big"] == (5, 6)
    assert msg.values["text"] == "héllo" and msg.values["flag"] is True
    assert msg.values["odd"] is None and msg.errors == {"odd": "unknown type 'complex128'"}


@pytest.mark.parametrize("parts, text", [
    ([MAIN_HEADER], "bad main header: a message has at least 2 parts, this one has 1"),
    ([b"\xff", DATA_HEADER], "bad main header: not UTF-8 JSON (UnicodeDecodeError)"),
    ([b"[1]", DATA_HEADER], "bad main header: main header is a JSON list, not an object"),
    ([b'{"htype": "bsr_m-1.1", "hash": "x"}', DATA_HEADER],
     "bad main header: pulse_id None is not an integer from 0 to 2**64-1"),
    ([main_header("x", dh_compression="zip"), DATA_HEADER],
     "bad main header: dh_compression 'zip' is not one of none, bitshuffle_lz4, lz4"),
    ([main_header("x"), b'{"htype": "bsr_d-1.1", "channels": {}}'],
     "bad data header: channels is not a list"),
    ([main_header("x"), b'{"channels": [{"type": "int8"}]}'],
     "bad data header: channel 0 is not an object with a name"),
    ([main_header("x", dh_compression="bitshuffle_lz4"), b"\x00" * 5],
     "bad data header: bitshuffle_lz4: 5 bytes is shorter than the 12-byte bitshuffle header"),
])
def test_bad_headers_raise_with_exact_text(parts, text):
    """An unusable main or data header raises the parser's error naming the problem."""
    with pytest.raises(BsreadError) as error:
        BsreadParser().parse(parts)
    assert str(error.value) == text
    assert isinstance(error.value, MainHeaderError if "main" in text else DataHeaderError)
    assert error.value.reason == text.split(": ", 1)[1]


DTYPES = ["u1", "<u2", ">u2", "<i4", ">i4", "<f8", ">f8", "<u8"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DTYPES), st.integers(0, 5000), st.integers(0, 2**32 - 1))
def test_bitshuffle_matches_the_package(dtype, n, seed):
    """§8.2: our decoder gives the bitshuffle package's input back for any length and type."""
    data = np.random.default_rng(seed).integers(0, 40, n).astype(dtype)  # compressible-ish
    assert bitshuffle_lz4_decompress(bsread_bitshuffle(data), data.dtype.itemsize,
                                     data.nbytes) == data.tobytes()


def mutated(parts: list[bytes], data) -> list[bytes]:
    """The example with a part replaced, truncated, dropped or its JSON changed."""
    parts = list(parts)
    i = data.draw(st.integers(0, len(parts) - 1))
    action = data.draw(st.sampled_from(["bytes", "truncate", "drop", "json"]))
    if action == "bytes":
        parts[i] = data.draw(st.binary(max_size=40))
    elif action == "truncate":
        parts[i] = parts[i][:data.draw(st.integers(0, len(parts[i])))]
    elif action == "drop":
        del parts[i]
    else:
        j = data.draw(st.integers(0, 1))
        obj = json.loads(parts[j])
        target = obj if j == 0 or data.draw(st.booleans()) else obj["channels"][0]
        key = data.draw(st.sampled_from(sorted(target) + ["x"]))
        target[key] = data.draw(st.recursive(
            st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner,
                                                                        max_size=3),
            max_leaves=6))
        parts[j] = json.dumps(obj).encode()
    return parts


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_parts_raise_only_bsread_errors(parts):
    """Any list of parts decodes or raises BsreadError, never anything else."""
    with contextlib.suppress(BsreadError):
        BsreadParser().parse(parts)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["plain", "compressed"]), st.data())
def test_mutated_examples_raise_only_bsread_errors(kind, data):
    """The worked examples with a part broken decode (maybe with channel errors) or raise
    BsreadError, never anything else."""
    base = EXAMPLE if kind == "plain" else [
        main_header(COMPRESSED_HASH), COMPRESSED_DATA_HEADER, REAL_BLOCK[:12] + REAL_BLOCK[12:],
        TIMESTAMP, COMPRESSED_TEMP_MIN, TIMESTAMP, COMPRESSED_TEMP_MAX, TIMESTAMP]
    try:
        msg = BsreadParser().parse(mutated(base, data))
    except BsreadError:
        return
    assert set(msg.errors) <= set(msg.values)
