"""Listening TCP sockets for the outputs and the ``tcp`` source, with errors that say the fix.

Each port is bound before any thread starts, so a port in use is reported at once
(exit status 3) and nothing is left running. :func:`raise_fd_limit` lifts the soft
file-descriptor limit to the hard one at start, so that many viewers do not run the
daemon out of descriptors at the usual soft limit of 1024.

Error tree::

    BindError
"""

from __future__ import annotations

import errno
import logging
import resource
import socket

log = logging.getLogger(__name__)

FD_LIMIT_CEILING = 1 << 20  # used when the hard limit is unlimited (Linux's default nr_open)


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


def raise_fd_limit() -> int:
    """Raise the soft limit on open file descriptors (RLIMIT_NOFILE) to the hard limit.

    Every connection holds a descriptor; the soft limit (often 1024) would otherwise
    cap viewers and waiting connections long before memory does. An unlimited hard
    limit is taken as FD_LIMIT_CEILING. Never lowers the limit; if the kernel refuses,
    the limit stays as it was and a warning says so. Call once at start, before the
    sockets are opened.

    Returns:
        The soft limit in force afterwards, file descriptors.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_LIMIT_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the file descriptor limit from %d to %d: %s", soft,
                        wanted, exc)
            return soft
        log.info("file descriptor limit raised from %d to %d", soft, wanted)
        return wanted
    return soft
