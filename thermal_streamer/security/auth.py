"""Who may watch: Basic logins checked against the password file, and the session cookie
that lets a logged-in page open its WebSocket on the other port.

With ``[Security] Password_File`` set, both servers hold one :class:`Authenticator`:

- **HTTP: Basic authentication** (RFC 7617). A request needs ``Authorization: Basic
  base64(user ":" password)``; without valid credentials the answer is 401 with
  ``WWW-Authenticate: Basic realm="thermal camera", charset="UTF-8"`` (RFC 7617 §2,
  §2.1), so browsers ask, and Home Assistant, ffmpeg, VLC and OpenCV can use
  ``http://user:pass@pi/stream.mjpg``.
- **The page's WebSocket: a session cookie** (RFC 6265). A browser reuses Basic
  credentials only within their protection space, which includes the port (RFC 7617 §2.2,
  RFC 9110 §11.5), so it does not send them to the WebSocket port. Cookies are per host,
  not per port (RFC 6265 §8.5), so the HTTP side gives a logged-in page a cookie
  ``thermal_session_PORT=TOKEN; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict`` (plus
  ``Secure`` with TLS) and the WebSocket handshake is accepted with a live session. PORT
  is the daemon's HTTP port (:func:`session_cookie_name`): another daemon or web
  application on another port of the same host has a cookie of its own, so neither
  overwrites the other's nor takes it for its own.
  TOKEN is 256 random bits; the table keeps only its SHA-256, holds at most MAX_SESSIONS
  (the oldest goes first) and forgets each after SESSION_TTL_S. HttpOnly keeps page
  scripts from reading it; SameSite=Strict keeps other sites' pages from making the
  browser send it (RFC 6265bis §8.8; the Origin check refuses them too). A non-browser
  WebSocket client may send Basic credentials in its handshake instead.
- **Cost.** scrypt takes 50-100 ms per check on purpose. A successful check is cached for
  CACHE_TTL_S (at most MAX_CACHED entries), keyed by an HMAC-SHA256 of user and password
  under a random key made at start (the password itself is not kept), so MJPEG clients
  and page loads pay it once. Unknown users are checked against a real hash too, so the
  time taken does not say whether a name exists.
- **Guessing.** Every check that is not cached takes a token from its address's bucket
  (ADDRESS_BURST at once, then one every ADDRESS_INTERVAL_S; an IPv6 address counted
  per /64, on a local network by itself: :func:`address_key`); an empty bucket gets 429
  with Retry-After and no scrypt. A successful check forgets the address's failures.
  All uncached checks share one more bucket (GLOBAL_BURST, then GLOBAL_RATE_PER_S; else
  503), and run one at a time: however many addresses guess, scrypt costs at most
  GLOBAL_RATE_PER_S checks a second on one core and 16 MiB. Failed logins are logged
  with the user name and address, never the password, at most one line per
  LOG_INTERVAL_S (with a count of those suppressed).

Thread-safe: HTTP handler threads, the WebSocket loop and its ``ws-auth`` thread share it.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

from thermal_streamer.core.ratelimit import RateLimitedLog, TokenBucket
from thermal_streamer.security.passwords import verify_password

log = logging.getLogger(__name__)

REALM = "thermal camera"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'  # RFC 7617 §2 and §2.1
SESSION_COOKIE = "thermal_session"
SESSION_TOKEN_BYTES = 32  # 256 random bits
SESSION_TTL_S = 12 * 3600.0  # a session (and its cookie's Max-Age) lasts this long
MAX_SESSIONS = 1024  # sessions kept at most; a new one past it ends the oldest
CACHE_TTL_S = 15 * 60.0  # a successful check is remembered this long
MAX_CACHED = 256  # successful checks remembered at most (the oldest is forgotten first)
ADDRESS_BURST = 10  # uncached checks an address may make at once
ADDRESS_INTERVAL_S = 6.0  # then one per this many seconds
MAX_ADDRESSES = 4096  # addresses whose attempts are remembered (the least recent goes)
GLOBAL_RATE_PER_S = 4.0  # uncached checks a second, all addresses together, on average
GLOBAL_BURST = 16  # and at once
LOG_INTERVAL_S = 10.0  # failed logins: at most one log line per this
UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")  # RFC 4193: a LAN's own addresses
# why a password file without users is refused (at start and on SIGHUP)
NO_USERS = "no users: add one with --add-user NAME --password-file PATH"


class Verdict(enum.Enum):
    """What a login attempt came to."""

    ACCEPTED = "accepted"
    MISSING = "missing"  # no Basic credentials, or unreadable ones: ask (401)
    WRONG = "wrong"  # unknown user or wrong password (401)
    LIMITED = "limited"  # this address failed too often: 429, no scrypt
    BUSY = "busy"  # too many uncached checks everywhere: 503, no scrypt


@dataclass(frozen=True)
class Refusal:
    """The HTTP answer to a refused login: status, a line of text and extra headers."""

    status: HTTPStatus
    text: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Login:
    """The outcome of :meth:`Authenticator.check`.

    Attributes:
        verdict: accepted or why not.
        user: the user name when accepted.
        retry_after_s: LIMITED and BUSY: seconds until a check would be made again.
    """

    verdict: Verdict
    user: str | None = None
    retry_after_s: float = 0.0

    def refusal(self) -> Refusal:
        """The answer both servers send (not for ACCEPTED).

        401 with the Basic challenge (RFC 7617 §2), or 429 (RFC 6585 §4) / 503 with
        ``Retry-After`` in whole seconds (RFC 9110 §10.2.3).
        """
        retry = {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}
        if self.verdict is Verdict.LIMITED:
            return Refusal(HTTPStatus.TOO_MANY_REQUESTS, "too many failed logins from this "
                           f"address: try again in {retry['Retry-After']} s", retry)
        if self.verdict is Verdict.BUSY:
            return Refusal(HTTPStatus.SERVICE_UNAVAILABLE, "too many logins at once: try "
                           f"again in {retry['Retry-After']} s", retry)
        return Refusal(HTTPStatus.UNAUTHORIZED, "log in with a user of [Security] "
                       "Password_File", {"WWW-Authenticate": CHALLENGE})


def session_cookie_name(http_port: int) -> str:
    """The session cookie's name for the daemon whose HTTP port is ``http_port``."""
    return f"{SESSION_COOKIE}_{http_port}"


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization`` header value, or None.

    RFC 7617 §2: the scheme ``Basic`` (any case), then base64 of ``user-id ":" password``
    (the user-id holds no colon; the password may); decoded as UTF-8 (§2.1). None when
    the header is absent, of another scheme, or not valid base64 or UTF-8.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def cookie_values(cookie_headers: Iterable[str], name: str) -> list[str]:
    """Every value of cookie ``name`` in ``Cookie`` request headers, in order.

    RFC 6265 §4.2.1: ``name=value`` pairs separated by ``;`` (and a space); a browser
    may send several cookies of one name (other paths or domains), so all are returned.
    """
    values = []
    for header in cookie_headers:
        for pair in header.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                values.append(value.strip())
    return values


def address_key(address: str) -> str:
    """Whose attempts an address counts as: an IPv4 address itself (also when mapped
    into IPv6); an IPv6 address on a local network (link-local fe80::/10, unique local
    fc00::/7, loopback: every host of the LAN has its own) itself; any other IPv6
    address's /64 network (one host on the Internet often holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip.is_link_local or ip.is_loopback or ip in UNIQUE_LOCAL:
            return str(ip)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class Sessions:
    """Server-side sessions: random tokens that expire, in a table of bounded size.

    Not thread-safe (:class:`Authenticator` holds it under its lock).

    Args:
        ttl_s: how long a session lasts, seconds.
        max_sessions: sessions kept at most (>= 1); a new one past it ends the oldest.
        clock: monotonic clock, seconds (injectable).
    """

    def __init__(self, ttl_s: float = SESSION_TTL_S, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self._max, self._clock = ttl_s, max_sessions, clock
        self._table: OrderedDict[bytes, tuple[str, float]] = OrderedDict()  # oldest first

    def __len__(self) -> int:
        return len(self._table)

    def open(self, user: str) -> str:
        """Start a session for ``user``; returns its token (URL-safe base64, 43 characters)."""
        now = self._clock()
        while self._table and (next(iter(self._table.values()))[1] <= now
                               or len(self._table) >= self._max):
            self._table.popitem(last=False)
        token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
        self._table[hashlib.sha256(token.encode()).digest()] = (user, now + self.ttl_s)
        return token

    def end(self, users: Collection[str]) -> int:
        """End every session of ``users``; returns how many ended."""
        gone = [key for key, (user, _) in self._table.items() if user in users]
        for key in gone:
            del self._table[key]
        return len(gone)

    def user(self, token: str) -> str | None:
        """The user of a live session, or None (unknown or expired token)."""
        entry = self._table.get(hashlib.sha256(token.encode()).digest())
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]


@dataclass
class _Cache:
    """Successful checks: {HMAC of user and password: (user, expiry)}, oldest first."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    table: OrderedDict[bytes, tuple[str, float]] = field(default_factory=OrderedDict)

    def digest(self, user: str, password: str) -> bytes:
        # user names hold no NUL (passwords.USER_NAME), so the message is unambiguous
        return hmac.new(self.key, f"{user}\0{password}".encode(), hashlib.sha256).digest()


class Authenticator:
    """Checks Basic credentials (cached, rate-limited) and keeps the sessions.

    Args:
        users: {user name: stored scrypt hash}, from :func:`read_password_file` (not empty).
        secure_cookie: add ``Secure`` to the cookie (the daemon serves TLS).
        clock: monotonic clock, seconds (injectable).
        verify: checks a password against a stored hash (injectable; scrypt by default).

    Raises:
        ValueError: ``users`` is empty (nobody could log in).
    """

    def __init__(self, users: Mapping[str, str], secure_cookie: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 verify: Callable[[str, str], bool] = verify_password):
        if not users:
            raise ValueError(NO_USERS)
        self._users, self._secure, self._clock, self._verify = dict(users), secure_cookie, \
            clock, verify
        self._decoy = next(iter(self._users.values()))  # unknown users cost a real check
        self._lock = threading.Lock()  # every table below
        self._scrypt = threading.Lock()  # one scrypt at a time: one core, 16 MiB
        self._cache = _Cache()
        self._addresses: OrderedDict[str, TokenBucket] = OrderedDict()  # least recent first
        self._everyone = TokenBucket(GLOBAL_RATE_PER_S, GLOBAL_BURST, clock)
        self.sessions = Sessions(clock=clock)
        # set by the app once the HTTP port is bound (session_cookie_name), before serving
        self.cookie_name = SESSION_COOKIE
        self._log = RateLimitedLog(log, LOG_INTERVAL_S, clock)

    def check_cached(self, authorization: str | None) -> Login | None:
        """The verdict on an ``Authorization`` header if it needs no scrypt, else None.

        Never blocks (beyond a short lock): MISSING for absent or unreadable
        credentials, ACCEPTED for credentials that passed a check within CACHE_TTL_S.
        """
        credentials = parse_basic(authorization)
        if credentials is None:
            return Login(Verdict.MISSING)
        digest = self._cache.digest(*credentials)
        with self._lock:
            entry = self._cache.table.get(digest)
            if entry is not None and entry[1] > self._clock():
                return Login(Verdict.ACCEPTED, entry[0])
        return None

    def check(self, authorization: str | None, address: str) -> Login:
        """The verdict on an ``Authorization`` header sent from ``address``.

        May block: an uncached check runs scrypt (50-100 ms), after any other check
        under way. Limited or busy attempts return at once without scrypt.

        Args:
            authorization: the header's value (None: absent).
            address: the peer's IP address, for the per-address limit and the log.
        """
        login = self.check_cached(authorization)
        if login is not None:
            return login
        user, password = parse_basic(authorization) or ("", "")
        key = address_key(address)
        with self._lock:
            bucket = self._addresses.pop(key, None) or TokenBucket(
                1 / ADDRESS_INTERVAL_S, ADDRESS_BURST, self._clock)
            self._addresses[key] = bucket  # now the most recent
            if len(self._addresses) > MAX_ADDRESSES:
                self._addresses.popitem(last=False)
            if not bucket.take():
                self._log.warning("limited", "refusing logins from %s for %.0f s: too many "
                                  "failed", address, bucket.wait_s())
                return Login(Verdict.LIMITED, retry_after_s=bucket.wait_s())
            if not self._everyone.take():
                self._log.warning("busy", "refusing logins for %.1f s: more than %g a second "
                                  "(from %s)", self._everyone.wait_s(), GLOBAL_RATE_PER_S,
                                  address)
                return Login(Verdict.BUSY, retry_after_s=self._everyone.wait_s())
        stored = self._users.get(user)
        with self._scrypt:
            matches = self._verify(password, self._decoy if stored is None else stored)
        with self._lock:
            if stored is None or not matches:
                self._log.warning("failed", "failed login for user %r from %s", user[:64],
                                  address)
                return Login(Verdict.WRONG)
            self._addresses.pop(key, None)
            table, digest = self._cache.table, self._cache.digest(user, password)
            table.pop(digest, None)  # an expired entry: the new one goes last
            table[digest] = (user, self._clock() + CACHE_TTL_S)
            while len(table) > MAX_CACHED:
                table.popitem(last=False)
        log.info("login: %s from %s", user, address)
        return Login(Verdict.ACCEPTED, user)

    def replace_users(self, users: Mapping[str, str]) -> frozenset[str]:
        """Take a re-read password file's users (SIGHUP); thread-safe.

        A user who is gone, or whose hash changed (a new password), is revoked: their
        sessions end and their cached checks are forgotten, so their next request or
        handshake must log in again with what the file now holds.

        Args:
            users: {user name: stored scrypt hash}, not empty.

        Returns:
            The revoked user names (the servers close what these hold).

        Raises:
            ValueError: ``users`` is empty (nobody could log in; the old users stay).
        """
        if not users:
            raise ValueError(NO_USERS)
        with self._lock:
            revoked = frozenset(user for user, stored in self._users.items()
                                if users.get(user) != stored)
            self._users, self._decoy = dict(users), next(iter(users.values()))
            self.sessions.end(revoked)
            for digest in [d for d, (user, _) in self._cache.table.items() if user in revoked]:
                del self._cache.table[digest]
        return revoked

    def open_session(self, user: str) -> str:
        """Start a session for ``user``; returns the ``Set-Cookie`` header value (RFC 6265
        §4.1: ``Max-Age`` §5.2.2, ``HttpOnly`` §5.2.6, ``Secure`` §5.2.5; SameSite from
        RFC 6265bis §5.4.7)."""
        with self._lock:
            token = self.sessions.open(user)
        secure = "; Secure" if self._secure else ""
        return (f"{self.cookie_name}={token}; Path=/; Max-Age={int(self.sessions.ttl_s)}; "
                f"HttpOnly; SameSite=Strict{secure}")

    def session_user(self, cookie_headers: Iterable[str]) -> str | None:
        """The user of the first live session among the request's ``Cookie`` headers."""
        tokens = cookie_values(cookie_headers, self.cookie_name)
        with self._lock:
            for token in tokens:
                user = self.sessions.user(token)
                if user is not None:
                    return user
        return None
