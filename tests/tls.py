"""Certificates and users for the TLS and login tests (made by each test, never shipped)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

from thermal_streamer.security.passwords import add_user

OPENSSL_TIMEOUT_S = 30.0
USER, PASSWORD = "alice", "correct horse"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (RSA 2048, 2 days) and its key: (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_S)
    return cert, key


def client_context(cert: Path) -> ssl.SSLContext:
    """A client context that trusts exactly ``cert``."""
    return ssl.create_default_context(cafile=str(cert))


def make_password_file(folder: Path) -> Path:
    """A password file holding USER with PASSWORD (scrypt)."""
    path = folder / "users"
    add_user(path, USER, PASSWORD)
    return path
