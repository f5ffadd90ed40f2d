"""The password file: ``user:hash`` lines with salted, slow scrypt hashes (standard library).

A line is ``NAME:scrypt$N$r$p$SALT$HASH`` with SALT and HASH in base64 (no padding);
blank lines and lines starting with ``#`` are ignored. scrypt (RFC 7914) with N=2**14,
r=8, p=1 costs about 16 MiB and 30-60 ms per check here, which makes guessing slow;
the parameters travel with each hash, so they can be raised later without breaking old
lines. No plain password is ever written.

Error tree::

    PasswordFileError (ValueError)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024  # bytes; 128 * N * r * p = 16 MiB at the defaults
SALT_BYTES = 16
HASH_BYTES = 32
USER_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class PasswordFileError(ValueError):
    """A password file (or a line of it) cannot be used; the message says which and why.

    Attributes:
        path: the file.
        line: the 1-based line number, or None for the whole file.
        reason: what is wrong.
    """

    def __init__(self, path: str | Path, reason: str, line: int | None = None):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The stored form of ``password``: ``scrypt$N$r$p$SALT$HASH`` (a fresh random salt)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=SCRYPT_MAXMEM, dklen=HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_hash(stored: str) -> None:
    """Raise ValueError unless ``stored`` is a hash this module can verify."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a scrypt$N$r$p$SALT$HASH hash")
    n, r, p = (int(v) for v in parts[1:4])
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or 128 * n * r * p > (
            SCRYPT_MAXMEM):
        raise ValueError("scrypt parameters out of range")
    _unb64(parts[4])
    _unb64(parts[5])


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches the stored hash (compared in constant time)."""
    _, n, r, p, salt, expected = stored.split("$")
    digest = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r),
                            p=int(p), maxmem=SCRYPT_MAXMEM, dklen=len(_unb64(expected)))
    return hmac.compare_digest(digest, _unb64(expected))


def read_password_file(path: str | Path) -> dict[str, str]:
    """The users of a password file: {name: stored hash}.

    Raises:
        PasswordFileError: the file cannot be read, or a line is not ``NAME:HASH`` with a
            valid name and hash (the message gives the line number, never a hash).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswordFileError(path, f"cannot be read: {getattr(exc, 'strerror', exc)}") \
            from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, stored = line.partition(":")
        if not sep or not USER_NAME.fullmatch(name):
            raise PasswordFileError(path, "expected NAME:HASH with a name of letters, digits "
                                          "and _ . @ -", number)
        try:
            check_hash(stored)
        except ValueError as exc:
            raise PasswordFileError(path, f"the hash of {name!r} is unusable: {exc}; "
                                          "write it with --add-user", number) from None
        users[name] = stored
    return users


def add_user(path: str | Path, name: str, password: str) -> bool:
    """Add ``name`` or replace its password; the file is rewritten atomically (mode 0600).

    Returns:
        True if the user was new, False if its password was replaced.

    Raises:
        PasswordFileError: the name is not allowed, the password is empty, or the
            existing file is unusable.
    """
    if not USER_NAME.fullmatch(name):
        raise PasswordFileError(path, f"user name {name!r} not allowed: 1 to 64 letters, "
                                      "digits and _ . @ -")
    if not password:
        raise PasswordFileError(path, "the password is empty")
    path = Path(path)
    users = read_password_file(path) if path.exists() else {}
    new = name not in users
    users[name] = hash_password(password)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(f"{user}:{stored}\n" for user, stored in users.items())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return new
