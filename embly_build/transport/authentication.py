"""The access policy of a server with credentials: TLS client certificates, bearer tokens,
or both.

A client certificate is checked by the TLS handshake itself (the server's context requires
one that chains to --client-ca, tls.py): a call on such a connection carries it verified.
A bearer token comes as `authorization: Bearer TOKEN` metadata and must be one the token
file accepts now. With both configured, a call needs both. The caller's identity names what
it showed: "cert:SUBJECT", "token:NAME", or both joined with "+".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from embly_build.errors import AccessDenied, ServiceUnavailable
from embly_build.transport.access import IncomingCall
from embly_build.transport.bearer_tokens import TokenFile, TokenFileError

_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
}


class Authenticator:
    def __init__(self, tokens: TokenFile | None, client_certificates: bool) -> None:
        self._tokens = tokens
        self._client_certificates = client_certificates

    async def admit(self, call: IncomingCall) -> str:
        parts = []
        if self._client_certificates:
            if call.certificate is None:  # a unix socket: it has no TLS
                raise AccessDenied(
                    "this server accepts clients with a TLS client certificate only; connect "
                    "over TCP with --tls-cert FILE --tls-key FILE"
                )
            parts.append(f"cert:{certificate_subject(call.certificate)}")
        if self._tokens is not None:
            parts.append(f"token:{self._token_name(call.metadata)}")
        return "+".join(parts)

    def _token_name(self, metadata: Mapping[str, str | bytes]) -> str:
        values = _all_values(metadata, "authorization")
        if not values:
            raise AccessDenied(
                "this server needs a token: pass --token-file FILE (a file holding the token"
                " the server's administrator gave you), or set token_file in the user config"
            )
        if len(values) > 1:
            raise AccessDenied("the call carries more than one authorization; send one token")
        scheme, _, token = str(values[0]).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AccessDenied("authorization must be 'Bearer TOKEN'; pass --token-file FILE")
        assert self._tokens is not None
        try:
            name = self._tokens.match(token.strip())
        except TokenFileError as problem:
            # The administrator's to fix; the server's log has the file's problem in full.
            raise ServiceUnavailable(
                "the server cannot check tokens now: its token file is unreadable or invalid;"
                " ask its administrator"
            ) from problem
        if name is None:
            raise AccessDenied(
                "the token is not one this server accepts (wrong, or revoked): check the file"
                " given with --token-file, or ask the server's administrator for a new token"
            )
        return name


def certificate_subject(certificate: Mapping[str, Any]) -> str:
    """ "CN=alice,O=Example" from the subject ssl's getpeercert() gives."""
    names = []
    for relative_name in certificate.get("subject", ()):
        for key, value in relative_name:
            names.append(f"{_SHORT_NAMES.get(key, key)}={value}")
    return ",".join(names) or "(no subject)"


def _all_values(metadata: Mapping[str, str | bytes], key: str) -> list[str | bytes]:
    getall = getattr(metadata, "getall", None)
    if getall is not None:
        return list(getall(key, []))
    value = metadata.get(key)
    return [] if value is None else [value]
