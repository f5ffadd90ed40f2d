"""Who may watch and how, read once at start: the password file and the TLS context.

Error tree::

    SecurityFileError      (tls: a file [Security] names cannot be used)
"""

from __future__ import annotations

import logging
import ssl
from typing import NamedTuple

from thermal_streamer.security.auth import Authenticator
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


def read_security(password_file: str, tls_cert: str, tls_key: str) -> Security:
    """``[Security] Password_File``, ``TLS_Cert`` and ``TLS_Key`` (empty: not set).

    With TLS the session cookie is marked Secure. A password file without TLS is logged
    as a warning (CLEAR_TEXT_WARNING), once.

    Raises:
        SecurityFileError: naming the key whose file cannot be used: a password file that
            cannot be read or parsed or holds no user, a TLS file as :func:`tls_context`
            says.
    """
    auth = None
    if password_file:
        try:
            auth = Authenticator(read_password_file(password_file), bool(tls_cert))
        except ValueError as exc:  # a PasswordFileError, or a file without users
            raise SecurityFileError("Password_File", password_file,
                                    f"must be a password file with at least one user: {exc}"
                                    ) from None
    tls = tls_context(tls_cert, tls_key) if (tls_cert or tls_key) else None
    if auth is not None and tls is None:
        log.warning(CLEAR_TEXT_WARNING)
    return Security(auth, tls)
