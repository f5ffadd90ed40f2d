"""Snapshots of the newest frame: the rendered JPEG, and the raw pixels as a 16-bit PNG or
numpy's .npy. Pure: a frame in, a :class:`Reply` out."""

from __future__ import annotations

import io
from collections.abc import Callable
from http import HTTPStatus

import numpy as np
from PIL import Image

from thermal_streamer.core.frames import EncodedFrame, RawFrame, SourceFrame
from thermal_streamer.outputs.http.answers import Reply, text_reply


def encode_png16(pixels: np.ndarray) -> bytes:
    """ndarray uint16 (rows, cols) as a 16-bit greyscale PNG."""
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint16, copy=False)).save(out, "PNG")
    return out.getvalue()


def encode_npy(pixels: np.ndarray) -> bytes:
    """ndarray uint16 (rows, cols) in numpy's .npy format."""
    out = io.BytesIO()
    np.save(out, pixels)
    return out.getvalue()


RAW_SNAPSHOTS: dict[str, tuple[str, Callable[[np.ndarray], bytes]]] = {
    "/snapshot.raw.png": ("image/png", encode_png16),
    "/snapshot.npy": ("application/octet-stream", encode_npy),
}  # path: (content type, encoder)


def jpeg_snapshot(frame: EncodedFrame | None) -> Reply:
    """The newest rendered frame as ``image/jpeg``; 503 before the first."""
    if frame is None:
        return text_reply(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet")
    return Reply(HTTPStatus.OK, "image/jpeg", frame.jpeg)


def raw_snapshot(frame: SourceFrame | None, content_type: str,
                 encode: Callable[[np.ndarray], bytes]) -> Reply:
    """The newest source frame's pixels (uint16 (rows, cols)) through ``encode``.

    503 before the first frame; 404 when the source sends pictures, not raw frames.
    """
    if frame is None:
        return text_reply(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet")
    if not isinstance(frame, RawFrame):
        return text_reply(HTTPStatus.NOT_FOUND, "this source has no raw frames")
    return Reply(HTTPStatus.OK, content_type, encode(frame.pixels))
