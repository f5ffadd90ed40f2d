"""Which Host (and Origin) names may reach the daemon: the defence against DNS rebinding.

A web page the user opens elsewhere can point a name it controls at the Pi's address
(DNS rebinding); the browser then sends that name in ``Host`` (and ``Origin``). Only
names this machine answers to are accepted: IP literals, its host name, ``localhost``,
``<hostname>.local`` (mDNS) and the names listed in ``[Security] Allowed_Hosts`` (``*``
accepts any). A request without ``Host`` (HTTP/1.0 tools) is accepted. Pure: no I/O
once built.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit


def machine_names() -> tuple[str, ...]:
    """This machine's own names: ``localhost``, its host name and ``<hostname>.local``."""
    hostname = socket.gethostname().lower().rstrip(".")
    short = hostname.split(".")[0]
    return tuple(dict.fromkeys(("localhost", hostname, short, f"{short}.local")))


def host_name(value: str) -> str | None:
    """The name in a Host header or an origin's authority, lower-case, without port or
    trailing dot (``[::1]:80`` -> ``::1``); None when it cannot be parsed."""
    try:
        name = urlsplit("//" + value).hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return name.rstrip(".") if name else None


class HostPolicy:
    """Decides whether a Host header names this machine.

    Args:
        allowed: ``Allowed_Hosts``: extra names (a reverse proxy's, a DNS name), or ``*``.
        own_names: this machine's names (default :func:`machine_names`).
    """

    def __init__(self, allowed: Iterable[str] = (), own_names: Iterable[str] | None = None):
        extra = {a.lower().rstrip(".") for a in allowed}
        self.any = "*" in extra
        self.names = frozenset(extra | set(machine_names() if own_names is None else own_names))

    def allows(self, host_header: str | None) -> bool:
        """True if a request with this Host header (None: absent) may be answered."""
        if host_header is None or self.any:
            return True
        name = host_name(host_header)
        if name is None:
            return False
        if name in self.names:
            return True
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
