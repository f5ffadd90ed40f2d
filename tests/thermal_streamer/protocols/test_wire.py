"""thermal_streamer.protocols.wire: exact bytes of the /stream frame message and the text
messages."""

import json

import pytest

from thermal_streamer.protocols import wire


def test_frame_message_layout():
    """uint32 BE header length, JSON header, JPEG, optional raw: exact bytes both ways."""
    header = {"type": "frame", "seq": 1, "jpeg_size": 3}
    message = wire.frame_message(header, b"\xff\xd8\xff", b"\x01\x00")
    encoded = b'{"type":"frame","seq":1,"jpeg_size":3}'
    assert message == len(encoded).to_bytes(4, "big") + encoded + b"\xff\xd8\xff\x01\x00"
    assert wire.parse_frame_message(message) == (header, b"\xff\xd8\xff", b"\x01\x00")


def test_parse_short_message():
    """A message shorter than its header says is rejected with a clear error."""
    message = wire.frame_message({"jpeg_size": 10}, b"abc")
    with pytest.raises(ValueError, match="is shorter than its header says"):
        wire.parse_frame_message(message)
    with pytest.raises(ValueError, match="has no header length"):
        wire.parse_frame_message(b"\x00")


def test_text_messages():
    """hello carries the protocol version and state; state and error have their type."""
    assert json.loads(wire.hello_message({"running": True})) == {
        "type": "hello", "version": 1, "state": {"running": True}}
    assert json.loads(wire.state_message({"clients": 2})) == {"type": "state", "clients": 2}
    assert json.loads(wire.error_message("bad")) == {"type": "error", "error": "bad"}
    assert wire.base64_jpeg(b"\xff\xd8") == "/9g="
