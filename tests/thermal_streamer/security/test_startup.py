"""thermal_streamer.security.startup: [Security]'s files, read into the auth and TLS (and on
SIGHUP again)."""

import logging
import socket
import ssl
import threading
from pathlib import Path

import pytest

from tests.tls import USER, make_certificate, make_password_file
from thermal_streamer.config.loader import load_config
from thermal_streamer.security.passwords import add_user, read_password_file
from thermal_streamer.security.startup import CLEAR_TEXT_WARNING, read_security, reload_security
from thermal_streamer.security.tls import SecurityFileError


def write_config(folder: Path, security: str) -> str:
    path = folder / "server.conf"
    path.write_text(f"[Security]\n{security}\n")
    return str(path)


def test_security_settings_are_read_at_start(tmp_path):
    """Password_File and both TLS files (relative to the config file) give the app an
    Authenticator with a Secure cookie and a TLS context; none of them: neither."""
    make_certificate(tmp_path)
    make_password_file(tmp_path)
    config = load_config(["-c", write_config(tmp_path, "Password_File = users\n"
                                             "TLS_Cert = cert.pem\nTLS_Key = key.pem")])
    assert config.password_file == str(tmp_path / "users")
    checker, context = read_security(config.password_file, config.tls_cert, config.tls_key)
    assert checker is not None and isinstance(context, ssl.SSLContext)
    assert checker.open_session(USER).endswith("; Secure")
    plain = load_config(["-c", write_config(tmp_path, "")])
    assert read_security(plain.password_file, plain.tls_cert, plain.tls_key) == (None, None)


@pytest.mark.parametrize(("lines", "key", "message"), [
    ("Password_File = nobody", "Password_File", "must be a password file with at least one "
     "user: {folder}/nobody: cannot be read: No such file or directory"),
    ("Password_File = empty", "Password_File", "must be a password file with at least one "
     "user: no users: add one with --add-user NAME --password-file PATH"),
    ("Password_File = bad", "Password_File", "must be a password file with at least one user: "
     "{folder}/bad:1: the hash of 'alice' is unusable: not a scrypt$N$r$p$SALT$HASH hash; "
     "write it with --add-user"),
    ("TLS_Cert = nothing.pem\nTLS_Key = nothing.pem", "TLS_Cert",
     "must be a readable file: No such file or directory"),
])
def test_unusable_security_files_are_configuration_errors(tmp_path, lines, key, message):
    """The SecurityFileError (the app makes it a ConfigError, exit status 2) names the key
    and the reason."""
    (tmp_path / "empty").write_text("# no users yet\n")
    (tmp_path / "bad").write_text("alice:plain-text-password\n")
    config = load_config(["-c", write_config(tmp_path, lines)])
    with pytest.raises(SecurityFileError) as error:
        read_security(config.password_file, config.tls_cert, config.tls_key)
    assert (error.value.key, error.value.reason) == (key, message.format(folder=tmp_path))


def test_a_password_file_without_tls_is_warned_about_once(tmp_path, caplog):
    """Password_File without TLS: one warning that passwords cross the network in clear;
    with TLS none."""
    make_certificate(tmp_path)
    make_password_file(tmp_path)
    caplog.set_level(logging.WARNING, "thermal_streamer.security.startup")
    read_security(str(tmp_path / "users"), "", "")
    assert [r.getMessage() for r in caplog.records] == [CLEAR_TEXT_WARNING]
    assert CLEAR_TEXT_WARNING.startswith("[Security] Password_File is set without TLS_Cert and "
                                         "TLS_Key: passwords (HTTP Basic) and session cookies "
                                         "cross the network in clear")
    caplog.clear()
    read_security(str(tmp_path / "users"), str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    assert caplog.records == []


def test_sighup_reload_revokes_users_and_serves_a_renewed_certificate(tmp_path):
    """reload_security: the re-read password file's missing users are revoked; a renewed
    certificate is what the next TLS handshake gets (was: both read only at start)."""
    first, renewed = tmp_path / "first", tmp_path / "renewed"
    first.mkdir()
    renewed.mkdir()
    cert, key = make_certificate(first)
    users = make_password_file(tmp_path)
    security = read_security(str(users), str(cert), str(key))
    add_user(users, "bob", "builder-of-things")
    assert reload_security(security, str(users), str(cert), str(key)) == frozenset()
    new_cert, new_key = make_certificate(renewed)
    users.write_text(f"bob:{read_password_file(users)['bob']}\n")
    assert reload_security(security, str(users), str(new_cert), str(new_key)) == {USER}
    assert security.tls is not None
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = ssl.create_default_context(cafile=str(new_cert))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            peer, _ = listener.accept()
            done: list[bytes] = []

            def serve() -> None:
                with security.tls.wrap_socket(peer, server_side=True) as server_side:
                    done.append(server_side.recv(1))

            thread = threading.Thread(target=serve)
            thread.start()
            with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                assert ssl.DER_cert_to_PEM_cert(tls.getpeercert(True)).strip() == \
                    new_cert.read_text().strip()
                tls.sendall(b"x")
            thread.join(5)
    assert done == [b"x"]


def test_a_broken_file_on_reload_changes_nothing(tmp_path):
    """A password file without users, or a missing certificate, on SIGHUP: a
    SecurityFileError naming the key, and the old users and certificate stay."""
    cert, key = make_certificate(tmp_path)
    users = make_password_file(tmp_path)
    security = read_security(str(users), str(cert), str(key))
    empty = tmp_path / "empty"
    empty.write_text("# nobody\n")
    with pytest.raises(SecurityFileError) as error:
        reload_security(security, str(empty), str(cert), str(key))
    assert error.value.key == "Password_File"
    with pytest.raises(SecurityFileError) as error:
        reload_security(security, str(users), str(tmp_path / "gone.pem"), str(key))
    assert error.value.key == "TLS_Cert"
    assert security.auth is not None
    assert security.auth.replace_users(read_password_file(users)) == frozenset()
