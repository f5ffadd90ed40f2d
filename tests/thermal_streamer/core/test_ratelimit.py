"""thermal_streamer.core.ratelimit: repeated warnings do not flood the log."""

import logging

from thermal_streamer.core.ratelimit import RateLimitedLog


def test_repeats_are_suppressed_and_counted(caplog):
    """One message per kind per interval; the next one says how many were suppressed."""
    now = [0.0]
    log = RateLimitedLog(logging.getLogger("t"), interval_s=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        results = [log.warning("torn", "torn %d", i) for i in range(100)]
        log.warning("other", "different kind")
        now[0] = 10.0
        log.warning("torn", "torn again")
    assert results.count(True) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "torn 0", "different kind", "torn again (99 similar messages suppressed)"]
