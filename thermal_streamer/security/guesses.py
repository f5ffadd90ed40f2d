"""Wrong control tokens cost the sender's address: a few tries, then a growing wait.

A guess at ``Control_Token`` is cheap (a string compare), so the defence is the number of
guesses: each address (as :func:`~thermal_streamer.security.auth.address_key` counts
them) may send FREE_GUESSES wrong tokens; from then on every wrong token makes it wait
before its next command is even looked at: FIRST_WAIT_S after the FREE_GUESSES-th, twice
as long after each further one, at most MAX_WAIT_S. A 4-digit token then takes years
instead of seconds. The count is shared by every connection and channel that holds the
limiter, so reconnecting does not reset it; a correct token forgets it, and so do
FORGET_S without a wrong one. One log line when an address starts to wait (or waits
longer); none for the refusals meanwhile.

Thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from thermal_streamer.security.auth import address_key

log = logging.getLogger(__name__)

FREE_GUESSES = 5  # wrong tokens an address may send before it has to wait
FIRST_WAIT_S = 2.0  # the wait after the FREE_GUESSES-th wrong token
MAX_WAIT_S = 900.0  # the wait doubles with each further wrong token, up to this
FORGET_S = 3600.0  # an address's wrong tokens are forgotten after this without another
MAX_ADDRESSES = 4096  # addresses remembered at most (the least recent goes first)


@dataclass
class _Record:
    wrong: int = 0  # wrong tokens, in a row
    last_s: float = 0.0  # when the last one came
    until_s: float = 0.0  # no command looked at before this


class TokenGuesses:
    """Counts wrong control tokens per address and says how long each must wait.

    Args:
        clock: monotonic clock, seconds (injectable).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._table: OrderedDict[str, _Record] = OrderedDict()  # least recent first

    def wait_s(self, address: str) -> float:
        """Seconds ``address`` must still wait before a command of its is looked at
        (0.0: none)."""
        now = self._clock()
        with self._lock:
            record = self._table.get(address_key(address))
            return 0.0 if record is None else max(0.0, record.until_s - now)

    def wrong(self, address: str) -> float:
        """Count a wrong token from ``address``; returns the wait it now has (0.0: none)."""
        now, key = self._clock(), address_key(address)
        with self._lock:
            record = self._table.pop(key, None)
            if record is None or now - record.last_s > FORGET_S:
                record = _Record()
            self._table[key] = record  # now the most recent
            while len(self._table) > MAX_ADDRESSES:
                self._table.popitem(last=False)
            record.wrong += 1
            record.last_s = now
            if record.wrong < FREE_GUESSES:
                return 0.0
            wait = min(MAX_WAIT_S, FIRST_WAIT_S * 2.0 ** (record.wrong - FREE_GUESSES))
            record.until_s = now + wait
        log.warning("%d wrong Control_Token guesses from %s: its commands are refused for "
                    "%.0f s",
                    record.wrong, key, wait)
        return wait

    def right(self, address: str) -> None:
        """A correct token from ``address``: forget its wrong ones."""
        with self._lock:
            self._table.pop(address_key(address), None)
