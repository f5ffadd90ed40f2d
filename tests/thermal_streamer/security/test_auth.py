"""thermal_streamer.security.auth (Basic parsing, sessions, the cached and rate-limited checks)
and the [Security] settings as the app reads them at start."""

from __future__ import annotations

import base64
import logging
from http import HTTPStatus

import pytest

from tests.tls import PASSWORD, USER
from thermal_streamer.security import auth
from thermal_streamer.security.auth import (
    ADDRESS_BURST,
    ADDRESS_INTERVAL_S,
    CACHE_TTL_S,
    GLOBAL_BURST,
    LOG_INTERVAL_S,
    Authenticator,
    Login,
    Sessions,
    Verdict,
    address_key,
    cookie_values,
    parse_basic,
    session_cookie_name,
)
from thermal_streamer.security.passwords import hash_password


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingVerify:
    """A stand-in for scrypt: the stored hash is ``plain:PASSWORD``; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, password: str, stored: str) -> bool:
        self.calls += 1
        return stored == f"plain:{password}"


def authenticator(clock: Clock | None = None, **options: object) -> tuple[Authenticator,
                                                                          CountingVerify]:
    verify = CountingVerify()
    users = {USER: f"plain:{PASSWORD}", "bob": "plain:builder"}
    return Authenticator(users, clock=clock or Clock(), verify=verify, **options), verify  # type: ignore[arg-type]


# -- RFC 7617 and RFC 6265 parsing


def test_parse_basic_follows_rfc_7617():
    """Any-case scheme, UTF-8, colons allowed in the password only; anything else is None."""
    assert parse_basic(basic("alice", "pa:ss wörd")) == ("alice", "pa:ss wörd")
    assert parse_basic("bAsIc " + base64.b64encode(b"a:").decode()) == ("a", "")
    assert parse_basic("Basic YWxhZGRpbjpvcGVuc2VzYW1l") == ("aladdin", "opensesame")  # RFC 7617 §2
    for header in (None, "", "Basic", "Basic !!!", "Bearer " + base64.b64encode(b"a:b").decode(),
                   "Basic " + base64.b64encode(b"no colon").decode(),
                   "Basic " + base64.b64encode(b"\xff\xfe:x").decode()):
        assert parse_basic(header) is None, header


def test_cookie_values_reads_every_pair_of_that_name():
    """RFC 6265 §4.2.1 pairs, across several Cookie headers, duplicates kept in order."""
    headers = ["a=1; thermal_session=one;b=2", "thermal_session= two ", "thermal_sessionx=3; c"]
    assert cookie_values(headers, "thermal_session") == ["one", "two"]
    assert cookie_values([], "thermal_session") == []


def test_address_key_groups_an_ipv6_slash_64():
    """IPv4 (also IPv4-mapped IPv6) counts alone; IPv6 counts per /64."""
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == (
        "2001:db8:1:2::/64")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("not an address") == "not an address"


def test_address_key_counts_each_ipv6_address_of_a_local_network():
    """On a LAN (link-local, unique local, loopback) each IPv6 address counts alone, so a
    guesser cannot lock out the other hosts of its /64."""
    assert address_key("fe80::1") == "fe80::1" != address_key("fe80::2")
    assert address_key("fd12:3456:789a:1::1") == "fd12:3456:789a:1::1"
    assert address_key("::1") == "::1"


# -- sessions


def test_sessions_expire_and_the_table_is_bounded():
    """A session lasts ttl_s; past max_sessions the oldest ends; only hashes are stored."""
    clock = Clock()
    sessions = Sessions(ttl_s=60.0, max_sessions=3, clock=clock)
    tokens = [sessions.open(f"user{i}") for i in range(3)]
    assert [sessions.user(t) for t in tokens] == ["user0", "user1", "user2"]
    assert len(tokens[0]) == 43 and len(set(tokens)) == 3  # 256 bits, URL-safe base64
    assert sessions.user("made-up") is None
    assert not any(t.encode() in key for key in sessions._table for t in tokens)
    fourth = sessions.open("user3")
    assert sessions.user(tokens[0]) is None and sessions.user(fourth) == "user3"
    assert len(sessions) == 3
    clock.now += 60.0
    assert sessions.user(fourth) is None
    sessions.open("user4")
    assert len(sessions) == 1  # the expired ones went


def test_session_cookie_is_httponly_samesite_strict_and_secure_with_tls():
    """Set-Cookie: Path=/, Max-Age of the session, HttpOnly, SameSite=Strict (+ Secure)."""
    plain, _ = authenticator()
    cookie = plain.open_session(USER)
    name_value, *attributes = cookie.split("; ")
    name, _, token = name_value.partition("=")
    assert name == "thermal_session"
    assert attributes == ["Path=/", "Max-Age=43200", "HttpOnly", "SameSite=Strict"]
    assert plain.session_user([f"other=1; thermal_session={token}"]) == USER
    assert plain.session_user(["thermal_session=forged"]) is None
    assert plain.session_user(["thermal_session=forged", f"thermal_session={token}"]) == USER
    secure, _ = authenticator(secure_cookie=True)
    assert secure.open_session(USER).endswith("; HttpOnly; SameSite=Strict; Secure")


# -- checks: cache, limits, log


def test_a_successful_check_is_cached_and_expires():
    """The second check of the same credentials runs no scrypt; after CACHE_TTL_S one runs."""
    clock = Clock()
    checker, verify = authenticator(clock)
    header = basic(USER, PASSWORD)
    assert checker.check_cached(header) is None  # would need scrypt
    assert checker.check(header, "192.0.2.1") == Login(Verdict.ACCEPTED, USER)
    assert checker.check_cached(header) == Login(Verdict.ACCEPTED, USER)
    assert checker.check(header, "192.0.2.2") == Login(Verdict.ACCEPTED, USER)
    assert verify.calls == 1
    assert checker.check_cached(basic(USER, PASSWORD + "x")) is None  # a wrong one is not
    clock.now += CACHE_TTL_S
    assert checker.check_cached(header) is None
    assert checker.check(header, "192.0.2.1").verdict is Verdict.ACCEPTED
    assert verify.calls == 2


def test_missing_or_unreadable_credentials_cost_nothing():
    """No header, another scheme or bad base64: MISSING (401) at once, no scrypt, no count."""
    checker, verify = authenticator()
    for header in (None, "Bearer x", "Basic %%%"):
        assert checker.check(header, "192.0.2.1") == Login(Verdict.MISSING)
    assert verify.calls == 0
    assert Login(Verdict.MISSING).refusal().headers == {
        "WWW-Authenticate": 'Basic realm="thermal camera", charset="UTF-8"'}


def test_unknown_users_cost_a_real_check_and_are_refused():
    """An unknown name is checked against a real hash (same time) and is WRONG, even with a
    password that is another user's."""
    checker, verify = authenticator()
    assert checker.check(basic("mallory", PASSWORD), "192.0.2.1").verdict is Verdict.WRONG
    assert verify.calls == 1


def test_failed_logins_are_limited_per_address():
    """ADDRESS_BURST wrong checks, then 429 without scrypt until a token comes back; other
    addresses are not affected; a success forgets the address's failures."""
    clock = Clock()
    checker, verify = authenticator(clock)
    wrong = basic(USER, "guess")
    for _ in range(ADDRESS_BURST):
        assert checker.check(wrong, "192.0.2.9").verdict is Verdict.WRONG
    limited = checker.check(basic(USER, PASSWORD), "192.0.2.9")
    assert limited.verdict is Verdict.LIMITED and limited.retry_after_s == pytest.approx(
        ADDRESS_INTERVAL_S)
    assert limited.refusal() == auth.Refusal(
        HTTPStatus.TOO_MANY_REQUESTS, "too many failed logins from this address: try again "
        "in 6 s", {"Retry-After": "6"})
    assert verify.calls == ADDRESS_BURST
    assert checker.check(wrong, "2001:db8::1").verdict is Verdict.WRONG  # someone else
    clock.now += ADDRESS_INTERVAL_S
    assert checker.check(basic(USER, PASSWORD), "192.0.2.9").verdict is Verdict.ACCEPTED
    for _ in range(ADDRESS_BURST):  # the success gave the address its whole budget back
        assert checker.check(wrong, "192.0.2.9").verdict is Verdict.WRONG


def test_uncached_checks_everywhere_share_one_budget():
    """However many addresses guess, at most GLOBAL_BURST checks at once: then 503, no
    scrypt; cached logins still pass."""
    clock = Clock()
    checker, verify = authenticator(clock)
    good = basic(USER, PASSWORD)
    assert checker.check(good, "192.0.2.1").verdict is Verdict.ACCEPTED
    for i in range(GLOBAL_BURST - 1):
        assert checker.check(basic(USER, f"guess{i}"), f"198.51.100.{i}").verdict is (
            Verdict.WRONG)
    busy = checker.check(basic(USER, "guess"), "203.0.113.1")
    assert busy.verdict is Verdict.BUSY and busy.refusal().status == 503
    assert busy.refusal().headers == {"Retry-After": "1"}
    assert verify.calls == GLOBAL_BURST
    assert checker.check(good, "203.0.113.1").verdict is Verdict.ACCEPTED  # cached


def test_failed_logins_are_logged_without_the_password_and_rate_limited(caplog):
    """One WARNING per LOG_INTERVAL_S, naming user and address; the password never appears."""
    clock = Clock()
    checker, _ = authenticator(clock)
    with caplog.at_level(logging.INFO, logger="thermal_streamer.security.auth"):
        for _ in range(5):
            checker.check(basic("bob", "s3cr3t-guess"), "192.0.2.5")
        clock.now += LOG_INTERVAL_S
        checker.check(basic("bob", "s3cr3t-guess"), "192.0.2.5")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["failed login for user 'bob' from 192.0.2.5",
                        "failed login for user 'bob' from 192.0.2.5 (4 similar messages "
                        "suppressed)"]
    assert "s3cr3t" not in caplog.text


def test_real_scrypt_hashes_are_checked():
    """With the real verify (scrypt from security.passwords), right and wrong passwords."""
    checker = Authenticator({USER: hash_password(PASSWORD)})
    assert checker.check(basic(USER, PASSWORD), "192.0.2.1").verdict is Verdict.ACCEPTED
    assert checker.check(basic(USER, "nope"), "192.0.2.1").verdict is Verdict.WRONG


def test_no_users_is_refused():
    """An Authenticator without users would let nobody in: ValueError."""
    with pytest.raises(ValueError, match="no users: add one with --add-user"):
        Authenticator({})


# -- the [Security] settings


def test_the_session_cookie_can_carry_the_http_port_and_only_that_name_counts():
    """With cookie_name = session_cookie_name(8080) the cookie is thermal_session_8080;
    a session token under another port's name (another daemon of this host) is not read."""
    checker = Authenticator({USER: "plain:pw"}, verify=lambda p, s: s == f"plain:{p}")
    checker.cookie_name = session_cookie_name(8080)
    cookie = checker.open_session(USER)
    name, _, token = cookie.split(";")[0].partition("=")
    assert name == "thermal_session_8080"
    assert checker.session_user([f"thermal_session_8080={token}"]) == USER
    assert checker.session_user([f"thermal_session_8081={token}",
                                 f"thermal_session={token}"]) is None


def test_replacing_the_users_revokes_the_gone_and_the_changed():
    """replace_users (SIGHUP): a removed user and one with a new password are revoked
    (sessions ended, cached checks forgotten); a kept user keeps both (was: no reload)."""
    checker, verify = authenticator()
    cookies = {user: checker.open_session(user).split(";")[0] for user in (USER, "bob")}
    for user, password in ((USER, PASSWORD), ("bob", "builder")):
        assert checker.check(basic(user, password), "192.0.2.1").verdict is Verdict.ACCEPTED
    revoked = checker.replace_users({USER: f"plain:{PASSWORD}", "carol": "plain:c"})
    assert revoked == {"bob"}
    assert checker.session_user([cookies["bob"]]) is None
    assert checker.session_user([cookies[USER]]) == USER
    assert checker.check_cached(basic("bob", "builder")) is None
    assert checker.check_cached(basic(USER, PASSWORD)) == Login(Verdict.ACCEPTED, USER)
    assert checker.check(basic("bob", "builder"), "192.0.2.1").verdict is Verdict.WRONG
    assert checker.check(basic("carol", "c"), "192.0.2.3").verdict is Verdict.ACCEPTED
    assert checker.replace_users({USER: "plain:new", "carol": "plain:c"}) == {USER}
    assert checker.session_user([cookies[USER]]) is None
    with pytest.raises(ValueError, match="no users"):
        checker.replace_users({})
    assert checker.check(basic("carol", "c"), "192.0.2.3").verdict is Verdict.ACCEPTED
