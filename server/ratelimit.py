"""A logger wrapper that keeps repeated warnings from flooding the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """Log each kind of message at most once per ``interval_s``.

    The first message of a kind is logged at once; repeats within the interval are
    counted, and the next one logged after it says how many were suppressed.
    Not thread-safe: give each thread its own.

    Args:
        logger: where messages go.
        interval_s: minimum seconds between two messages of the same kind.
        clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self._logger, self._interval, self._clock = logger, interval_s, clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, kind: str, message: str, *args: object) -> bool:
        """Log ``message % args`` unless a ``kind`` message was logged recently.

        Returns:
            True if the message was logged, False if it was suppressed.
        """
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return False
        self._last[kind] = now
        suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            message += f" ({suppressed} similar message{'s' * (suppressed > 1)} suppressed)"
        self._logger.log(level, message, *args)
        return True

    def warning(self, kind: str, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, kind, message, *args)
