"""thermal_streamer.security.guesses: wrong control tokens per address, with an injected clock."""

from __future__ import annotations

import logging

from thermal_streamer.security.guesses import FORGET_S, FREE_GUESSES, MAX_WAIT_S, TokenGuesses


def test_a_few_free_guesses_then_a_wait_that_doubles_up_to_the_cap():
    """FREE_GUESSES - 1 wrong tokens cost nothing; the next makes the address wait 2 s,
    each further one twice as long (4, 8, ...), never more than MAX_WAIT_S."""
    now = [0.0]
    guesses = TokenGuesses(lambda: now[0])
    assert [guesses.wrong("192.0.2.1") for _ in range(FREE_GUESSES - 1)] == [0.0] * 4
    assert guesses.wait_s("192.0.2.1") == 0.0
    assert guesses.wrong("192.0.2.1") == 2.0
    now[0] = 1.5
    assert guesses.wait_s("192.0.2.1") == 0.5
    assert guesses.wait_s("192.0.2.2") == 0.0  # another address: not held up
    now[0] = 2.0
    assert guesses.wait_s("192.0.2.1") == 0.0
    assert guesses.wrong("192.0.2.1") == 4.0
    assert guesses.wrong("192.0.2.1") == 8.0
    waits = [guesses.wrong("192.0.2.1") for _ in range(20)]
    assert max(waits) == MAX_WAIT_S == waits[-1]


def test_a_right_token_or_a_quiet_hour_forgets_the_wrong_ones():
    """right() clears an address's count; so does FORGET_S without a wrong token."""
    now = [0.0]
    guesses = TokenGuesses(lambda: now[0])
    for _ in range(FREE_GUESSES):
        guesses.wrong("192.0.2.1")
    guesses.right("192.0.2.1")
    assert guesses.wait_s("192.0.2.1") == 0.0
    assert guesses.wrong("192.0.2.1") == 0.0  # counting from one again
    for _ in range(FREE_GUESSES - 2):
        guesses.wrong("192.0.2.1")
    now[0] = FORGET_S + 1
    assert guesses.wrong("192.0.2.1") == 0.0


def test_one_log_line_per_wait_and_ipv6_counted_as_auth_counts_it(caplog):
    """A line when an address starts to wait, none for the free guesses; two IPv6
    addresses of one Internet /64 count together, two on a LAN each alone."""
    caplog.set_level(logging.WARNING, "thermal_streamer.security.guesses")
    guesses = TokenGuesses(lambda: 0.0)
    for host in range(FREE_GUESSES):
        guesses.wrong(f"2001:db8:1:2::{host + 1}")
    assert guesses.wait_s("2001:db8:1:2::99") == 2.0
    for _ in range(FREE_GUESSES - 1):
        guesses.wrong("fe80::1")
    assert guesses.wait_s("fe80::2") == 0.0 and guesses.wrong("fe80::2") == 0.0
    assert [r.getMessage() for r in caplog.records] == [
        "5 wrong Control_Token guesses from 2001:db8:1:2::/64: its commands are refused "
        "for 2 s"]
