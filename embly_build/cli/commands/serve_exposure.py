"""Whom `embly serve` would serve: a server runs build scripts, arbitrary code, for every
client it accepts, so it is refused to reach beyond this machine without TLS and client
authentication, unless --insecure says the network is trusted (and then it warns).

A unix socket's file permissions say who may connect; loopback TCP reaches this machine's
users only. Any other host (an address, or a name, which is not resolved: what it names can
change after the check) is open to a network.
"""

from __future__ import annotations

from collections.abc import Sequence

from embly_build.errors import UsageError
from embly_build.transport.address import Address, is_loopback

_ARBITRARY_CODE = (
    "anyone who can connect to it can run arbitrary code (build scripts) on this machine "
    "as this user"
)


def check_exposure(
    addresses: Sequence[Address],
    *,
    tls: bool,
    client_certificates: bool,
    tokens: bool,
    insecure: bool,
) -> list[str]:
    """Warnings to print; a UsageError for an address that cannot be served safely."""
    warnings = []
    authenticated = client_certificates or tokens
    for address in addresses:
        if address.kind != "tcp" or is_loopback(address.host):
            continue
        if tls and authenticated:
            continue
        missing = "without TLS" if not tls else "without client authentication"
        if not insecure:
            fix = (
                "give --tls-cert FILE --tls-key FILE with --client-ca FILE and/or --token-file FILE"
                if not tls
                else "add --client-ca FILE (mutual TLS) and/or --token-file FILE (tokens)"
            )
            raise UsageError(
                f"refusing to serve {address} {missing}: {_ARBITRARY_CODE}; {fix}, or "
                "--insecure on a network you trust entirely (or listen on 127.0.0.1 or a "
                "unix socket)"
            )
        warnings.append(f"serving {address} {missing} (--insecure): {_ARBITRARY_CODE}")
        if tokens and not tls:
            warnings.append(f"tokens sent to {address} travel in clear text without TLS")
    return warnings
