"""What travels through the daemon: frames from sources and encoded frames for clients."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from lepton.radiometry import PixelUnit
from thermal_streamer.protocols import wire


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


@dataclasses.dataclass(frozen=True, eq=False)
class RelayedFrame:
    """A frame another daemon already encoded (the ``mqtt`` source): relayed, never re-rendered.

    Viewers get the origin's JPEG and raw bytes unchanged and the origin's header fields
    (its ``seq``, ``timestamp``, ``meta``, ``stats``, ...), so latency and loss can be
    measured end to end. Built only from a validated message
    (:func:`thermal_streamer.sources.mqtt_relay.parse_frame_payload`).

    Attributes:
        message: the origin's whole ``/stream`` binary message as received (with raw
            pixels when ``raw_info`` is set); docs/protocol.md §5.2.
        header: the origin's header fields without ``raw``, in the origin's order.
        jpeg: the origin's JPEG bytes.
        raw_info: the origin's ``raw`` header field ({rows, cols, dtype, unit}), or None
            when the message carries no raw pixels.
    """

    message: bytes
    header: Mapping[str, Any]
    jpeg: bytes
    raw_info: Mapping[str, Any] | None = None

    @property
    def timestamp(self) -> float:
        """Capture time at the origin, Unix seconds."""
        return self.header["timestamp"]

    @property
    def meta(self) -> Mapping[str, Any]:
        """The origin's extra values (its ``meta`` header field; empty when it has none)."""
        return self.header.get("meta", {})

    @property
    def width(self) -> int:
        """Pixels across: the raw frame's columns when raw travels, else the JPEG's width
        (what the origin's /config.json says)."""
        return self.raw_info["cols"] if self.raw_info else self.header["width"]

    @property
    def height(self) -> int:
        """Pixels down: the raw frame's rows when raw travels, else the JPEG's height."""
        return self.raw_info["rows"] if self.raw_info else self.header["height"]


SourceFrame = RawFrame | ImageFrame | RelayedFrame


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedFrame:
    """A published frame: the JPEG, its header, and the raw pixels when there are any.

    Wire forms are computed on first use and cached, so each is built once per frame
    however many clients receive it; a RelayedFrame's are the origin's own bytes.
    Immutable; safe to share between threads.

    Attributes:
        seq: this daemon's frame number (the hub's slots order frames by it; strictly
            increasing). The header's ``seq`` is the same number for frames rendered
            here; a RelayedFrame's header keeps the origin's ``seq``, which starts again
            at 1 when the origin restarts.
        header: the ``/stream`` JSON header fields (docs/protocol.md §5.2), without ``raw``.
        jpeg: JPEG bytes.
        source_frame: the RawFrame, ImageFrame or RelayedFrame it was made from.
    """

    seq: int
    header: Mapping[str, Any]
    jpeg: bytes
    source_frame: SourceFrame

    @functools.cached_property
    def stream_message(self) -> bytes:
        """The binary ``/stream`` message without raw data."""
        frame = self.source_frame
        if isinstance(frame, RelayedFrame) and frame.raw_info is None:
            return frame.message
        return wire.frame_message(self.header, self.jpeg)

    @functools.cached_property
    def stream_message_raw(self) -> bytes:
        """The binary ``/stream?raw=1`` message (same as above if there is no raw data)."""
        frame = self.source_frame
        if isinstance(frame, RelayedFrame):
            return frame.message
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
