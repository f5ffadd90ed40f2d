"""Who may watch and how, read at start (and again on SIGHUP): the password file and the
TLS context.

Error tree::

    SecurityFileError      (tls: a file [Security] names cannot be used)
"""

from __future__ import annotations

import logging
import ssl
from typing import NamedTuple

from thermal_streamer.security.auth import NO_USERS, Authenticator
from thermal_streamer.security.passwords import read_password_file
from thermal_streamer.security.tls import SecurityFileError, tls_context

log = logging.getLogger(__name__)

CLEAR_TEXT_WARNING = (
    "[Security] Password_File is set without TLS_Cert and TLS_Key: passwords (HTTP Basic) "
    "and session cookies cross the network in clear, readable by anyone on it; set "
    "TLS_Cert and TLS_Key, or serve through an HTTPS reverse proxy (docs/security.md)")


class Security(NamedTuple):
    """What both servers are handed: ``auth`` (None: everyone may watch) and ``tls`` (the
    server context of https and wss; None: plain HTTP and WebSocket)."""

    auth: Authenticator | None
    tls: ssl.SSLContext | None



def read_users(password_file: str) -> dict[str, str]:
    """The password file's users: {user name: stored scrypt hash}, at least one.

    Raises:
        SecurityFileError: naming ``Password_File``: the file cannot be read or parsed, or
            holds no user.
    """
    try:
        users = read_password_file(password_file)
    except ValueError as exc:  # a PasswordFileError
        raise SecurityFileError("Password_File", password_file,
                                f"must be a password file with at least one user: {exc}"
                                ) from None
    if not users:
        raise SecurityFileError("Password_File", password_file,
                                f"must be a password file with at least one user: {NO_USERS}")
    return users

def read_security(password_file: str, tls_cert: str, tls_key: str) -> Security:
    """``[Security] Password_File``, ``TLS_Cert`` and ``TLS_Key`` (empty: not set).

    With TLS the session cookie is marked Secure. A password file without TLS is logged
    as a warning (CLEAR_TEXT_WARNING), once.

    Raises:
        SecurityFileError: naming the key whose file cannot be used: a password file that
            cannot be read or parsed or holds no user, a TLS file as :func:`tls_context`
            says.
    """
    auth = Authenticator(read_users(password_file), bool(tls_cert)) if password_file else None
    tls = tls_context(tls_cert, tls_key) if (tls_cert or tls_key) else None
    if auth is not None and tls is None:
        log.warning(CLEAR_TEXT_WARNING)
    return Security(auth, tls)


def reload_security(security: Security, password_file: str, tls_cert: str,
                    tls_key: str) -> frozenset[str]:
    """Read ``[Security]``'s files again (SIGHUP) into the running ``security``.

    The password file's users replace the Authenticator's (:meth:`Authenticator.replace_users`:
    a user who is gone or has a new password is revoked); a renewed certificate and key
    are loaded into the TLS context both servers hold, for the handshakes from now on.
    Files that were not set at start stay unset (that takes a restart). Thread-safe.

    Returns:
        The revoked user names: the servers close what these hold.

    Raises:
        SecurityFileError: a file cannot be used (as :func:`read_security` says); nothing
            has changed then, so the daemon keeps serving with what it had.
    """
    users = (read_users(password_file) if security.auth is not None and password_file
             else None)
    if security.tls is not None:
        tls_context(tls_cert, tls_key)  # checks both files; raises before anything changes
        security.tls.load_cert_chain(tls_cert, tls_key, password=lambda: b"")
    if security.auth is None or users is None:
        return frozenset()
    return security.auth.replace_users(users)
