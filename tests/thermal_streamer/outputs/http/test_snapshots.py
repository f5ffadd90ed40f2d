"""thermal_streamer.outputs.http.snapshots: the encoders round-trip the pixels exactly, and the
answers before a frame and for a source without raw frames."""

from __future__ import annotations

import io
from http import HTTPStatus

import numpy as np
from PIL import Image

from tests.thermal_streamer.parts import raw_frame
from thermal_streamer.core.frames import ImageFrame
from thermal_streamer.outputs.http.answers import text_reply
from thermal_streamer.outputs.http.snapshots import (
    RAW_SNAPSHOTS,
    encode_npy,
    encode_png16,
    jpeg_snapshot,
    raw_snapshot,
)


def test_png16_and_npy_keep_every_pixel():
    """uint16 (120, 160) centikelvin comes back unchanged from both formats."""
    pixels = raw_frame().pixels
    png = Image.open(io.BytesIO(encode_png16(pixels)))
    assert png.mode.startswith("I;16") and np.array_equal(np.asarray(png), pixels)
    assert np.array_equal(np.load(io.BytesIO(encode_npy(pixels))), pixels)


def test_snapshot_answers():
    """503 before the first frame; 404 for a source of pictures; the bytes otherwise."""
    assert jpeg_snapshot(None) == text_reply(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet")
    content_type, encode = RAW_SNAPSHOTS["/snapshot.npy"]
    assert raw_snapshot(None, content_type, encode) == text_reply(
        HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet")
    picture = ImageFrame(b"\xff\xd8\xff\xd9", 160, 120, 1.5e9)  # a source of pictures
    assert raw_snapshot(picture, content_type, encode) == text_reply(
        HTTPStatus.NOT_FOUND, "this source has no raw frames")
    frame = raw_frame()
    reply = raw_snapshot(frame, content_type, encode)
    assert (reply.status, reply.content_type) == (HTTPStatus.OK, "application/octet-stream")
    assert reply.body == encode_npy(frame.pixels)
