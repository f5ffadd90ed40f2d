"""thermal_streamer.security.tls: the server context of both ports, and the errors that name
TLS_Cert or TLS_Key."""

from __future__ import annotations

import ssl

import pytest

from tests.tls import make_certificate
from thermal_streamer.security.tls import SecurityFileError, tls_context


def test_tls_context_is_tls_1_2_or_newer(tmp_path):
    """A usable pair gives a server context that refuses anything older than TLS 1.2."""
    context = tls_context(*map(str, make_certificate(tmp_path)))
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.protocol is ssl.PROTOCOL_TLS_SERVER


def test_unusable_tls_files_name_the_key(tmp_path):
    """Each bad case names TLS_Cert or TLS_Key and says what would work."""
    cert, key = map(str, make_certificate(tmp_path))
    (tmp_path / "other").mkdir()
    other_cert, _ = make_certificate(tmp_path / "other")
    cases = [
        (cert, "", "TLS_Key", "must be set when TLS_Cert is set (both or neither)"),
        ("", key, "TLS_Cert", "must be set when TLS_Key is set (both or neither)"),
        (str(tmp_path / "missing.pem"), key, "TLS_Cert",
         "must be a readable file: No such file or directory"),
        (key, key, "TLS_Cert", "must hold a PEM certificate: NO_CERTIFICATE_OR_CRL_FOUND"),
        (str(other_cert), key, "TLS_Key", "must be the unencrypted PEM private key of "
                                          "TLS_Cert's certificate: KEY_VALUES_MISMATCH"),
    ]
    for cert_path, key_path, name, reason in cases:
        with pytest.raises(SecurityFileError) as error:
            tls_context(cert_path, key_path)
        assert (error.value.key, error.value.reason) == (name, reason)
