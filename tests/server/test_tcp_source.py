"""server.sources.tcp: the >Q framing, fed whole, byte by byte and in odd chunks."""

import struct

import pytest

from server.sources.tcp import FrameLengthError, FrameSplitter


def framed(*frames: bytes) -> bytes:
    return b"".join(struct.pack(">Q", len(f)) + f for f in frames)


STREAM = framed(b"first", b"x", b"third frame") + struct.pack(">Q", 4) + b"pa"


@pytest.mark.parametrize("chunk", [len(STREAM), 1, 3, 7, 13])
def test_frames_in_any_chunking(chunk):
    """Frames come out whole and in order however the bytes are split; the rest waits."""
    splitter = FrameSplitter(100)
    frames = []
    for i in range(0, len(STREAM), chunk):
        frames += splitter.feed(STREAM[i:i + chunk])
    assert frames == [b"first", b"x", b"third frame"]
    assert splitter.buffered == 2  # "pa" of a 4-byte frame
    assert splitter.feed(b"rt") == [b"part"] and splitter.buffered == 0


@pytest.mark.parametrize("length, text", [
    (0, "frame length 0 is zero"),
    (101, "frame length 101 is over Max_Frame_Bytes = 100"),
    (1 << 40, "frame length 1099511627776 is over Max_Frame_Bytes = 100"),
])
def test_bad_length_raises_before_the_frame_arrives(length, text):
    """A length of 0 or over the limit raises as soon as its 8 bytes are in."""
    splitter = FrameSplitter(100)
    assert splitter.feed(framed(b"ok")) == [b"ok"]
    with pytest.raises(FrameLengthError) as error:
        splitter.feed(struct.pack(">Q", length))
    assert str(error.value) == text
    assert (error.value.length, error.value.limit) == (length, 100)


def test_limit_is_inclusive():
    """A frame of exactly Max_Frame_Bytes is accepted."""
    assert FrameSplitter(3).feed(framed(b"abc")) == [b"abc"]
