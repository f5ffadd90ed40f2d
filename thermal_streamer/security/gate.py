"""The one gate in front of both servers: the Host, the Origin, the login and the session.

Each server reads the few headers the gate needs into an :class:`Entry` and asks its
:class:`Gate` (one per server, built from the shared :class:`HostPolicy` and
:class:`Authenticator` and the server's :class:`Door`) for a :class:`Decision`. The
checks, in order:

1. ``Host`` names this machine (:mod:`thermal_streamer.security.hosts`: the defence
   against DNS rebinding); else FOREIGN with the door's status (HTTP 421, WebSocket 403).
2. ``Origin``, when the server reads one (a WebSocket handshake), is the page's own host
   or one of ``Allowed_Origins``; else FOREIGN, 403.
3. With a password file: a path of the door's ``open_paths`` goes in, ``anonymous``
   unless its Basic credentials are good (``/healthz`` then answers only its status); a
   live session
   cookie goes in where the door ``admits_sessions`` (the WebSocket: the page's cookie);
   otherwise the Basic credentials decide (:meth:`Authenticator.check`): refused with
   401 and the challenge, 429 or 503 with ``Retry-After`` (:meth:`Login.refusal`). A
   Basic login on one of the door's ``session_paths`` without a live session cookie also
   gets a new session (``Set-Cookie``, RFC 6265 §4.1).

:meth:`Gate.admit` never blocks: when the credentials need a scrypt check (50-100 ms)
it says CHECK_LOGIN, and the server calls :meth:`Gate.log_in` where blocking is fine
(the HTTP request's own thread, the WebSocket's ``ws-auth`` thread). Both are
thread-safe (the Authenticator takes its own lock).

Whose request it is (the address the login limit counts, and the log names) is the peer,
or behind a trusted proxy the client it names (:meth:`Gate.client_address`,
:mod:`thermal_streamer.security.proxies`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from thermal_streamer.security.auth import Authenticator, Login, Refusal, Verdict, parse_basic
from thermal_streamer.security.hosts import HostPolicy
from thermal_streamer.security.proxies import ProxyPolicy


@dataclass(frozen=True)
class Door:
    """One server's entrance: what a foreign Host is told and which login rules it keeps.

    Attributes:
        foreign_host: the status a foreign Host gets.
        foreign_host_text: its line of text, a format string with ``{host!r}`` (the
            request's Host header).
        open_paths: paths answered without a login.
        session_paths: paths where a Basic login also gets a session cookie.
        admits_sessions: a live session cookie counts as a login.
    """

    foreign_host: HTTPStatus
    foreign_host_text: str
    open_paths: frozenset[str] = frozenset()
    session_paths: frozenset[str] = frozenset()
    admits_sessions: bool = False


HTTP_DOOR = Door(
    HTTPStatus.MISDIRECTED_REQUEST,
    "host {host!r} is not one of this machine's names: add it to [Security] Allowed_Hosts",
    open_paths=frozenset({"/healthz"}),  # monitors and the systemd unit
    # the page loads these before it opens its WebSocket (static/connection.js)
    session_paths=frozenset({"/", "/index.html", "/config.json"}))
WEBSOCKET_DOOR = Door(HTTPStatus.FORBIDDEN, "host not allowed", admits_sessions=True)


@dataclass(frozen=True)
class Entry:
    """What the gate reads of one request.

    Attributes:
        path: the URL path the request is for (without the query).
        host: its ``Host`` header (None: absent).
        authorization: its ``Authorization`` header (None: absent, or not to be used).
        cookies: every ``Cookie`` header, in order.
        address: the client's IP address (:meth:`Gate.client_address`), for the
            per-address login limit and the log.
        origin: its ``Origin`` header where the server checks one (a WebSocket
            handshake); None: absent, or not checked.
    """

    path: str
    host: str | None
    authorization: str | None = None
    cookies: tuple[str, ...] = ()
    address: str = ""
    origin: str | None = None


class Outcome(enum.Enum):
    """What the gate says."""

    ALLOWED = "allowed"
    FOREIGN = "foreign"  # a Host or Origin of another site: refused, close the connection
    REFUSED = "refused"  # no login: refused (401, 429 or 503)
    CHECK_LOGIN = "check login"  # the credentials need scrypt: ask Gate.log_in


@dataclass(frozen=True)
class Decision:
    """The gate's answer about one request.

    Attributes:
        outcome: in, out, or ask again with :meth:`Gate.log_in`.
        refusal: FOREIGN and REFUSED: the answer to send (status, text, headers).
        reason: FOREIGN and REFUSED: why, for a log line.
        headers: ALLOWED: headers to add to the answer (a new session's ``Set-Cookie``).
        anonymous: ALLOWED on an open path without a login while a password file is
            set: the answer tells only what anyone may know.
        user: ALLOWED by a login or a session: whose ("" otherwise), so that a server
            can close what a user holds when the password file no longer lets them in.
    """

    outcome: Outcome
    refusal: Refusal | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    user: str = ""


ALLOWED = Decision(Outcome.ALLOWED)
ANONYMOUS = Decision(Outcome.ALLOWED, anonymous=True)
CHECK_LOGIN = Decision(Outcome.CHECK_LOGIN)


def origin_allowed(origin: str | None, host_header: str | None, allowed: tuple[str, ...]) -> bool:
    """True if a handshake's Origin may connect.

    No Origin (a non-browser client) is allowed; otherwise its host name must be the
    host name the client used to reach us (the page's own host), or the origin must be
    listed in ``allowed`` (``Allowed_Origins``; ``*`` allows any).
    """
    if origin is None or "*" in allowed or origin in allowed:
        return True
    if not host_header:
        return False
    return urlsplit(origin).hostname == urlsplit("//" + host_header).hostname


class Gate:
    """Decides whether one server answers a request (see the module docstring).

    Args:
        door: the server's rules (HTTP_DOOR or WEBSOCKET_DOOR).
        hosts: which Host names are answered.
        auth: who may watch (None: everyone).
        allowed_origins: ``Allowed_Origins``: extra origins a handshake may come from.
        proxies: whose ``X-Forwarded-For`` is believed (``Trusted_Proxies``; default none).
    """

    def __init__(self, door: Door, hosts: HostPolicy, auth: Authenticator | None = None,
                 allowed_origins: tuple[str, ...] = (), proxies: ProxyPolicy | None = None):
        self.door, self._hosts, self.auth = door, hosts, auth
        self._allowed_origins = allowed_origins
        self._proxies = proxies or ProxyPolicy()

    def client_address(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The address a request counts as: ``peer``, or behind a trusted proxy the client
        its ``X-Forwarded-For`` headers name (:meth:`ProxyPolicy.client`)."""
        return self._proxies.client(peer, forwarded_for)

    def admit(self, entry: Entry) -> Decision:
        """The decision on ``entry`` if it needs no scrypt check, else CHECK_LOGIN.

        Never blocks (beyond the Authenticator's short lock).
        """
        if not self._hosts.allows(entry.host):
            return Decision(Outcome.FOREIGN, Refusal(
                self.door.foreign_host, self.door.foreign_host_text.format(host=entry.host), {}),
                f"host {entry.host!r} is not one of this machine's names (Allowed_Hosts)")
        if not origin_allowed(entry.origin, entry.host, self._allowed_origins):
            return Decision(Outcome.FOREIGN, Refusal(HTTPStatus.FORBIDDEN, "origin not allowed",
                                                     {}), f"origin {entry.origin} not allowed")
        auth = self.auth
        if auth is None:
            return ALLOWED
        if entry.path in self.door.open_paths and parse_basic(entry.authorization) is None:
            return ANONYMOUS
        if self.door.admits_sessions and (user := auth.session_user(entry.cookies)) is not None:
            return Decision(Outcome.ALLOWED, user=user)
        login = auth.check_cached(entry.authorization)
        return CHECK_LOGIN if login is None else self._logged_in(auth, entry, login)

    def log_in(self, entry: Entry) -> Decision:
        """The decision on ``entry``'s credentials after :meth:`admit` said CHECK_LOGIN.

        May block: an uncached check runs scrypt (50-100 ms), after any other check under
        way; limited or busy attempts return at once.
        """
        assert self.auth is not None  # admit asks for a login only with a password file
        return self._logged_in(self.auth, entry, self.auth.check(entry.authorization,
                                                                 entry.address))

    def _logged_in(self, auth: Authenticator, entry: Entry, login: Login) -> Decision:
        """ALLOWED (with a new session on a session path) or REFUSED, from a Login."""
        if login.verdict is not Verdict.ACCEPTED:
            if entry.path in self.door.open_paths:  # open to all, but it tells them less
                return ANONYMOUS
            return Decision(Outcome.REFUSED, login.refusal(), login.verdict.value)
        if (entry.path in self.door.session_paths and login.user
                and auth.session_user(entry.cookies) is None):
            return Decision(Outcome.ALLOWED, headers={"Set-Cookie": auth.open_session(login.user)},
                            user=login.user)
        return Decision(Outcome.ALLOWED, user=login.user or "")
