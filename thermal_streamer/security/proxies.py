"""Whose request it is behind a reverse proxy: ``X-Forwarded-For`` from trusted proxies only.

Behind nginx every connection comes from nginx's address, so a per-address limit (failed
logins, wrong control tokens) would count every client together: one guesser would lock
everyone out. ``[Security] Trusted_Proxies`` names the proxies whose ``X-Forwarded-For``
is believed. The header (RFC 7239 §5.2 describes its successor ``Forwarded``; nginx's
``$proxy_add_x_forwarded_for`` appends the address it saw to what the client sent) is read
from the right: hops that are trusted proxies are skipped, and the first one that is not
is the client. What a client writes there itself stays to the left of what the proxy
added, so it cannot pose as someone else. A peer that is not a trusted proxy is the
client, whatever its header says.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(words: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``) as networks.

    Raises:
        ValueError: a word is neither, naming it.
    """
    networks = []
    for word in words:
        try:
            networks.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            raise ValueError(f"{word!r} is not an IP address or network "
                             "(e.g. 127.0.0.1 or 192.168.1.0/24)") from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class ProxyPolicy:
    """Which peers are trusted proxies, and the client address of a request.

    Args:
        trusted: ``Trusted_Proxies``: the proxies' addresses or networks (empty: none, the
            peer is always the client).

    Raises:
        ValueError: an entry is not an IP address or network.
    """

    def __init__(self, trusted: Iterable[str] = ()):
        self._trusted = parse_networks(trusted)

    def trusts(self, address: str) -> bool:
        """True if ``address`` is one of the trusted proxies."""
        ip = _ip(address)
        return ip is not None and any(ip.version == net.version and ip in net
                                      for net in self._trusted)

    def client(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client's address: ``peer`` unless it is a trusted proxy, else the rightmost
        hop of the ``X-Forwarded-For`` headers (all of them, in order) that is not one.

        An unreadable hop stops the walk: the last trusted hop is then the client (a
        proxy that sends nonsense is counted as one client, never as someone else).
        """
        if not self.trusts(peer):
            return peer
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
        client = peer
        for hop in reversed(hops):
            ip = _ip(hop)
            if ip is None:
                break
            client = str(ip)
            if not self.trusts(client):
                break
        return client
