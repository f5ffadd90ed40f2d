"""The renderer: newest source frame -> EncodedFrame, only while someone watches.

Every source frame enters through :meth:`Renderer.receive`, in the source's thread,
which decides by the frame's type: a raw frame (pixel values) goes to ``hub.raw`` and
is rendered in the renderer's own thread (:meth:`Renderer.run`), so JPEG work never
delays the thread that reads the camera; a ready-made JPEG (file, tcp) or a frame
another daemon encoded (mqtt relay) needs no rendering and is published to clients at
once, without waking another thread.

When nobody watches (or publishing is stopped) source frames are left in the hub's
raw slot unrendered, so an idle Pi does no JPEG work; :meth:`Renderer.snapshot`
renders the newest one on demand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import (
    EncodedFrame,
    ImageFrame,
    RawFrame,
    RelayedFrame,
    SourceFrame,
)
from thermal_streamer.core.hub import Hub
from thermal_streamer.measure.frame_stats import to_display
from thermal_streamer.measure.meter import Measure, measure_frame
from thermal_streamer.render.pipeline import render_jpeg

log = logging.getLogger(__name__)

HeaderPart = Callable[[int, RawFrame], Mapping[str, Any]]  # (seq, frame) -> header fields

POLL_S = 0.5  # how often the loop looks at the stop flag when no frame arrives


class Renderer:
    """Turns source frames into encoded frames for the hub's clients.

    Args:
        hub: where frames come from and go to.
        state: the shared acquisition state (running, colormap).
        source_kind: the ``source`` field of every header.
        header_parts: more header fields for each raw frame, from other components
            (e.g. measurement regions): each is called with the seq and the frame and
            returns fields to add (it must be quick: it runs once per rendered frame).
        measure: (seq, frame) -> the frame's measurement, for the header's ``stats``
            (``Meter.measure``, shared with the other readers); by default the whole frame
            is measured here.
    """

    def __init__(self, hub: Hub, state: AcquisitionState, source_kind: str,
                 header_parts: Sequence[HeaderPart] = (), measure: Measure = measure_frame):
        self._hub, self._state, self._source_kind = hub, state, source_kind
        self._header_parts, self._measure = tuple(header_parts), measure
        self._cache_lock = threading.Lock()
        self._cache: tuple[tuple[int, RenderSettings], EncodedFrame] | None = None

    def receive(self, frame: SourceFrame) -> None:
        """Take one source frame (the source's ``publish``; called in the source's thread).

        Never blocks on clients. A RawFrame is left in ``hub.raw`` for :meth:`run`; an
        ImageFrame or RelayedFrame is published to clients from this thread.
        """
        seq = self._hub.publish_source_frame(frame)
        if not isinstance(frame, RawFrame):
            self._publish(seq, frame)

    def run(self, stop: threading.Event) -> None:
        """Render and publish each new raw frame until ``stop`` is set (raw sources)."""
        for seq, frame in self._hub.raw_frames(stop, POLL_S):
            self._publish(seq, frame)

    def _publish(self, seq: int, frame: SourceFrame) -> None:
        """Encode and publish one source frame if someone watches and publishing runs."""
        if self._hub.has_viewers() and self._state.running:
            self._hub.publish_encoded(self.encode(seq, frame))

    def snapshot(self) -> EncodedFrame | None:
        """The newest source frame, rendered (from cache when it already was); None before any."""
        seq, frame = self._hub.raw.latest()
        return None if frame is None else self.encode(seq, frame)

    def encode(self, seq: int, frame: SourceFrame) -> EncodedFrame:
        """Render one source frame with the current settings (cached per seq and settings).

        A RelayedFrame is not rendered: its header and JPEG are the origin's, as they are
        (only ``seq``, the hub's order, is this daemon's).
        """
        if isinstance(frame, RelayedFrame):
            return EncodedFrame(seq, frame.header, frame.jpeg, frame)
        settings = self._state.render_settings()
        key = (seq, settings)
        with self._cache_lock:
            if self._cache and self._cache[0] == key:
                return self._cache[1]
        encoded = render_frame(seq, frame, settings, self._source_kind,
                               self._hub.source_rate.rate, self._header_parts, self._measure)
        with self._cache_lock:
            self._cache = (key, encoded)
        return encoded


def render_frame(seq: int, frame: RawFrame | ImageFrame, settings: RenderSettings,
                 source_kind: str, fps: float, header_parts: Sequence[HeaderPart] = (),
                 measure: Measure = measure_frame) -> EncodedFrame:
    """Render one frame into its ``/stream`` header and JPEG (docs/protocol.md §5.2).

    Pure apart from what ``header_parts`` and ``measure`` do; safe from any thread.

    Args:
        seq: the header's ``seq``.
        frame: a raw frame (rendered: stats, AGC, colormap, JPEG) or a ready-made JPEG
            (passed through).
        settings: the render settings to use.
        source_kind: the header's ``source``.
        fps: the header's ``fps``, frames per second.
        header_parts: more header fields for a raw frame, each ``(seq, frame) -> fields``.
        measure: ``(seq, frame) -> FrameMeasurement`` of a raw frame, for ``stats`` and
            ``unit`` (a Meter's, shared; by default measured here, for this call only).
    """
    header: dict[str, Any] = {"type": "frame", "seq": seq, "timestamp": frame.timestamp,
                              "source": source_kind}
    if isinstance(frame, RawFrame):
        jpeg, width, height, agc = render_jpeg(frame.pixels, frame.unit, settings)
        stats = measure(seq, frame).frame
        header.update(stats=stats.as_header(), unit=stats.unit,
                      agc={"mode": settings.agc, "low": to_display(agc.low, frame.unit),
                           "high": to_display(agc.high, frame.unit)})
        for part in header_parts:
            header.update(part(seq, frame))
    else:
        jpeg, width, height = frame.jpeg, frame.width, frame.height
    header.update(width=width, height=height, jpeg_size=len(jpeg), fps=fps)
    if frame.meta:
        header["meta"] = dict(frame.meta)
    return EncodedFrame(seq, header, jpeg, frame)
