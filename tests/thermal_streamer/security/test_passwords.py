"""thermal_streamer.security.passwords: scrypt hashes, the user:hash file, adding and replacing
users."""

import os
import stat

import pytest

from thermal_streamer.security.passwords import (
    PasswordFileError,
    add_user,
    check_hash,
    hash_password,
    read_password_file,
    verify_password,
)


def test_hash_round_trip_and_salt():
    """The right password verifies, a wrong one does not; two hashes of one password differ."""
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert hash_password("correct horse") != stored
    assert "correct" not in stored


def test_add_user_writes_no_plain_password_and_replaces(tmp_path):
    """add_user creates a 0600 file, adds, replaces; the file holds hashes only."""
    path = tmp_path / "users"
    assert add_user(path, "alice", "s3cret")
    assert add_user(path, "bob", "hunter2")
    assert not add_user(path, "alice", "n3w")
    users = read_password_file(path)
    assert list(users) == ["alice", "bob"]
    assert verify_password("n3w", users["alice"]) and not verify_password("s3cret",
                                                                          users["alice"])
    text = path.read_text()
    assert "s3cret" not in text and "hunter2" not in text and "n3w" not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("content, error", [
    ("alice\n", ":1: expected NAME:HASH"),
    ("# users\n\nbad name:x\n", ":3: expected NAME:HASH"),
    ("alice:plaintext\n", ":1: the hash of 'alice' is unusable: not a scrypt$N$r$p$SALT$HASH"),
    ("alice:scrypt$3$8$1$AAAA$AAAA\n", ":1: the hash of 'alice' is unusable: scrypt parameters"),
])
def test_bad_lines_name_the_line_never_a_hash(tmp_path, content, error):
    """A bad line raises PasswordFileError with the file and line number."""
    path = tmp_path / "users"
    path.write_text(content)
    with pytest.raises(PasswordFileError) as raised:
        read_password_file(path)
    assert str(raised.value).startswith(f"{path}{error}")


def test_bad_names_and_empty_passwords_are_refused(tmp_path):
    """Names with ':' or spaces, and empty passwords, never reach the file."""
    for name, password in (("a:b", "x"), ("a b", "x"), ("alice", "")):
        with pytest.raises(PasswordFileError):
            add_user(tmp_path / "users", name, password)
    assert not (tmp_path / "users").exists()
    with pytest.raises(ValueError):
        check_hash("scrypt$16384$8$1$!!$AAAA")
