"""systemd service notifications (sd_notify protocol): readiness, watchdog, stopping.

The protocol is one datagram of ``KEY=VALUE`` lines to the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (``@`` at the start means the abstract namespace); see
sd_notify(3). It is a dozen lines with the standard library, so no dependency
(python-systemd needs libsystemd headers to build) earns its place here.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send a notification to systemd, e.g. ``"READY=1"``.

    Returns:
        True if it was sent; False when not run by systemd (no ``$NOTIFY_SOCKET``)
        or the socket is gone.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
    except OSError:
        return False
    return True


def watchdog_interval_s() -> float | None:
    """The watchdog period systemd asked for (``WatchdogSec``), or None.

    Reads ``$WATCHDOG_USEC`` (microseconds), honouring ``$WATCHDOG_PID`` when set
    (the watchdog is then meant for that process only). See sd_watchdog_enabled(3).
    """
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6
    except ValueError:
        return None
