"""thermal_streamer.protocols.byte_ranges: the single byte ranges browsers and curl ask for."""

import pytest

from thermal_streamer.protocols.byte_ranges import RangeNotSatisfiable, parse_range


@pytest.mark.parametrize("header, expected", [
    (None, None),
    ("bytes=0-99", (0, 99)),
    ("bytes=100-", (100, 999)),
    ("bytes=-100", (900, 999)),
    ("bytes=-5000", (0, 999)),
    ("bytes=990-5000", (990, 999)),
    ("bytes=5-1", None),  # invalid: the whole file
    ("bytes=0-1,5-9", None),  # several ranges: the whole file
    ("items=0-1", None),
    ("bytes=-", None),
])
def test_ranges(header, expected):
    """A single byte range is clamped to a 1000-byte file; anything else means all of it."""
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=-0"])
def test_unsatisfiable(header):
    """A range past the end is 416, carrying the size for Content-Range."""
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, 1000)
    assert raised.value.size == 1000


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-99999999999999999999999", (0, 999)),
    ("bytes=0-" + "9" * 5000, (0, 999)),  # past int()'s 4,300 digits
    ("bytes=" + "0" * 5000 + "-9", (0, 9)),
    ("bytes=-" + "9" * 5000, (0, 999)),
    ("bytes=5-" + "0" * 5000 + "1", None),  # last < first: the whole file
    ("bytes=\u0661-\u0662", None),  # digits of another script are not a range
])
def test_positions_of_any_length(header, expected):
    """Positions too long for int() are past the end of any file: clamped, never a ValueError."""
    assert parse_range(header, 1000) == expected


def test_a_first_position_of_any_length_is_unsatisfiable():
    """bytes=<5000 digits>- starts past the end: 416, not a ValueError."""
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=" + "9" * 5000 + "-", 1000)
