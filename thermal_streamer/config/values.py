"""server.conf's value parsers: each takes the text as written and returns the value.

Each raises ValueError whose message says what is allowed (``must be an integer from 0 to
65535``); the loader puts it after the file, section, key and value in a
:class:`~thermal_streamer.config.errors.ConfigError`. A value that also has a JSON form
(a render setting, an object parameter, an alarm rule's field) is a
:class:`~thermal_streamer.control.fields.Field`, read by :func:`from_field`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from lepton import LeptonError, parse_gpio_line
from thermal_streamer.control.fields import Field, SettingError
from thermal_streamer.security.proxies import parse_networks

MIN_TOKEN_CHARS = 16  # a Control_Token shorter than this is refused: it can be guessed
MAKE_TOKEN = 'python3 -c "import secrets; print(secrets.token_urlsafe(24))"'


def integer(low: int, high: int) -> Callable[[str], int]:
    """A parser of an integer from ``low`` to ``high`` inclusive."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return parse


def number(low: float, high: float) -> Callable[[str], float]:
    """A parser of a finite number from ``low`` to ``high`` inclusive."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise ValueError(f"must be a number from {low:g} to {high:g}")
        return value

    return parse


def choice(*allowed: str) -> Callable[[str], str]:
    """A parser of one of ``allowed`` (any case; returned as spelt in ``allowed``)."""

    lowered = {a.lower(): a for a in allowed}

    def parse(text: str) -> str:
        try:
            return lowered[text.strip().lower()]
        except KeyError:
            raise ValueError("must be one of: " + ", ".join(allowed)) from None

    return parse


def text(value: str) -> str:
    """Any text, stripped (empty allowed)."""
    return value.strip()


def nonempty(value: str) -> str:
    """Text that is not empty once stripped."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def host(value: str) -> str:
    """An IP address or host name to listen on or connect to (no spaces)."""
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be an IP address or host name, e.g. 0.0.0.0 or 127.0.0.1")
    return value


def zmq_address(value: str) -> str:
    """A ZeroMQ endpoint: ``tcp://``, ``ipc://`` or ``inproc://`` and an address."""
    value = value.strip()
    transport, sep, endpoint = value.partition("://")
    if not sep or transport not in ("tcp", "ipc", "inproc") or not endpoint:
        raise ValueError("must be a ZeroMQ endpoint transport://address, e.g. "
                         "tcp://127.0.0.1:9999 or ipc:///tmp/camera")
    return value


class BrokerUrl(NamedTuple):
    """Where the MQTT broker is: ``mqtt://host:port`` (plain) or ``mqtts://host:port`` (TLS)."""

    host: str
    port: int
    tls: bool


def broker_url(value: str) -> BrokerUrl | None:
    """``mqtt://HOST[:PORT]`` (port 1883) or ``mqtts://HOST[:PORT]`` (TLS, 8883); empty: None."""
    value = value.strip()
    if not value:
        return None
    url = urlsplit(value)
    try:
        port = url.port
    except ValueError:
        port = -1
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname or port == -1 or (
            url.path not in ("", "/")):
        raise ValueError("must be empty (MQTT off) or mqtt://HOST[:PORT] or mqtts://HOST[:PORT] "
                         "(TLS), e.g. mqtt://127.0.0.1:1883")
    tls = url.scheme == "mqtts"
    return BrokerUrl(url.hostname, port or (8883 if tls else 1883), tls)


def identifier(value: str) -> str:
    """Empty, or lower-case letters, digits, ``_`` and ``-`` (an MQTT camera id)."""
    value = value.strip()
    if value and not re.fullmatch(r"[a-z0-9_-]+", value):
        raise ValueError("must be lower-case letters a-z, digits, _ and - only")
    return value


def topic_level(value: str) -> str:
    """An MQTT topic prefix: no wildcards, no leading or trailing ``/``."""
    value = value.strip()
    if any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
        raise ValueError("must be an MQTT topic without wildcards (+, #) or a leading or "
                         "trailing /, e.g. thermal")
    return value


def boolean(value: str) -> bool:
    """yes/no, true/false, on/off or 1/0 (any case)."""
    words = {"yes": True, "true": True, "on": True, "1": True,
             "no": False, "false": False, "off": False, "0": False}
    try:
        return words[value.strip().lower()]
    except KeyError:
        raise ValueError("must be yes or no") from None


def gpio_line(value: str) -> str:
    """Empty (no power line) or ``gpiochipN:OFFSET``."""
    value = value.strip()
    if value:
        try:
            parse_gpio_line(value)
        except LeptonError:
            raise ValueError("must be empty or gpiochipN:OFFSET, e.g. gpiochip0:17") from None
    return value


def word_list(value: str) -> tuple[str, ...]:
    """Words separated by spaces or commas (empty: none)."""
    return tuple(w for w in value.replace(",", " ").split() if w)


def control_token(value: str) -> str:
    """A control token: empty (none) or at least MIN_TOKEN_CHARS characters."""
    value = value.strip()
    if value and len(value) < MIN_TOKEN_CHARS:
        raise ValueError(f"must be empty or at least {MIN_TOKEN_CHARS} characters long "
                         f"(this one has {len(value)}): make one with {MAKE_TOKEN}")
    return value


def network_list(value: str) -> tuple[str, ...]:
    """IP addresses or networks separated by spaces or commas (empty: none)."""
    words = word_list(value)
    parse_networks(words)  # its ValueError names the word
    return words


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")  # scheme, host, [port]: no path


def origin_list(value: str) -> tuple[str, ...]:
    """Origins separated by spaces or commas (empty: none), each ``http(s)://HOST[:PORT]``
    with no path, as a CSP ``frame-ancestors`` source takes them; ``'self'`` too."""
    origins = word_list(value)
    for origin in origins:
        if origin != "'self'" and _ORIGIN.fullmatch(origin) is None:
            raise ValueError(f"must be origins such as https://homeassistant.local:8123 "
                             f"(scheme, host and port, no path), space separated, or "
                             f"'self'; {origin!r} is not one")
    return origins


def from_field(field: Field) -> Callable[[str], Any]:
    """The server.conf parser of a field (its ValueError says ``must be`` the field's
    :attr:`~thermal_streamer.control.fields.Field.allowed_text`)."""

    def parse(text: str) -> Any:
        try:
            return field.from_text(text)
        except SettingError as exc:
            raise ValueError(f"must be {exc.allowed}") from None

    return parse
