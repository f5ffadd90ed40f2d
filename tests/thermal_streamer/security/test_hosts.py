"""thermal_streamer.security.hosts: Host names that reach the daemon (DNS rebinding defence)."""

import pytest

from thermal_streamer.security.hosts import HostPolicy, host_name, machine_names

POLICY = HostPolicy(allowed=("Camera.Example.",), own_names=("localhost", "pi", "pi.local"))


@pytest.mark.parametrize("header", [
    None, "127.0.0.1", "127.0.0.1:8080", "[::1]:9876", "192.168.1.20", "localhost:80",
    "PI", "pi.local", "camera.example", "camera.example.:443",
])
def test_allowed_hosts(header):
    """IP literals, the machine's own names and Allowed_Hosts pass (any case, any port)."""
    assert POLICY.allows(header)


@pytest.mark.parametrize("header", [
    "attacker.example", "attacker.example:80", "pi.attacker.example", "localhost.evil",
    "[::1", "", "camera.example@evil",
])
def test_refused_hosts(header):
    """Any other name, or a Host that does not parse, is refused."""
    assert not POLICY.allows(header)


def test_star_allows_any_host():
    """Allowed_Hosts = * turns the check off (e.g. behind a proxy that checks names itself)."""
    assert HostPolicy(allowed=("*",), own_names=()).allows("anything.example")


def test_machine_names_include_localhost_and_mdns():
    """The default names are localhost, the host name and <hostname>.local."""
    names = machine_names()
    assert "localhost" in names and any(n.endswith(".local") for n in names)


def test_host_name():
    """Ports, brackets and a trailing dot are removed; case is folded."""
    assert host_name("[::1]:80") == "::1"
    assert host_name("Pi.Local.:8080") == "pi.local"
    assert host_name("[::1") is None
