"""``/stream.mjpg``: every new frame as one part of a multipart/x-mixed-replace answer.

A client slower than the source skips frames (it always gets the newest); one that
cannot take a frame for Send_Timeout is dropped. Only the request's own thread waits.
"""

from __future__ import annotations

import functools
import io
import logging
import threading

from thermal_streamer.core.hub import Hub
from thermal_streamer.outputs.http.answers import Stream
from thermal_streamer.protocols import wire

log = logging.getLogger(__name__)

MJPEG_POLL_S = 0.5  # how often an idle MJPEG stream looks at the stop flag
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={wire.MJPEG_BOUNDARY}"


def mjpeg_stream(hub: Hub, send_timeout_s: float, stopping: threading.Event) -> Stream:
    """The answer to ``/stream.mjpg`` (the same value serves every request).

    Args:
        hub: ``hub.encoded`` is streamed; each client joins as an ``mjpeg`` viewer.
        send_timeout_s: drop a client that could not take a frame for this long, s.
        stopping: set when the server stops: every stream ends within MJPEG_POLL_S.
    """
    return Stream(CONTENT_TYPE, send_timeout_s, functools.partial(send_frames, hub, stopping))


def send_frames(hub: Hub, stopping: threading.Event, out: io.BufferedIOBase, peer: str) -> None:
    """Write each frame published from now on to ``out`` until the client goes or
    ``stopping`` is set. Blocks that long; a write blocks up to the socket's timeout."""
    viewer = hub.join("mjpeg", peer)
    log.info("client connected: %s /stream.mjpg", viewer.address)
    seq = hub.encoded.latest()[0]
    try:
        while not stopping.is_set():
            item = hub.encoded.wait_newer(seq, MJPEG_POLL_S)
            if item is None:
                continue
            new_seq, frame = item
            viewer.frames_skipped += max(new_seq - seq - 1, 0) if seq else 0
            seq = new_seq
            out.write(frame.mjpeg_part)
            viewer.count_sent(len(frame.mjpeg_part))
    except OSError as exc:  # gone, or stalled past Send_Timeout
        log.info("client disconnected: %s /stream.mjpg (%s)", viewer.address,
                 "timed out" if isinstance(exc, TimeoutError) else "closed")
    finally:
        hub.leave(viewer)
