"""thermal_streamer.security.proxies: the client's address behind trusted proxies."""

from __future__ import annotations

import pytest

from thermal_streamer.security.proxies import ProxyPolicy, parse_networks


def test_only_a_trusted_peer_s_x_forwarded_for_is_believed():
    """From a trusted proxy the rightmost untrusted hop is the client; from anyone else
    the header is ignored; a hop the client wrote itself cannot pose as someone else."""
    proxies = ProxyPolicy(("127.0.0.1", "10.0.0.0/8", "::1"))
    assert proxies.client("127.0.0.1", ["192.0.2.7"]) == "192.0.2.7"
    assert proxies.client("::1", ["2001:db8::7"]) == "2001:db8::7"
    assert proxies.client("192.0.2.9", ["192.0.2.7"]) == "192.0.2.9"  # not a proxy
    assert proxies.client("127.0.0.1", ["203.0.113.1, 192.0.2.7"]) == "192.0.2.7"  # spoof left
    assert proxies.client("127.0.0.1", ["192.0.2.7, 10.1.2.3"]) == "192.0.2.7"  # two proxies
    assert proxies.client("127.0.0.1", ["192.0.2.7", "10.1.2.3"]) == "192.0.2.7"  # two headers
    assert proxies.client("127.0.0.1", []) == "127.0.0.1"  # no header: the proxy itself
    assert proxies.client("127.0.0.1", ["junk"]) == "127.0.0.1"
    assert proxies.client("127.0.0.1", ["::ffff:192.0.2.7"]) == "192.0.2.7"
    assert ProxyPolicy().client("127.0.0.1", ["192.0.2.7"]) == "127.0.0.1"  # none trusted


def test_an_entry_that_is_no_address_is_named():
    """parse_networks names the word it cannot read."""
    assert [str(n) for n in parse_networks(["127.0.0.1", "192.168.1.0/24"])] == [
        "127.0.0.1/32", "192.168.1.0/24"]
    with pytest.raises(ValueError) as error:
        parse_networks(["nginx"])
    assert str(error.value) == ("'nginx' is not an IP address or network "
                                "(e.g. 127.0.0.1 or 192.168.1.0/24)")
