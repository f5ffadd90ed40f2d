"""thermal_streamer.security.gate value by value: the Host, the Origin, the login and the session
rules of both doors, and the exact refusals each server sends."""

from __future__ import annotations

import base64
from http import HTTPStatus

import pytest

from tests.tls import PASSWORD, USER
from thermal_streamer.security.auth import ADDRESS_BURST, CHALLENGE, SESSION_COOKIE, Authenticator
from thermal_streamer.security.gate import (
    HTTP_DOOR,
    WEBSOCKET_DOOR,
    Decision,
    Entry,
    Gate,
    Outcome,
    origin_allowed,
)
from thermal_streamer.security.hosts import HostPolicy
from thermal_streamer.security.proxies import ProxyPolicy

HOSTS = HostPolicy(["cam.example"], own_names=("thermal",))
LOGIN_TEXT = "log in with a user of [Security] Password_File"


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def plain_verify(password: str, stored: str) -> bool:
    """A stand-in for scrypt: the stored hash is ``plain:PASSWORD``."""
    return stored == f"plain:{password}"


def authenticator() -> Authenticator:
    return Authenticator({USER: f"plain:{PASSWORD}"}, clock=lambda: 1000.0, verify=plain_verify)


def decide(gate: Gate, entry: Entry) -> Decision:
    """What a server ends up with: admit, then log_in if admit asks for it."""
    decision = gate.admit(entry)
    return gate.log_in(entry) if decision.outcome is Outcome.CHECK_LOGIN else decision


@pytest.mark.parametrize(("door", "status", "text"), [
    (HTTP_DOOR, HTTPStatus.MISDIRECTED_REQUEST, "host 'evil.example:8080' is not one of this "
     "machine's names: add it to [Security] Allowed_Hosts"),
    (WEBSOCKET_DOOR, HTTPStatus.FORBIDDEN, "host not allowed"),
])
def test_a_foreign_host_gets_the_doors_refusal(door, status, text):
    """DNS rebinding: HTTP answers 421 naming the host and the fix, the WebSocket 403; both
    FOREIGN (the connection closes), before any login is looked at."""
    decision = Gate(door, HOSTS, authenticator()).admit(
        Entry("/", "evil.example:8080", basic()))
    assert decision.outcome is Outcome.FOREIGN
    assert decision.refusal is not None
    assert (decision.refusal.status, decision.refusal.text, decision.refusal.headers) == (
        status, text, {})
    assert decision.reason == ("host 'evil.example:8080' is not one of this machine's names "
                               "(Allowed_Hosts)")


@pytest.mark.parametrize("host", [None, "thermal", "THERMAL.:80", "cam.example", "10.0.0.7:8080",
                                  "[::1]:8080"])
def test_this_machines_names_and_ip_literals_go_in(host):
    """No Host, an own name (any case, port, trailing dot), an Allowed_Hosts name or an IP
    literal: allowed with nothing to add (no password file)."""
    for door in (HTTP_DOOR, WEBSOCKET_DOOR):
        assert Gate(door, HOSTS).admit(Entry("/", host)) == Decision(Outcome.ALLOWED)


@pytest.mark.parametrize(("origin", "host", "allowed", "expected"), [
    (None, "thermal:8080", (), True),  # not a browser
    ("http://thermal:8080", "thermal:8081", (), True),  # the page's own host, other port
    ("https://THERMAL", "thermal", (), True),
    ("http://evil.example", "thermal:8080", (), False),
    ("http://evil.example", None, (), False),
    ("http://dash.example", "thermal", ("http://dash.example",), True),
    ("http://dash.example:81", "thermal", ("http://dash.example",), False),
    ("http://anything", "thermal", ("*",), True),
])
def test_origin_allowed(origin, host, allowed, expected):
    """An Origin is its page's own host, one of Allowed_Origins or any with ``*``."""
    assert origin_allowed(origin, host, allowed) is expected


def test_a_foreign_origin_gets_403_at_the_websocket_door():
    """A handshake from another site's page: FOREIGN, 403 ``origin not allowed``."""
    gate = Gate(WEBSOCKET_DOOR, HOSTS, allowed_origins=("http://dash.example",))
    decision = gate.admit(Entry("/stream", "thermal:8081", origin="http://evil.example"))
    assert decision.outcome is Outcome.FOREIGN and decision.refusal is not None
    assert (decision.refusal.status, decision.refusal.text) == (HTTPStatus.FORBIDDEN,
                                                                "origin not allowed")
    assert decision.reason == "origin http://evil.example not allowed"
    assert gate.admit(Entry("/stream", "thermal:8081", origin="http://dash.example")).outcome \
        is Outcome.ALLOWED


def test_without_a_password_file_everyone_goes_in():
    """No Authenticator: any path, no credentials, allowed."""
    for path in ("/", "/stream.mjpg", "/stream"):
        assert Gate(HTTP_DOOR, HOSTS).admit(Entry(path, "thermal")).outcome is Outcome.ALLOWED


def test_missing_or_wrong_credentials_get_401_with_the_challenge():
    """No or unreadable credentials are refused at once; wrong ones after the check."""
    gate = Gate(HTTP_DOOR, HOSTS, authenticator())
    for authorization in (None, "Bearer abc", "Basic !!!"):
        decision = gate.admit(Entry("/", "thermal", authorization, address="10.0.0.9"))
        assert decision.outcome is Outcome.REFUSED and decision.reason == "missing"
        assert decision.refusal is not None
        assert (decision.refusal.status, decision.refusal.text, decision.refusal.headers) == (
            HTTPStatus.UNAUTHORIZED, LOGIN_TEXT, {"WWW-Authenticate": CHALLENGE})
    wrong = Entry("/", "thermal", basic(password="guess"), address="10.0.0.9")
    assert gate.admit(wrong).outcome is Outcome.CHECK_LOGIN
    decision = gate.log_in(wrong)
    assert decision.outcome is Outcome.REFUSED and decision.reason == "wrong"
    assert decision.refusal is not None and decision.refusal.status == HTTPStatus.UNAUTHORIZED


def test_a_guessing_address_gets_429_with_retry_after():
    """ADDRESS_BURST wrong passwords, then 429 with Retry-After in whole seconds."""
    gate = Gate(WEBSOCKET_DOOR, HOSTS, authenticator())
    wrong = Entry("/stream", "thermal", basic(password="guess"), address="10.0.0.9")
    for _ in range(ADDRESS_BURST):
        assert decide(gate, wrong).reason == "wrong"
    decision = decide(gate, wrong)
    assert decision.outcome is Outcome.REFUSED and decision.reason == "limited"
    assert decision.refusal is not None
    assert (decision.refusal.status, decision.refusal.text, decision.refusal.headers) == (
        HTTPStatus.TOO_MANY_REQUESTS, "too many failed logins from this address: try again "
        "in 6 s", {"Retry-After": "6"})


def test_healthz_is_open_at_the_http_door_only():
    """/healthz needs no login on HTTP; the WebSocket door has no open path."""
    assert Gate(HTTP_DOOR, HOSTS, authenticator()).admit(
        Entry("/healthz", "thermal")).outcome is Outcome.ALLOWED
    assert Gate(WEBSOCKET_DOOR, HOSTS, authenticator()).admit(
        Entry("/healthz", "thermal")).outcome is Outcome.REFUSED


def test_a_basic_login_on_the_page_gets_one_session_cookie():
    """HTTP: good credentials on /, /index.html or /config.json without a live session get
    a Set-Cookie; with a live session, or on another path, nothing is added; a check that
    passed once is cached (no CHECK_LOGIN)."""
    checker = authenticator()
    gate = Gate(HTTP_DOOR, HOSTS, checker)
    entry = Entry("/", "thermal", basic(), address="10.0.0.9")
    assert gate.admit(entry).outcome is Outcome.CHECK_LOGIN
    decision = gate.log_in(entry)
    assert decision.outcome is Outcome.ALLOWED
    cookie = decision.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly; SameSite=Strict" in cookie
    token = cookie.split(";")[0]
    for path in ("/index.html", "/config.json"):
        assert "Set-Cookie" in gate.admit(Entry(path, "thermal", basic())).headers
    assert gate.admit(Entry("/", "thermal", basic(), (f"theme=dark; {token}",))) == Decision(
        Outcome.ALLOWED, user=USER)
    assert gate.admit(Entry("/snapshot.jpg", "thermal", basic())) == Decision(Outcome.ALLOWED,
                                                                              user=USER)


def test_a_session_cookie_is_a_login_at_the_websocket_door_only():
    """The page's cookie opens the WebSocket (no credentials needed, none added); on HTTP a
    cookie alone is no login (401); a forged cookie is none anywhere."""
    checker = authenticator()
    token = checker.open_session(USER).split(";")[0]
    websocket, http = Gate(WEBSOCKET_DOOR, HOSTS, checker), Gate(HTTP_DOOR, HOSTS, checker)
    assert websocket.admit(Entry("/stream", "thermal", cookies=(token,))) == Decision(
        Outcome.ALLOWED, user=USER)  # whose: SIGHUP closes what a revoked user holds
    assert http.admit(Entry("/", "thermal", cookies=(token,))).outcome is Outcome.REFUSED
    forged = Entry("/stream", "thermal", cookies=(f"{SESSION_COOKIE}=forged",))
    assert websocket.admit(forged).outcome is Outcome.REFUSED
    basic_login = Entry("/stream", "thermal", basic())
    assert decide(websocket, basic_login) == Decision(Outcome.ALLOWED, user=USER)  # no cookie


def test_healthz_is_open_but_anonymous_without_a_good_login():
    """With a password file, /healthz goes in anonymous without credentials or with wrong
    ones (never refused), and not anonymous with a good login."""
    gate = Gate(HTTP_DOOR, HOSTS, authenticator())
    assert gate.admit(Entry("/healthz", "thermal")) == Decision(Outcome.ALLOWED, anonymous=True)
    wrong = Entry("/healthz", "thermal", basic(password="wrong"), address="192.0.2.1")
    assert gate.admit(wrong).outcome is Outcome.CHECK_LOGIN
    assert gate.log_in(wrong) == Decision(Outcome.ALLOWED, anonymous=True)
    good = Entry("/healthz", "thermal", basic(), address="192.0.2.1")
    assert gate.log_in(good) == Decision(Outcome.ALLOWED, user=USER)
    assert Gate(HTTP_DOOR, HOSTS).admit(Entry("/healthz", "thermal")) == Decision(Outcome.ALLOWED)


def test_the_client_address_is_the_forwarded_one_only_from_a_trusted_proxy():
    """Gate.client_address: X-Forwarded-For counts from Trusted_Proxies, else the peer."""
    gate = Gate(HTTP_DOOR, HOSTS, proxies=ProxyPolicy(("127.0.0.1",)))
    assert gate.client_address("127.0.0.1", ["192.0.2.7"]) == "192.0.2.7"
    assert gate.client_address("192.0.2.9", ["192.0.2.7"]) == "192.0.2.9"
    assert Gate(HTTP_DOOR, HOSTS).client_address("127.0.0.1", ["192.0.2.7"]) == "127.0.0.1"
