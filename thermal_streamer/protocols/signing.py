"""Signed MQTT messages: an HMAC-SHA256 in an MQTT 5 user property, and the replay rule. Pure.

With ``[MQTT] Signing_Key_File`` the origin signs its ``frame``, ``state`` and
``availability`` messages (docs/protocol.md, "Signed messages") and an edge with the same
key accepts only those that verify and are newer than the last one it accepted on their
topic. The user property ``thermal-sig`` holds::

    1.<boot_ms>.<boot_nonce>.<counter>.<mac>

- ``1``: the format's version.
- ``boot_ms``: the origin process's start, Unix time in milliseconds (decimal); with
  ``boot_nonce`` (16 hex digits, random) it names one run of the origin (a *boot*).
- ``counter``: per boot, increasing with every signed message (decimal). The origin's
  last will gets the highest counter of its connection (:meth:`Signer.sign_will`), so it
  is newer than every message of that connection and older than the next connection's.
- ``mac``: 64 hex digits, HMAC-SHA256 (RFC 2104, FIPS 180-4) with the shared key over
  :func:`signed_bytes`: the text before the mac, the topic (length-prefixed) and the
  whole payload (so a frame's seq and timestamp, in its header, are signed too).

Replay rule (:class:`ReplayGuard`), per topic: the first message is accepted (a retained
one, to a new subscriber); then one of the same boot only if its counter is higher, or if
it is the very message last accepted (the broker re-delivers the retained message on every
subscription); one of another boot only if that boot started later (``boot_ms``).

Error tree::

    SignatureError (ValueError)    a message that must be dropped; ``reason`` names its counter
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable

PROPERTY = "thermal-sig"  # the MQTT 5 user property's name (MQTT 5.0, section 3.3.2.3.7)
VERSION = "1"
MIN_KEY_BYTES = 32  # the key must have at least SHA-256's output size (RFC 2104, section 3)
NONCE_HEX = 16
MAC_HEX = 2 * hashlib.sha256().digest_size
COUNTER_BITS = 32  # counter = connection << 32 | message number in that connection
_VALUE = re.compile(rf"1\.(\d{{1,15}})\.([0-9a-f]{{{NONCE_HEX}}})\.(\d{{1,20}})\."
                    rf"([0-9a-f]{{{MAC_HEX}}})")
# reasons a message is dropped; each one is a counter
UNSIGNED, BAD_SIGNATURE, REPLAYED = "unsigned", "bad_signature", "replayed"


class SignatureError(ValueError):
    """A message that must be dropped.

    Attributes:
        reason: ``unsigned`` (no ``thermal-sig`` property), ``bad_signature`` (not the
            format, or a mac that does not verify with the key) or ``replayed`` (signed,
            but not newer than the last message accepted on its topic).
        detail: what exactly is wrong, for the log.
    """

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


@dataclasses.dataclass(frozen=True)
class Boot:
    """One run of the origin: when it started (Unix ms) and a random nonce (16 hex digits)."""

    started_ms: int
    nonce: str

    @classmethod
    def new(cls, clock: Callable[[], float] = time.time) -> Boot:
        """This process's boot: now, and 64 random bits."""
        return cls(int(clock() * 1000), secrets.token_hex(NONCE_HEX // 2))


@dataclasses.dataclass(frozen=True)
class Signature:
    """A verified ``thermal-sig`` value."""

    boot: Boot
    counter: int
    mac: str


def check_key(key: bytes) -> None:
    """Raise ValueError (its text says how to make a key) unless ``key`` is long enough."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"must hold at least {MIN_KEY_BYTES} bytes (it has {len(key)}); "
                         f"make one with: head -c 32 /dev/urandom > FILE")


def signed_bytes(prefix: str, topic: str, payload: bytes) -> bytes:
    """What the mac covers: ``<prefix>\\n<len(topic)>\\n<topic><payload>`` (UTF-8, the
    topic's length in bytes, decimal); ``prefix`` is the property's value before its mac."""
    encoded = topic.encode()
    return b"%s\n%d\n%s%s" % (prefix.encode(), len(encoded), encoded, payload)


def _mac(key: bytes, prefix: str, topic: str, payload: bytes) -> str:
    encoded = topic.encode()
    mac = hmac.new(key, b"%s\n%d\n%s" % (prefix.encode(), len(encoded), encoded),
                   hashlib.sha256)
    mac.update(payload)  # not concatenated: a frame's payload is not copied
    return mac.hexdigest()


def sign(key: bytes, topic: str, payload: bytes, boot: Boot, counter: int) -> str:
    """The ``thermal-sig`` value of one message.

    Args:
        key: the shared key (at least MIN_KEY_BYTES).
        topic, payload: the message as published.
        boot: the origin's run.
        counter: this message's number in the boot, >= 0.
    """
    prefix = f"{VERSION}.{boot.started_ms}.{boot.nonce}.{counter}"
    return f"{prefix}.{_mac(key, prefix, topic, payload)}"


def verify(key: bytes, topic: str, payload: bytes, value: str | None) -> Signature:
    """Check one message's ``thermal-sig`` value (None: it had none).

    Returns:
        The signature, when the mac is the key's for this topic and payload.

    Raises:
        SignatureError: ``unsigned`` (None) or ``bad_signature`` (not the format above, or
            a mac that does not match; compared in constant time).
    """
    if value is None:
        raise SignatureError(UNSIGNED, f"no {PROPERTY} property")
    match = _VALUE.fullmatch(value)
    if match is None:
        raise SignatureError(BAD_SIGNATURE, f"{PROPERTY} is not 1.<boot_ms>.<nonce>."
                                            "<counter>.<mac>")
    started_ms, nonce, counter, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(key, value[:-MAC_HEX - 1], topic, payload)):
        raise SignatureError(BAD_SIGNATURE, "the mac does not match (another key, or the "
                                            "topic or payload was changed)")
    return Signature(Boot(int(started_ms), nonce), int(counter), mac)


class ReplayGuard:
    """The replay rule (module docstring), per topic. Not thread-safe: one caller (the
    link's thread)."""

    def __init__(self) -> None:
        self._last: dict[str, Signature] = {}

    def accept(self, topic: str, signature: Signature) -> None:
        """Remember ``signature`` as the newest on ``topic``, or refuse it.

        Raises:
            SignatureError: ``replayed``: not newer than the last accepted on ``topic``.
        """
        last = self._last.get(topic)
        if last is not None and signature != last:
            if signature.boot == last.boot:
                if signature.counter <= last.counter:
                    raise SignatureError(REPLAYED, f"counter {signature.counter}, not above "
                                                   f"{last.counter} (the last accepted)")
            elif signature.boot.started_ms <= last.boot.started_ms:
                raise SignatureError(REPLAYED, f"a run of the origin that started at "
                                               f"{signature.boot.started_ms} ms, not after "
                                               f"the last accepted one's "
                                               f"{last.boot.started_ms} ms")
        self._last[topic] = signature


class Verifier:
    """An edge's check of every signed topic: :func:`verify`, then :class:`ReplayGuard`.

    Args:
        key: the shared key.
        topics: the topics that must be signed; others pass unchecked.
    """

    def __init__(self, key: bytes, topics: frozenset[str]):
        check_key(key)
        self._key, self.topics, self._guard = key, topics, ReplayGuard()

    def check(self, topic: str, payload: bytes, value: str | None) -> None:
        """Raise SignatureError unless the message on ``topic`` may be used."""
        if topic in self.topics:
            self._guard.accept(topic, verify(self._key, topic, payload, value))


class Signer:
    """The origin's signatures: one boot, a counter that only grows. Thread-safe.

    The counter is ``connection << 32 | n``: :meth:`new_connection` (before each
    connection attempt) starts a new ``connection``; :meth:`sign` numbers the messages in
    it 1, 2, ...; :meth:`sign_will` gives the last will ``n = 2**32 - 1``, above every
    message of its connection and below the next connection's.

    Args:
        key: the shared key.
        topics: the topics to sign; :meth:`sign` returns None for others.
        boot: this run (default: :meth:`Boot.new`).
    """

    def __init__(self, key: bytes, topics: frozenset[str], boot: Boot | None = None):
        check_key(key)
        self._key, self.topics = key, topics
        self.boot = boot or Boot.new()
        self._lock = threading.Lock()
        self._connection, self._n = 0, 0

    def new_connection(self) -> None:
        """Start the next connection's numbering."""
        with self._lock:
            self._connection, self._n = self._connection + 1, 0

    def sign(self, topic: str, payload: bytes) -> str | None:
        """The next ``thermal-sig`` value for this message, or None if ``topic`` is not signed.

        A caller that publishes from several threads on one topic must sign and publish
        under one lock, so the broker gets that topic's counters in order.
        """
        if topic not in self.topics:
            return None
        with self._lock:
            if self._n < (1 << COUNTER_BITS) - 2:
                self._n += 1
            else:  # 4 billion messages in one connection: number them in a new one
                self._connection, self._n = self._connection + 1, 1
            counter = self._connection << COUNTER_BITS | self._n
        return sign(self._key, topic, payload, self.boot, counter)

    def sign_will(self, topic: str, payload: bytes) -> str:
        """The ``thermal-sig`` value of the current connection's last will."""
        with self._lock:
            counter = self._connection << COUNTER_BITS | ((1 << COUNTER_BITS) - 1)
        return sign(self._key, topic, payload, self.boot, counter)
