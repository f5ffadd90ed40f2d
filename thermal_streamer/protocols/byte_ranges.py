"""HTTP ``Range`` requests (RFC 9110 §14): which bytes of a file a client asks for. Pure.

Only a single range of ``bytes`` is honoured (what browsers and ``curl -C -`` send to
resume a download); anything else is answered with the whole file, as RFC 9110 allows.
Positions of any length are taken (ASCII digits only): one longer than
MAX_POSITION_DIGITS is past the end of any file, so it never reaches ``int()`` (which
refuses strings over 4,300 digits with a ValueError).
"""

from __future__ import annotations

import re

_SINGLE = re.compile(r"bytes=([0-9]*)-([0-9]*)")  # ASCII digits (\d takes any script's)
MAX_POSITION_DIGITS = 18  # 10**18 bytes (an exabyte) is past the end of any file here
BEYOND = 10**MAX_POSITION_DIGITS  # what a longer position stands for


class RangeNotSatisfiable(ValueError):
    """The range lies outside the file (answer 416 with ``Content-Range: bytes */size``).

    Attributes:
        size: the file's size, bytes.
    """

    def __init__(self, header: str, size: int):
        self.size = size
        super().__init__(f"range {header!r} is outside a {size}-byte file")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range ``[first, last]`` (inclusive) a Range header asks for.

    Args:
        header: the ``Range`` header's value, or None.
        size: the file's size, bytes (>= 0).

    Returns:
        (first, last), or None for the whole file (no header, another unit, several
        ranges, or a malformed one, all of which RFC 9110 §14.2 lets a server ignore).

    Raises:
        RangeNotSatisfiable: the range starts past the end, or asks for the last 0 bytes.
    """
    if header is None:
        return None
    match = _SINGLE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first_text, last_text = match.groups()
    if not first_text:  # bytes=-N: the last N bytes
        suffix = _position(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header, size)
        return max(size - suffix, 0), size - 1
    first = _position(first_text)
    last = _position(last_text) if last_text else size - 1
    if last_text and last < first:
        return None  # invalid: ignored (RFC 9110 §14.1.1)
    if first >= size:
        raise RangeNotSatisfiable(header, size)
    return first, min(last, size - 1)


def _position(digits: str) -> int:
    """A byte position from its ASCII digits; BEYOND for one too long to be a file's."""
    significant = digits.lstrip("0")  # (leading zeros count towards int()'s limit too)
    return int(significant or "0") if len(significant) <= MAX_POSITION_DIGITS else BEYOND
