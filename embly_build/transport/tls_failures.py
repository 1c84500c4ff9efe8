"""What a failed TLS connection means to a client, in words that say what to pass.

OpenSSL names a failure by a reason code: the client's own verdict on the server's
certificate (SSLCertVerificationError, with X509's verify code), an alert the server sent
(its verdict on the client's certificate), or bytes that are no TLS at all (a plaintext
server's answer).
"""

from __future__ import annotations

import ssl

# X509_V_ERR_* codes (openssl/x509_vfy.h).
_EXPIRED = 10
_NOT_YET_VALID = 9
_UNTRUSTED = {2, 18, 19, 20, 21}  # no issuer found, self-signed, unverifiable leaf
_NAME_MISMATCH = {62, 63, 64}  # host name, e-mail address, IP address

_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
_CLIENT_CERT_NEEDED = {"TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE"}
_CLIENT_CERT_EXPIRED = {"SSLV3_ALERT_CERTIFICATE_EXPIRED"}
_CLIENT_CERT_UNTRUSTED = {"TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE"}

CA_OPTION = "--tls-ca FILE (tls_ca in the user config)"
CLIENT_CERT_OPTIONS = "--tls-cert FILE --tls-key FILE (tls_cert, tls_key in the user config)"


def tls_failure(error: ssl.SSLError, host: str | None) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return _server_certificate(error, host)
    reason = error.reason or ""
    if reason in _NOT_TLS:
        return (
            "TLS failed: the server answered with something that is not TLS (a server without "
            "TLS on this port?): connect without --tls-ca/--tls-cert, or check the port"
        )
    if reason in _CLIENT_CERT_NEEDED:
        return (
            "the server requires a client certificate (mutual TLS) and this client showed none"
            f" it accepts: pass {CLIENT_CERT_OPTIONS}"
        )
    if reason in _CLIENT_CERT_EXPIRED:
        return "the server refused this client's certificate: it has expired; get a new one"
    if reason in _CLIENT_CERT_UNTRUSTED:
        return (
            "the server refused this client's certificate: it is not signed by a CA the server "
            "trusts (its --client-ca); get one that CA signs"
        )
    return f"TLS failed: {reason.replace('_', ' ').lower() or error}"


def _server_certificate(error: ssl.SSLCertVerificationError, host: str | None) -> str:
    code = error.verify_code
    if code == _EXPIRED:
        return (
            "the server's TLS certificate has expired: it must be renewed on the server (or "
            "this machine's clock is wrong)"
        )
    if code == _NOT_YET_VALID:
        return "the server's TLS certificate is not valid yet: check this machine's clock"
    if code in _UNTRUSTED:
        return (
            "the server's TLS certificate is not signed by a CA this client trusts: pass the "
            f"CA that signed it with {CA_OPTION}"
        )
    if code in _NAME_MISMATCH:
        return (
            f"the server's TLS certificate is not made out to {host!r} ({error.verify_message})"
            ": connect by a name or address the certificate lists (`openssl x509 -noout -ext "
            f"subjectAltName` shows them), or have one made that lists {host!r}"
        )
    return f"the server's TLS certificate was refused: {error.verify_message}"
