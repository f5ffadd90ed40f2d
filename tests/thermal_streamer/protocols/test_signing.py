"""thermal_streamer.protocols.signing: thermal-sig values, exact bytes; verify; the replay rule."""

from __future__ import annotations

import pytest

from thermal_streamer.protocols.signing import (
    Boot,
    ReplayGuard,
    Signature,
    SignatureError,
    Signer,
    Verifier,
    check_key,
    sign,
    signed_bytes,
    verify,
)

KEY = bytes(range(32))
BOOT = Boot(1700000000000, "0123456789abcdef")
TOPIC = "thermal/origin/state"
PAYLOAD = b'{"running":true}'
MAC = "c6e40b51fabb0b863321283e4fbeb0b8f5a689708c19bfdfffbf07544a4ff955"
VALUE = f"1.1700000000000.0123456789abcdef.5.{MAC}"


def test_the_signed_bytes_are_prefix_topic_length_topic_and_payload():
    """The mac covers the value's prefix, the topic's byte length, the topic and the payload."""
    assert signed_bytes("1.1700000000000.0123456789abcdef.5", TOPIC, PAYLOAD) == (
        b'1.1700000000000.0123456789abcdef.5\n20\nthermal/origin/state{"running":true}')
    assert signed_bytes("p", "caf\u00e9", b"") == b"p\n5\ncaf\xc3\xa9"  # bytes, not characters


def test_sign_gives_the_exact_value():
    """sign(): version, boot ms, nonce, counter and the HMAC-SHA256 in hex, dot-separated
    (the mac checked with hmac.new over the bytes above, computed apart)."""
    assert sign(KEY, TOPIC, PAYLOAD, BOOT, 5) == VALUE


def test_verify_returns_the_signature():
    """A value made with the key verifies to its boot, counter and mac."""
    assert verify(KEY, TOPIC, PAYLOAD, VALUE) == Signature(BOOT, 5, MAC)


FORMAT = "thermal-sig is not 1.<boot_ms>.<nonce>.<counter>.<mac>"
MISMATCH = "the mac does not match (another key, or the topic or payload was changed)"


@pytest.mark.parametrize(("key", "topic", "payload", "value", "reason", "detail"), [
    (KEY, TOPIC, PAYLOAD, None, "unsigned", "no thermal-sig property"),
    (KEY, TOPIC, PAYLOAD, "", "bad_signature", FORMAT),
    (KEY, TOPIC, PAYLOAD, VALUE.upper(), "bad_signature", FORMAT),
    (KEY, TOPIC, PAYLOAD, "2" + VALUE[1:], "bad_signature", FORMAT),
    (bytes(32), TOPIC, PAYLOAD, VALUE, "bad_signature", MISMATCH),
    (KEY, "thermal/other/state", PAYLOAD, VALUE, "bad_signature", MISMATCH),
    (KEY, TOPIC, b'{"running":false}', VALUE, "bad_signature", MISMATCH),
    (KEY, TOPIC, PAYLOAD, VALUE.replace(".5.", ".6."), "bad_signature", MISMATCH),
])
def test_what_does_not_verify(key, topic, payload, value, reason, detail):
    """No property, a value not in the format, another key, topic, payload or counter:
    each is refused with its reason and the exact text."""
    with pytest.raises(SignatureError) as caught:
        verify(key, topic, payload, value)
    assert (caught.value.reason, caught.value.detail) == (reason, detail)
    assert str(caught.value) == f"{reason}: {detail}"


def test_every_changed_payload_byte_is_caught():
    """Flipping any one bit of a frame-sized payload breaks the mac."""
    payload = bytes(range(256)) * 4
    value = sign(KEY, TOPIC, payload, BOOT, 1)
    for i in range(0, len(payload), 37):
        changed = bytearray(payload)
        changed[i] ^= 1
        with pytest.raises(SignatureError):
            verify(KEY, TOPIC, bytes(changed), value)


def test_keys_shorter_than_32_bytes_are_refused_with_the_fix():
    """check_key: 31 bytes is an error saying how to make a key; 32 is enough."""
    with pytest.raises(ValueError) as caught:
        check_key(bytes(31))
    assert str(caught.value) == ("must hold at least 32 bytes (it has 31); make one with: "
                                 "head -c 32 /dev/urandom > FILE")
    check_key(bytes(32))


def signature(counter: int, boot: Boot = BOOT, mac: str = "m") -> Signature:
    return Signature(boot, counter, mac)


def test_the_replay_rule_within_one_boot():
    """First accepted (a retained one); the very same again accepted (the retained copy
    re-delivered); an older or equal counter with another mac refused; a newer accepted."""
    guard = ReplayGuard()
    guard.accept(TOPIC, signature(5))
    guard.accept(TOPIC, signature(5))
    for old in (signature(4), signature(5, mac="other")):
        with pytest.raises(SignatureError) as caught:
            guard.accept(TOPIC, old)
        assert caught.value.reason == "replayed"
        assert caught.value.detail == f"counter {old.counter}, not above 5 (the last accepted)"
    guard.accept(TOPIC, signature(6))
    with pytest.raises(SignatureError):
        guard.accept(TOPIC, signature(5))  # once newer came, the old retained one is a replay


def test_the_replay_rule_across_boots_and_topics():
    """Another boot is accepted only if it started later; each topic has its own newest."""
    later, earlier = Boot(BOOT.started_ms + 1, "f" * 16), Boot(BOOT.started_ms - 1, "e" * 16)
    guard = ReplayGuard()
    guard.accept(TOPIC, signature(100))
    with pytest.raises(SignatureError) as caught:
        guard.accept(TOPIC, signature(1, earlier))
    assert caught.value.detail == ("a run of the origin that started at 1699999999999 ms, "
                                   "not after the last accepted one's 1700000000000 ms")
    with pytest.raises(SignatureError):
        guard.accept(TOPIC, signature(1, Boot(BOOT.started_ms, "a" * 16)))  # same ms, other run
    guard.accept(TOPIC, signature(1, later))  # the origin restarted: its counter starts again
    with pytest.raises(SignatureError):
        guard.accept(TOPIC, signature(101))  # the earlier run, after the later one
    guard.accept("thermal/origin/frame", signature(1, earlier))  # another topic: its first


def test_the_signer_numbers_connections_and_gives_the_will_the_highest():
    """Counters are connection << 32 | n; the will's n is 2**32 - 1: above its connection's
    messages, below the next connection's; unsigned topics get None."""
    signer = Signer(KEY, frozenset({TOPIC, "t/availability"}), BOOT)
    signer.new_connection()
    first = signer.sign(TOPIC, PAYLOAD)
    assert first == sign(KEY, TOPIC, PAYLOAD, BOOT, (1 << 32) + 1)
    assert signer.sign(TOPIC, PAYLOAD) == sign(KEY, TOPIC, PAYLOAD, BOOT, (1 << 32) + 2)
    assert signer.sign("t/jpeg", b"x") is None
    will = signer.sign_will("t/availability", b"offline")
    assert will == sign(KEY, "t/availability", b"offline", BOOT, (2 << 32) - 1)
    signer.new_connection()
    online = signer.sign("t/availability", b"online")
    assert online == sign(KEY, "t/availability", b"online", BOOT, (2 << 32) + 1)
    verifier = Verifier(KEY, frozenset({"t/availability"}))
    for value, payload in ((first, PAYLOAD), (will, b"offline")):  # not on a checked topic
        verifier.check(TOPIC, payload, value)
    verifier.check("t/availability", b"offline", will)
    verifier.check("t/availability", b"online", online)
    with pytest.raises(SignatureError):
        verifier.check("t/availability", b"offline", will)  # the old will, replayed


def test_a_new_boot_has_the_clock_and_a_random_nonce():
    """Boot.new: the clock in ms and 16 hex digits that differ between runs."""
    boot = Boot.new(clock=lambda: 1700000000.1234)
    assert boot.started_ms == 1700000000123 and len(boot.nonce) == 16
    assert int(boot.nonce, 16) >= 0 and Boot.new().nonce != Boot.new().nonce
