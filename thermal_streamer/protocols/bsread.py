"""PSI bsread messages: the parts of one ZeroMQ multipart message in, decoded channels out.

Pure: no sockets, threads or clocks. :class:`BsreadParser` keeps one piece of state, the
data headers it has seen, keyed by their hash (§9). Every fact below cites a section
of ``docs/bsread.md`` as §N (built from PSI's Python, C++, Rust and Java
implementations and checked against captures of the real Python sender).

Decompression does not use the ``bitshuffle`` package, although it is installed:
``bitshuffle.decompress_lz4`` takes no input length and trusts the block lengths in the
stream, so a truncated or hostile value makes it read past the buffer (it crashed the
interpreter with SIGSEGV here on a truncated 640x480 image). The blocks are walked here
with bounds checks, each LZ4 block goes through ``lz4.block`` (which checks its
bounds), and the bit-unshuffle is the numpy inverse given in §8.2. The tests check it
against ``bitshuffle`` on well-formed input.

Error tree::

    BsreadError              the message is unusable (never raised for one bad channel)
    ├── HeaderError          a header part is unusable; ``reason`` says why
    │   ├── MainHeaderError  part 0 is not a bsread main header (§3)
    │   └── DataHeaderError  part 1 is no data header or cannot be decompressed (§4, §8, §9)
    └── PartCountError       the data header lists N channels, the message has not 2 + 2·N
                             parts (§2, §10.3)

A channel whose value cannot be decoded (wrong length, unknown type, corrupt
compression) does not fail the message: its value is None and the reason is in
:attr:`BsreadMessage.errors` (§10.5).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import struct
from collections.abc import Sequence
from typing import Any, TypeGuard

import lz4.block
import numpy as np

MAIN_HTYPE_PREFIX = "bsr_m"  # §3: "bsr_m-1.1"
DATA_HTYPE_PREFIX = "bsr_d"  # §4: accept any "bsr_d-*"
TIMESTAMP_BYTES = 16  # §7: sec then ns, unsigned 64-bit each
BITSHUFFLE_HEADER = struct.Struct(">qI")  # §8.2: uncompressed bytes, block size in bytes
BITSHUFFLE_BLOCK_LENGTH = struct.Struct(">I")  # §8.2: compressed length before each block
BITSHUFFLE_GROUP = 8  # §8.2: blocks hold a multiple of 8 elements; n % 8 are left raw
LZ4_LENGTH_BYTES = 4  # §8.3
LZ4_MAX_RATIO = 255  # an LZ4 block never expands more than this (one byte per 255 match bytes)
COMPRESSIONS = ("none", "bitshuffle_lz4", "lz4")  # §8; None / absent mean "none"
ENCODINGS = {"little": "<", "big": ">"}  # §4 `encoding`
TYPES = {  # §5: bsread type -> numpy type code (before the byte-order prefix)
    "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2",
    "int32": "i4", "uint32": "u4", "int64": "i8", "uint64": "u8",
    "float32": "f4", "float64": "f8", "bool": "u1", "string": "u1",
}
DEFAULT_TYPE, DEFAULT_SHAPE = "float64", (1,)  # §4 defaults (Java omits default keys)
DEFAULT_ENCODING, DEFAULT_COMPRESSION = "little", "none"
CACHE_SIZE = 8  # data headers remembered (§9: RS keeps a bounded map per endpoint)


class BsreadError(Exception):
    """A bsread message cannot be used; the message says which part and why."""


class HeaderError(BsreadError):
    """Part 0 or part 1 is not a usable header; subclasses name which.

    Attributes:
        header: which header ("main header", "data header").
        reason: what is wrong with it.
    """

    header = "header"

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"bad {self.header}: {reason}")


class MainHeaderError(HeaderError):
    """Part 0 is not a usable main header (§3)."""

    header = "main header"


class DataHeaderError(HeaderError):
    """Part 1 is not a usable data header (§4, §8, §9)."""

    header = "data header"


class PartCountError(BsreadError):
    """The data header does not match the message's parts (§2, §10.3).

    Attributes:
        channels: channels listed in the data header.
        parts: parts the message has.
    """

    def __init__(self, channels: int, parts: int):
        self.channels, self.parts = channels, parts
        super().__init__(f"data header lists {channels} channel{'s' * (channels != 1)}, so the "
                         f"message needs {2 + 2 * channels} parts, not {parts}")


class _ChannelError(Exception):
    """One channel cannot be decoded; becomes an entry of BsreadMessage.errors."""


@dataclasses.dataclass(frozen=True)
class ChannelInfo:
    """One entry of the data header's ``channels`` list, with §4's defaults applied.

    Attributes:
        name: the channel's name.
        type: bsread type name (§5), e.g. "uint16"; "float64" when absent.
        shape: dimensions as declared, **fastest first** (§6); (1,) is a scalar.
        encoding: "little" or "big" (byte order of the value and its timestamp, §4, §7).
        compression: "none", "bitshuffle_lz4" or "lz4" (§8).
        problem: why values of this channel cannot be decoded (unknown type, bad
            shape, ...), or None.
    """

    name: str
    type: str = DEFAULT_TYPE
    shape: tuple[int, ...] = DEFAULT_SHAPE
    encoding: str = DEFAULT_ENCODING
    compression: str = DEFAULT_COMPRESSION
    problem: str | None = None

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of one element, byte order included (§5); strings are bytes."""
        return np.dtype(ENCODINGS[self.encoding] + TYPES[self.type])

    @property
    def numpy_shape(self) -> tuple[int, ...]:
        """The shape numpy uses, slowest first: ``reversed(shape)`` (§6)."""
        return tuple(reversed(self.shape))

    @property
    def is_scalar(self) -> bool:
        """True for shape [1] (or []): the value is a plain number or string (§6)."""
        return self.type == "string" or (len(self.shape) <= 1 and math.prod(self.shape) == 1)

    @property
    def value_bytes(self) -> int | None:
        """Bytes an uncompressed value must have: product(shape) x element size (§6); None
        for strings (any length)."""
        if self.type == "string":
            return None
        return math.prod(self.shape) * self.dtype.itemsize


@dataclasses.dataclass(frozen=True)
class DataHeader:
    """A parsed data header (part 1, §4).

    Attributes:
        htype: its ``htype``, e.g. "bsr_d-1.1" ("" when absent).
        channels: the channels, in part order (channel i's value is part 2 + 2i).
        hash: the main header's ``hash`` it was found under (§9).
    """

    htype: str
    channels: tuple[ChannelInfo, ...]
    hash: str


@dataclasses.dataclass(frozen=True, eq=False)
class BsreadMessage:
    """One decoded bsread message.

    Attributes:
        pulse_id: the pulse (event) number, >= 0 (§3).
        global_timestamp: (sec, ns) since the Unix epoch, or None when absent (§3).
        hash: MD5 hex of the data header as sent (§3, §9).
        data_header: the channels' descriptions.
        data_header_changed: True when this message's hash differs from the previous
            message's (the first message counts as changed) (§9).
        values: {name: value}: None (no value this pulse, §7, or undecodable, see
            ``errors``), a Python int/float/bool/str for scalars, else a read-only
            ndarray of the channel's dtype and numpy shape (slowest first, §6) that may
            share memory with the part it came from.
        timestamps: {name: (sec, ns)} for channels with a value; the global timestamp
            when the channel's own part is empty or not 16 bytes, None when there is
            no global timestamp either (§7).
        errors: {name: reason} for channels whose value could not be decoded (§10.5).
        size_bytes: sum of the lengths of all parts (§10.6 ``total_bytes_received``).
    """

    pulse_id: int
    global_timestamp: tuple[int, int] | None
    hash: str
    data_header: DataHeader
    data_header_changed: bool
    values: dict[str, Any]
    timestamps: dict[str, tuple[int, int] | None]
    errors: dict[str, str]
    size_bytes: int

    @property
    def timestamp(self) -> float | None:
        """The global timestamp in Unix seconds, or None."""
        if self.global_timestamp is None:
            return None
        sec, ns = self.global_timestamp
        return sec + ns / 1e9


class BsreadParser:
    """Decodes bsread messages, remembering data headers by hash (§9).

    Not thread-safe: one parser per receiving socket.

    Args:
        cache_size: how many data headers to remember (>= 1).

    Attributes:
        data_header_parses: how many times a data header was decompressed and parsed
            (a cache miss).
    """

    def __init__(self, cache_size: int = CACHE_SIZE):
        self._cache: collections.OrderedDict[str, DataHeader] = collections.OrderedDict()
        self._cache_size = max(1, cache_size)
        self._last_hash: str | None = None
        self.data_header_parses = 0

    def parse(self, parts: Sequence[bytes], decode_values: bool = True) -> BsreadMessage:
        """Decode one message (§10).

        Args:
            parts: the ZeroMQ parts, as bytes (or buffers).
            decode_values: False checks the headers and the part count only; ``values``
                then holds None for every channel and ``timestamps`` is empty (cheap: for
                messages nobody will look at).

        Returns:
            The message. It may share memory with ``parts``.

        Raises:
            MainHeaderError: fewer than 2 parts, or part 0 is not a main header.
            DataHeaderError: part 1 cannot be decompressed or parsed.
            PartCountError: the number of parts is not 2 + 2 x channels.
        """
        if len(parts) < 2:
            raise MainHeaderError(f"a message has at least 2 parts, this one has {len(parts)}")
        pulse_id, global_ts, hash_, dh_compression = _parse_main_header(parts[0])
        header = self._data_header(hash_, parts[1], dh_compression)
        changed = hash_ != self._last_hash
        self._last_hash = hash_
        channels = header.channels
        if len(parts) != 2 + 2 * len(channels):
            raise PartCountError(len(channels), len(parts))
        values: dict[str, Any] = {}
        timestamps: dict[str, tuple[int, int] | None] = {}
        errors: dict[str, str] = {}
        for i, channel in enumerate(channels):
            value_part = parts[2 + 2 * i]
            values[channel.name] = None
            if not decode_values or not len(value_part):
                continue  # §7: empty value part = no value this pulse
            try:
                values[channel.name] = _decode_value(channel, value_part)
            except _ChannelError as exc:
                errors[channel.name] = str(exc)
                continue
            timestamps[channel.name] = _timestamp(channel, parts[3 + 2 * i], global_ts)
        return BsreadMessage(pulse_id, global_ts, hash_, header, changed, values, timestamps,
                             errors, sum(len(p) for p in parts))

    def _data_header(self, hash_: str, part: bytes, compression: str) -> DataHeader:
        """The data header for ``hash_``: from the cache, or parsed from ``part`` (§9)."""
        header = self._cache.get(hash_)
        if header is not None:
            self._cache.move_to_end(hash_)
            return header
        self.data_header_parses += 1
        header = _parse_data_header(part, compression, hash_)
        # Cache only what the hash really names: a sender with a wrong hash gets its data
        # header parsed every time instead of a stale one reused (§9 "optional check").
        if hashlib.md5(part).hexdigest() == hash_:
            self._cache[hash_] = header
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return header


def _json_object(data: bytes, error: type[HeaderError]) -> dict:
    """``data`` parsed as a UTF-8 JSON object; raises ``error`` when it is not one."""
    try:
        value = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"not UTF-8 JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise error(f"{error.header} is a JSON {type(value).__name__}, not an object")
    return value


def _is_int(value: Any) -> TypeGuard[int]:
    """True for an int that is not a bool (JSON ``true`` is no number here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_main_header(part: bytes) -> tuple[int, tuple[int, int] | None, str, str]:
    """Part 0 (§3) -> (pulse_id, global timestamp or None, hash, dh_compression)."""
    header = _json_object(part, MainHeaderError)
    htype = header.get("htype")
    if not isinstance(htype, str) or not htype.startswith(MAIN_HTYPE_PREFIX):
        raise MainHeaderError(f"htype {htype!r} does not start with {MAIN_HTYPE_PREFIX!r}")
    pulse_id = header.get("pulse_id")
    if not _is_int(pulse_id) or not 0 <= pulse_id < 1 << 64:
        raise MainHeaderError(f"pulse_id {pulse_id!r} is not an integer from 0 to 2**64-1")
    hash_ = header.get("hash")
    if not isinstance(hash_, str) or not hash_:
        raise MainHeaderError(f"hash {hash_!r} is not a non-empty string")
    compression = header.get("dh_compression")
    compression = DEFAULT_COMPRESSION if compression is None else compression
    if not isinstance(compression, str) or compression not in COMPRESSIONS:
        raise MainHeaderError(f"dh_compression {compression!r} is not one of "
                              + ", ".join(COMPRESSIONS))
    timestamp = header.get("global_timestamp")
    if timestamp is not None:
        sec = timestamp.get("sec", timestamp.get("epoch")) if isinstance(timestamp, dict) else None
        ns = timestamp.get("ns") if isinstance(timestamp, dict) else None
        if not (_is_int(sec) and _is_int(ns) and 0 <= sec < 1 << 64 and 0 <= ns < 1_000_000_000):
            raise MainHeaderError(f"global_timestamp {timestamp!r} is not "
                                  '{"sec": seconds, "ns": 0..999999999}')
        timestamp = (sec, ns)
    return pulse_id, timestamp, hash_, compression


def _parse_data_header(part: bytes, compression: str, hash_: str) -> DataHeader:
    """Part 1 (§4), decompressed per the main header's ``dh_compression`` (§3, §8)."""
    try:
        if compression == "bitshuffle_lz4":
            part = bitshuffle_lz4_decompress(part, 1)  # §8.2: element size 1
        elif compression == "lz4":
            part = lz4_decompress(part, None)
    except _ChannelError as exc:
        raise DataHeaderError(f"{compression}: {exc}") from None
    header = _json_object(part, DataHeaderError)
    htype = header.get("htype", "")
    if not isinstance(htype, str) or htype and not htype.startswith(DATA_HTYPE_PREFIX):
        raise DataHeaderError(f"htype {htype!r} does not start with {DATA_HTYPE_PREFIX!r}")
    entries = header.get("channels")
    if not isinstance(entries, list):
        raise DataHeaderError("channels is not a list")
    channels = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise DataHeaderError(f"channel {i} is not an object with a name")
        channels.append(_channel_info(entry))
    return DataHeader(htype, tuple(channels), hash_)


def _channel_info(entry: dict) -> ChannelInfo:
    """One ``channels`` entry with §4's defaults; what cannot be decoded goes in ``problem``."""
    name = entry["name"]
    type_ = entry.get("type", DEFAULT_TYPE)
    shape = entry.get("shape", list(DEFAULT_SHAPE))
    encoding = entry.get("encoding", DEFAULT_ENCODING)
    compression = entry.get("compression", DEFAULT_COMPRESSION)
    compression = DEFAULT_COMPRESSION if compression is None else compression
    problem = None
    if not isinstance(type_, str) or type_ not in TYPES:
        problem, type_ = f"unknown type {type_!r}", DEFAULT_TYPE
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        problem, shape = problem or f"shape {shape!r} is not a list of sizes", DEFAULT_SHAPE
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        problem, encoding = problem or f"unknown encoding {encoding!r}", DEFAULT_ENCODING
    if not isinstance(compression, str) or compression not in COMPRESSIONS:
        problem = problem or f"unknown compression {compression!r}"
        compression = DEFAULT_COMPRESSION
    return ChannelInfo(name, type_, tuple(shape), encoding, compression, problem)


def _decode_value(channel: ChannelInfo, part: bytes) -> Any:
    """A non-empty value part (§7) -> number, string or ndarray; raises _ChannelError."""
    if channel.problem:
        raise _ChannelError(channel.problem)
    expected = channel.value_bytes
    if channel.compression == "bitshuffle_lz4":
        data = bitshuffle_lz4_decompress(part, channel.dtype.itemsize, expected)
    elif channel.compression == "lz4":
        data = lz4_decompress(part, expected)
    else:
        data = part
    if channel.type == "string":
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise _ChannelError("string value is not UTF-8") from None
    if len(data) != expected:
        raise _ChannelError(f"value has {len(data)} bytes; shape {list(channel.shape)} of "
                            f"{channel.type} needs {expected}")
    array = np.frombuffer(data, channel.dtype)
    if channel.type == "bool":
        array = array != 0  # §5: one byte per element, any non-zero is true
    if channel.is_scalar:
        return array[0].item()  # §6: shape [1] is a plain number
    return array.reshape(channel.numpy_shape)


def _timestamp(channel: ChannelInfo, part: bytes,
               global_ts: tuple[int, int] | None) -> tuple[int, int] | None:
    """A timestamp part (§7): 16 bytes in the channel's byte order, else the global one."""
    if len(part) != TIMESTAMP_BYTES:
        return global_ts  # §7: STD sends an empty part; RS then uses the global timestamp
    return struct.unpack(ENCODINGS[channel.encoding] + "QQ", part)


def _check_ratio(size: int, compressed: int) -> None:
    if size > LZ4_MAX_RATIO * compressed + 64:
        raise _ChannelError(f"claims {size} bytes from {compressed} compressed bytes")


def bitshuffle_lz4_decompress(part: bytes, elem_size: int, expected: int | None = None) -> bytes:
    """Undo bsread's ``bitshuffle_lz4`` compression (§8.2).

    Args:
        part: the compressed part: 8-byte big-endian size in bytes, 4-byte big-endian
            block size in bytes, then the blocks and the raw leftover elements.
        elem_size: bytes per element (1 for the data header, §8.2).
        expected: the size in bytes the result must have, if known.

    Returns:
        The uncompressed bytes, in element order.

    Raises:
        _ChannelError: the part is truncated, inconsistent or corrupt (never reads past it).
    """
    view = memoryview(part).cast("B")
    if len(view) < BITSHUFFLE_HEADER.size:
        raise _ChannelError(f"{len(view)} bytes is shorter than the "
                            f"{BITSHUFFLE_HEADER.size}-byte bitshuffle header")
    size, block_bytes = BITSHUFFLE_HEADER.unpack_from(view)
    if expected is not None and size != expected:
        raise _ChannelError(f"uncompressed size {size} bytes; the data header needs {expected}")
    if size < 0 or size % elem_size:
        raise _ChannelError(f"uncompressed size {size} is not a multiple of {elem_size} bytes")
    _check_ratio(size, len(view))
    block = block_bytes // elem_size
    if block_bytes % elem_size or block <= 0 or block % BITSHUFFLE_GROUP:
        raise _ChannelError(f"block size {block_bytes} bytes is not a multiple of "
                            f"{BITSHUFFLE_GROUP} elements of {elem_size} bytes")
    n = size // elem_size
    tail = n % block - n % block % BITSHUFFLE_GROUP
    sizes = [block] * (n // block) + ([tail] if tail else [])
    pos = BITSHUFFLE_HEADER.size
    blocks: list[bytes] = []
    for m in sizes:
        if pos + BITSHUFFLE_BLOCK_LENGTH.size > len(view):
            raise _ChannelError("truncated: a block's length is missing")
        (c,) = BITSHUFFLE_BLOCK_LENGTH.unpack_from(view, pos)
        pos += BITSHUFFLE_BLOCK_LENGTH.size
        if pos + c > len(view):
            raise _ChannelError(f"truncated: a block of {c} bytes does not fit")
        want = m * elem_size
        try:
            shuffled = lz4.block.decompress(view[pos:pos + c], uncompressed_size=want)
        except lz4.block.LZ4BlockError:
            raise _ChannelError("corrupt LZ4 block") from None
        if len(shuffled) != want:
            raise _ChannelError(f"an LZ4 block gave {len(shuffled)} bytes, not {want}")
        blocks.append(shuffled)
        pos += c
    out = bytearray()
    if n // block:  # the full blocks, unshuffled together
        out += bit_unshuffle(b"".join(blocks[:n // block]), block, elem_size)
    if tail:
        out += bit_unshuffle(blocks[-1], tail, elem_size)
    leftover = n % BITSHUFFLE_GROUP * elem_size
    if len(view) - pos != leftover:
        raise _ChannelError(f"{len(view) - pos} bytes after the blocks; expected {leftover} "
                            "leftover bytes")
    out += view[pos:]
    return bytes(out)


def bit_unshuffle(data: bytes, m: int, elem_size: int) -> bytes:
    """Inverse of bitshuffle for consecutive blocks of ``m`` elements (§8.2).

    Each block is ``8·elem_size`` bit rows of ``m/8`` bytes; row ``8k + j`` holds bit
    ``j`` (LSB first) of byte ``k`` of every element.

    Args:
        data: whole blocks, ``m * elem_size`` bytes each; ``m`` a multiple of 8.

    Returns:
        The elements' bytes in memory order, as long as ``data``.
    """
    s = elem_size
    rows = np.frombuffer(data, np.uint8).reshape(-1, 8 * s, m // 8)
    bits = np.unpackbits(rows, axis=2, bitorder="little")  # (blocks, 8s, m)
    bits = bits.reshape(-1, s, 8, m).transpose(0, 3, 1, 2)  # (blocks, m, s, 8)
    return np.packbits(bits, axis=3, bitorder="little").tobytes()


def lz4_decompress(part: bytes, expected: int | None) -> bytes:
    """Undo bsread's ``lz4`` compression: a 4-byte length, then one LZ4 block (§8.3).

    The length's byte order differs between implementations (§8.3, unconfirmed), so
    the one that matches ``expected`` (or, without it, the first that decompresses,
    big-endian first) is used.

    Raises:
        _ChannelError: neither byte order gives a plausible length, or the block is corrupt.
    """
    view = memoryview(part).cast("B")
    if len(view) < LZ4_LENGTH_BYTES:
        raise _ChannelError(f"{len(view)} bytes is shorter than the 4-byte lz4 length")
    head = bytes(view[:LZ4_LENGTH_BYTES])
    candidates = dict.fromkeys(int.from_bytes(head, order) for order in ("big", "little"))
    sizes = [s for s in candidates if expected is None or s == expected]
    sizes = [s for s in sizes if s <= LZ4_MAX_RATIO * len(view) + 64]
    for size in sizes:
        try:
            data = lz4.block.decompress(view[LZ4_LENGTH_BYTES:], uncompressed_size=size)
        except lz4.block.LZ4BlockError:
            continue
        if len(data) == size:
            return data
    raise _ChannelError("no plausible lz4 length" if not sizes else "corrupt LZ4 block")
