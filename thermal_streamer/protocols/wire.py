"""Wire formats of the WebSocket protocols (docs/protocol.md §5). Pure: values in, bytes out.

``/stream`` binary frame message::

    uint32 big-endian N | N bytes UTF-8 JSON header | jpeg_size bytes JPEG | optional raw

Text messages are JSON objects with a ``type``: ``hello``, ``state``, ``error``.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Mapping
from typing import Any

PROTOCOL_VERSION = 1
MJPEG_BOUNDARY = "thermalframe"  # multipart/x-mixed-replace boundary of /stream.mjpg
HEADER_LENGTH = struct.Struct(">I")
MAX_COMMAND_BYTES = 4096  # client messages larger than this close the connection (1009)


def frame_message(header: Mapping[str, Any], jpeg: bytes, raw: bytes | None = None) -> bytes:
    """Build a ``/stream`` binary frame message.

    Args:
        header: header fields; ``jpeg_size`` must equal ``len(jpeg)``.
        jpeg: JPEG bytes.
        raw: raw frame bytes (rows*cols uint16 little-endian) or None.
    """
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return b"".join((HEADER_LENGTH.pack(len(encoded)), encoded, jpeg, raw or b""))


def parse_frame_message(message: bytes) -> tuple[dict, bytes, bytes]:
    """Split a ``/stream`` binary message into (header, jpeg, raw bytes or b"").

    The inverse of :func:`frame_message`, for clients and tests.

    Raises:
        ValueError: the message is shorter than its header says.
    """
    if len(message) < HEADER_LENGTH.size:
        raise ValueError(f"frame message of {len(message)} bytes has no header length")
    (length,) = HEADER_LENGTH.unpack_from(message)
    end = HEADER_LENGTH.size + length
    header = json.loads(message[HEADER_LENGTH.size:end])
    jpeg_end = end + header["jpeg_size"]
    if len(message) < jpeg_end:
        raise ValueError(f"frame message of {len(message)} bytes is shorter than its header says")
    return header, message[end:jpeg_end], message[jpeg_end:]


def base64_jpeg(jpeg: bytes) -> str:
    """The original protocol's text message: the JPEG in base64."""
    return base64.b64encode(jpeg).decode("ascii")


def hello_message(state: Mapping[str, Any]) -> str:
    """The first text message on ``/stream``: protocol version and the current state."""
    return json.dumps({"type": "hello", "version": PROTOCOL_VERSION, "state": dict(state)})


def state_message(state: Mapping[str, Any]) -> str:
    """Sent to every ``/stream`` client when the acquisition state changes."""
    return json.dumps({"type": "state", **state})


def error_message(error: str) -> str:
    """The reply to a bad command."""
    return json.dumps({"type": "error", "error": error})


def mjpeg_part(jpeg: bytes) -> bytes:
    """One part of the ``multipart/x-mixed-replace`` MJPEG stream (RFC 2046 §5.1.1)."""
    head = (f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: {len(jpeg)}\r\n\r\n").encode("ascii")
    return b"".join((head, jpeg, b"\r\n"))
