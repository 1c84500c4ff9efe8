"""Who may call the server: where TLS client certificates and bearer tokens plug in, server
side.

Every call the gRPC server takes, the build service's and the health service's alike,
passes its AccessPolicy's `admit` before any handler runs (`guard`, on grpclib's
RecvRequest event), with what the wire says about the caller. A policy that raises
AccessDenied ends the call with UNAUTHENTICATED and the error's message; nothing of the
call is read or done. The in-process transport has no caller to check and no policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from grpclib.events import RecvRequest, listen
from grpclib.server import Server
from multidict import MultiDictProxy

from embly_build.transport.statuses import grpc_status


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
    async def admit(self, call: IncomingCall) -> None:
        """Return to let the call through; raise AccessDenied, saying what to do, to refuse it."""
        ...


class AdmitAll:
    """Every call: a server on a unix socket or loopback TCP, as this version serves."""

    async def admit(self, call: IncomingCall) -> None:
        return None


def guard(server: Server, policy: AccessPolicy) -> None:
    """Have `policy` admit every call `server` takes, before its handler runs."""

    async def on_request(event: RecvRequest) -> None:
        call = IncomingCall(
            method=event.method_name,
            metadata=MultiDictProxy(event.metadata),
            peer=_peer_address(event.peer.addr()),
            certificate=event.peer.cert() or None,
        )
        with grpc_status():
            await policy.admit(call)

    listen(server, RecvRequest, on_request)


def _peer_address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:  # IPv6 adds flow info and scope
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ""
