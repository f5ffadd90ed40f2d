"""What travels through the daemon: frames from sources and encoded frames for clients."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from lepton.radiometry import PixelUnit

from . import wire


@dataclasses.dataclass(frozen=True, eq=False)
class RawFrame:
    """A raw thermal frame from a camera-like source.

    Attributes:
        pixels: ndarray uint16 (rows, cols); centikelvin/decikelvin or counts per ``unit``.
            Owned by the frame: nobody writes to it after publishing.
        unit: what a pixel value means.
        timestamp: capture time, Unix seconds.
        meta: extra values the source attaches ({name: number or string}).
    """

    pixels: np.ndarray
    unit: PixelUnit
    timestamp: float
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, eq=False)
class ImageFrame:
    """A ready-made JPEG from an image source (file, tcp); passed through untouched.

    Attributes:
        jpeg: the complete JPEG bytes.
        width, height: pixel size from the JPEG's own SOF header.
        timestamp: when the image was read, Unix seconds.
        meta: extra values the source attaches.
    """

    jpeg: bytes
    width: int
    height: int
    timestamp: float
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)


SourceFrame = RawFrame | ImageFrame


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedFrame:
    """A published frame: the JPEG, its header, and the raw pixels when there are any.

    Wire forms are computed on first use and cached, so each is built once per frame
    however many clients receive it. Immutable; safe to share between threads.

    Attributes:
        header: the ``/stream`` JSON header fields (docs/protocol.md §5.2), without ``raw``.
        jpeg: JPEG bytes.
        source_frame: the RawFrame or ImageFrame it was made from.
    """

    header: Mapping[str, Any]
    jpeg: bytes
    source_frame: SourceFrame

    @property
    def seq(self) -> int:
        return self.header["seq"]

    @functools.cached_property
    def stream_message(self) -> bytes:
        """The binary ``/stream`` message without raw data."""
        return wire.frame_message(self.header, self.jpeg)

    @functools.cached_property
    def stream_message_raw(self) -> bytes:
        """The binary ``/stream?raw=1`` message (same as above if there is no raw data)."""
        frame = self.source_frame
        if not isinstance(frame, RawFrame):
            return self.stream_message
        rows, cols = frame.pixels.shape
        info = {"rows": rows, "cols": cols, "dtype": "<u2", "unit": frame.unit.value}
        raw = frame.pixels.astype("<u2", copy=False).tobytes()
        return wire.frame_message({**self.header, "raw": info}, self.jpeg, raw)

    @functools.cached_property
    def mjpeg_part(self) -> bytes:
        """The frame as one part of the /stream.mjpg multipart stream."""
        return wire.mjpeg_part(self.jpeg)

    @functools.cached_property
    def base64_text(self) -> str:
        """The text message of the original ``/`` protocol: base64 of the JPEG."""
        return wire.base64_jpeg(self.jpeg)
