"""Who may call the server, server side.

Every call the gRPC server takes, the build service's and the health service's alike,
passes its AccessPolicy's `admit` before any handler runs (`guard`, on grpclib's
RecvRequest event), with what the wire says about the caller. A policy that raises
AccessDenied ends the call with UNAUTHENTICATED and the error's message, and the refusal is
logged; nothing of the call is read or done. What `admit` returns is the caller's identity,
which the handler then finds with `current_caller()` (caller.py). The in-process transport
has no caller to check and no policy. authentication.py holds the policy of TLS client
certificates and bearer tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from grpclib.events import RecvRequest, listen
from grpclib.server import Server
from multidict import MultiDictProxy

from embly_build.errors import AccessDenied, ServiceUnavailable
from embly_build.transport.caller import set_caller
from embly_build.transport.statuses import grpc_status

_log = logging.getLogger("embly.serve")


@dataclass(frozen=True)
class IncomingCall:
    method: str  # "/embly.build.v1.BuildService/Build"
    # The call's metadata: a bearer token is its `authorization` (a key may come more than
    # once: `getall` has every value).
    metadata: Mapping[str, str | bytes]
    peer: str  # "HOST:PORT" over TCP; "" over a unix socket
    # Over TLS, the client's certificate as ssl's getpeercert() gives it, once verified
    # against the server's client CAs; None without one.
    certificate: Mapping[str, Any] | None


class AccessPolicy(Protocol):
    async def admit(self, call: IncomingCall) -> str:
        """The caller's identity ("" for nobody in particular) to let the call through;
        raise AccessDenied, saying what to do, to refuse it."""
        ...


class AdmitAll:
    """Every call, from nobody in particular: a server that asks for no credentials."""

    async def admit(self, call: IncomingCall) -> str:
        return ""


def guard(server: Server, policy: AccessPolicy) -> None:
    """Have `policy` admit every call `server` takes, before its handler runs."""

    async def on_request(event: RecvRequest) -> None:
        call = IncomingCall(
            method=event.method_name,
            metadata=MultiDictProxy(event.metadata),
            peer=peer_address(event.peer.addr()),
            certificate=event.peer.cert() or None,
        )
        try:
            identity = await policy.admit(call)
        except (AccessDenied, ServiceUnavailable) as refusal:
            cause = f" ({refusal.__cause__})" if refusal.__cause__ else ""
            _log.warning(
                "refused %s from %s: %s%s",
                call.method,
                call.peer or "a unix socket",
                refusal,
                cause,
            )
            with grpc_status():
                raise
        set_caller(identity)

    listen(server, RecvRequest, on_request)


def peer_address(address: object) -> str:
    """HOST:PORT of a TCP peer's socket address; "" for a unix socket's."""
    if isinstance(address, tuple) and len(address) >= 2:  # IPv6 adds flow info and scope
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ""
