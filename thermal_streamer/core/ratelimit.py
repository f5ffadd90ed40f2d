"""Rate limits: a logger wrapper that keeps repeated warnings from flooding the log, and a
token bucket."""

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


class TokenBucket:
    """A token bucket: ``rate_per_s`` events a second on average, bursts of ``burst``.

    Not thread-safe: each user holds its own, or guards it with a lock.

    Args:
        rate_per_s: tokens added per second (> 0).
        burst: the bucket's size, and how many tokens it starts with (>= 1).
        clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, rate_per_s: float, burst: int,
                 clock: Callable[[], float] = time.monotonic):
        self._rate, self._burst, self._clock = rate_per_s, burst, clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> bool:
        """Take one token: True if there was one, False if the event exceeds the rate."""
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def wait_s(self) -> float:
        """Seconds until a token is there (0.0 if one is there now)."""
        self._refill()
        return max(0.0, (1 - self._tokens) / self._rate)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
