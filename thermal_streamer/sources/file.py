"""The ``file`` source: a JPEG (or other image) file that something rewrites on disk.

A frame is published when the file's stat signature changed and it holds a
complete, decodable image that differs from the last one; a half-written file, or an
image over ``Max_Frame_Pixels`` (refused from its header, before decoding), is
skipped, counted and logged (rate-limited) and read again on the next change. The
current image is re-published every ``resend_interval_s`` (a new frame each time).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from thermal_streamer.core.frames import ImageFrame
from thermal_streamer.core.ratelimit import RateLimitedLog
from thermal_streamer.core.source import Publish, Source
from thermal_streamer.protocols.images import (
    MAX_FRAME_PIXELS,
    ImageTooLarge,
    TornImage,
    decode_image,
)

log = logging.getLogger(__name__)

POLL_S = 0.1  # how often the file's stat is checked (a change shows within 0.1 s)


class FileSource(Source):
    """Watches one image file.

    Args:
        path: the watched file.
        resend_interval_s: re-publish the current image this often, seconds.
        max_frame_pixels: the largest image accepted, width x height in pixels (>= 1);
            a larger one is skipped without being decoded.
        clock: monotonic clock in seconds (injectable).
    """

    kind = "file"

    def __init__(self, path: str, resend_interval_s: float = 1.0,
                 max_frame_pixels: int = MAX_FRAME_PIXELS,
                 clock: Callable[[], float] = time.monotonic):
        self.path, self._resend_s, self._clock = path, resend_interval_s, clock
        self._max_pixels = max_frame_pixels
        self._warn = RateLimitedLog(log, clock=clock)
        self.skipped = 0  # reads not published: torn, undecodable or too large
        self.too_large = 0  # of those, images over max_frame_pixels
        self.changes = 0  # distinct images published

    def status(self) -> dict[str, Any]:
        return {"path": self.path, "changes": self.changes, "skipped": self.skipped,
                "too_large": self.too_large}

    def run(self, publish: Publish, stop: threading.Event) -> None:
        signature = None
        current: tuple[bytes, int, int] | None = None
        resend_due = math.inf  # when the current image is published again
        while not stop.wait(min(POLL_S, max(resend_due - self._clock(), 0.0))):
            try:
                st = os.stat(self.path)
            except OSError as exc:
                self._warn.warning("missing", "cannot read %s: %s", self.path, exc.strerror)
                signature = None
                continue
            new_signature = (st.st_ino, st.st_size, st.st_mtime_ns)
            if new_signature != signature:
                signature = new_signature
                image = self._read()
                if image is not None and (current is None or image[0] != current[0]):
                    current = image
                    self.changes += 1
                    resend_due = self._clock() + self._resend_s
                    self._publish(publish, current)
                    continue
            now = self._clock()
            if current is not None and now >= resend_due:
                resend_due += self._resend_s  # a fixed schedule: wake-up delays do not add up
                if resend_due <= now:  # more than a period late: start afresh, no burst
                    resend_due = now + self._resend_s
                self._publish(publish, current)

    def _read(self) -> tuple[bytes, int, int] | None:
        try:
            with open(self.path, "rb") as f:
                return decode_image(f.read(), self._max_pixels)
        except OSError as exc:
            self._warn.warning("missing", "cannot read %s: %s", self.path, exc.strerror)
        except ImageTooLarge as exc:
            self.skipped += 1
            self.too_large += 1
            self._warn.warning("too_large", "skipped the image in %s: %s (%d too large so far)",
                               self.path, exc, self.too_large)
        except TornImage as exc:
            self.skipped += 1
            self._warn.warning("torn", "skipped incomplete image in %s: %s (%d skipped so far)",
                               self.path, exc, self.skipped)
        return None

    @staticmethod
    def _publish(publish: Publish, image: tuple[bytes, int, int]) -> None:
        jpeg, width, height = image
        publish(ImageFrame(jpeg, width, height, time.time()))
