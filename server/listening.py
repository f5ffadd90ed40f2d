"""Listening TCP sockets for the outputs and the ``tcp`` source, with errors that say the fix.

Each port is bound before any thread starts, so a port in use is reported at once
(exit status 3) and nothing is left running.

Error tree::

    BindError
"""

from __future__ import annotations

import errno
import socket


class BindError(Exception):
    """A listening port could not be opened; the message says why and how to fix it."""

    def __init__(self, what: str, host: str, port: int, option: str, error: OSError):
        self.what, self.host, self.port, self.option = what, host, port, option
        if error.errno == errno.EADDRINUSE:
            fix = ("another program is using it: stop that program or choose another port "
                   f"with {option}")
        elif error.errno == errno.EACCES:
            fix = (f"ports below 1024 need root or CAP_NET_BIND_SERVICE: run with sudo, or "
                   f"`sudo setcap cap_net_bind_service=+ep $(readlink -f $(which python3))`, "
                   f"or use a port above 1023, e.g. {option} 8080")
        elif error.errno == errno.EADDRNOTAVAIL:
            fix = "that address is not on this machine: use 0.0.0.0 or one of its addresses"
        else:
            fix = f"check the address and port ({option})"
        super().__init__(f"cannot listen for {what} on {host}:{port}: {error.strerror}; {fix}")


def listen(what: str, host: str, port: int, backlog: int, option: str,
           send_buffer: int | None = None) -> socket.socket:
    """Bind and listen on a TCP socket (IPv4 or IPv6 by the address).

    Raises:
        BindError: the address cannot be bound (in use, permission, not local).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise BindError(what, host, port, option, exc) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if send_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(what, host, port, option, exc) from None
    return sock

