"""The TLS server context of both ports (https and wss), read once at start from
``[Security] TLS_Cert`` and ``TLS_Key``, with errors that name the setting to fix.

Error tree::

    SecurityFileError
"""

from __future__ import annotations

import ssl
from pathlib import Path


class SecurityFileError(Exception):
    """A file ``[Security]`` names (``TLS_Cert``, ``TLS_Key``, ``Password_File``) cannot be
    used; the daemon reports it as a configuration error (exit status 2).

    Attributes:
        key: the setting: ``TLS_Cert``, ``TLS_Key`` or ``Password_File``.
        path: its value.
        reason: what is wrong and what would work.
    """

    def __init__(self, key: str, path: str, reason: str):
        self.key, self.path, self.reason = key, path, reason
        super().__init__(f"{key} = {path!r}: {reason}")


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A TLS server context for both ports (https and wss): TLS 1.2 or newer.

    Args:
        cert: PEM file with the certificate, then any intermediate certificates.
        key: PEM file with its private key, not encrypted (nobody is there to type a
            pass phrase when the daemon starts).

    Raises:
        SecurityFileError: one is set without the other, a file cannot be read, ``cert``
            holds no certificate, or ``key`` is not the certificate's unencrypted key.
    """
    if not key:
        raise SecurityFileError("TLS_Key", key,
                                "must be set when TLS_Cert is set (both or neither)")
    if not cert:
        raise SecurityFileError("TLS_Cert", cert,
                                "must be set when TLS_Key is set (both or neither)")
    for name, path in (("TLS_Cert", cert), ("TLS_Key", key)):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise SecurityFileError(name, path,
                                    f"must be a readable file: {exc.strerror}") from None
    try:  # a certificate alone: load_cert_chain's errors do not say which file is wrong
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=cert)
    except ssl.SSLError as exc:
        raise SecurityFileError("TLS_Cert", cert,
                                f"must hold a PEM certificate: {exc.reason or exc}") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key, password=lambda: b"")  # never prompts
    except ssl.SSLError as exc:
        raise SecurityFileError("TLS_Key", key, "must be the unencrypted PEM private key of "
                                f"TLS_Cert's certificate: {exc.reason or exc}") from None
    return context
