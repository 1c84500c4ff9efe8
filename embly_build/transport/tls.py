"""TLS contexts for both sides, made from PEM files, with every bad file named at start.

A server speaks TLS 1.2 or newer with ALPN h2 (gRPC's protocol); with client CAs it asks
every client for a certificate and refuses a connection without one that chains to them
(mutual TLS). A client verifies the server's certificate against its CA file and, when it
has one, shows its own.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

from embly_build.errors import UsageError

_ALPN = ["h2"]


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A server's context; a UsageError naming the option and file when one cannot be used."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(_ALPN)
    _load_pair(context, cert, key, "--tls-cert", "--tls-key")
    if client_ca is not None:
        _load_ca(context, client_ca, "--client-ca")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A client's context: the server's certificate must chain to `ca` (the system's CAs when
    None) and name the host connected to."""
    if (cert is None) != (key is None):
        raise UsageError(
            "a client certificate needs its key: give both --tls-cert FILE and --tls-key FILE"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(_ALPN)
    if ca is None:
        context.load_default_certs()
    else:
        _load_ca(context, ca, "--tls-ca")
    if cert is not None and key is not None:
        _load_pair(context, cert, key, "--tls-cert", "--tls-key")
    return context


def _load_pair(
    context: ssl.SSLContext, cert: Path, key: Path, cert_option: str, key_option: str
) -> None:
    _check_pem(cert, cert_option, "CERTIFICATE", "certificate")
    _check_pem(key, key_option, "PRIVATE KEY", "private key")
    try:
        context.load_cert_chain(cert, key, password=_encrypted(key, key_option))
    except ssl.SSLError as error:
        raise UsageError(
            f"cannot use {cert_option} {cert} with {key_option} {key}: {_reason(error)}; give "
            "a PEM certificate (chain) and the PEM private key that belongs to it"
        ) from None


def _load_ca(context: ssl.SSLContext, ca: Path, option: str) -> None:
    _check_pem(ca, option, "CERTIFICATE", "CA certificate")
    try:
        context.load_verify_locations(cafile=ca)
    except ssl.SSLError as error:
        raise UsageError(
            f"cannot use {option} {ca}: {_reason(error)}; give the CA's certificate(s) in PEM"
        ) from None


def _encrypted(key: Path, option: str) -> Callable[[], bytes]:
    """What OpenSSL calls for a passphrase: never a prompt on the terminal."""

    def refuse() -> bytes:
        raise UsageError(
            f"{option} {key} is encrypted with a passphrase, which embly cannot ask for: "
            f"give it a copy without one, e.g. `openssl pkey -in {key} -out key.pem` "
            "(readable by you alone)"
        )

    return refuse


def _check_pem(path: Path, option: str, label: str, what: str) -> None:
    """The file can be read and holds a PEM block of `label` ("CERTIFICATE": also a key's
    file swapped in for a certificate's is named as such)."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{option} {path}: no such file; give the {what} file (PEM)") from None
    except IsADirectoryError:
        raise UsageError(f"{option} {path} is a directory; give the {what} file (PEM)") from None
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot read it: {error.strerror}") from None
    if f"-----BEGIN {label}".encode() in text or (
        label == "PRIVATE KEY" and b"PRIVATE KEY-----" in text  # RSA, EC, ENCRYPTED keys
    ):
        return
    if b"PRIVATE KEY-----" in text:
        found = "a private key (swapped with the key's option?)"
    elif b"-----BEGIN CERTIFICATE" in text:
        found = "a certificate (swapped with the certificate's option?)"
    else:
        found = "no PEM block"
    raise UsageError(f"{option} {path} holds {found}: give the {what} file (PEM)")


def _reason(error: ssl.SSLError) -> str:
    """OpenSSL's reason in words ("KEY_VALUES_MISMATCH" -> "key values mismatch")."""
    reason = error.reason or error.strerror or str(error)
    return reason.replace("_", " ").lower()
