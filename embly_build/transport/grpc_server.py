"""Serve a build service over gRPC (grpclib) on unix sockets and TCP, with grpc.health.v1.

Where TLS and authentication plug in, server side: `GrpcServer(service, ssl_context=...,
policy=...)`. TCP connections speak TLS with `ssl_context`; every call on every listener
passes `policy` before its handler runs (access.py, `guard`), then reads
its requests within the server's limits (bounded_messages.py). Its connections are
limited, and TLS is done by each connection once counted (connection_limits.py).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Sequence

from grpclib.health.service import Health
from grpclib.server import Server

from embly_build.errors import UsageError
from embly_build.transport.access import AccessPolicy, AdmitAll, guard
from embly_build.transport.address import Address, AddressKind
from embly_build.transport.api import BuildApi
from embly_build.transport.bounded_messages import ReceiveBudget, ServerCodec, bound_requests
from embly_build.transport.connection_limits import (
    ConnectionLimits,
    LimitedServer,
    OpenConnections,
)
from embly_build.transport.grpc_service import GrpcService
from embly_build.transport.tcp import listen_tcp
from embly_build.transport.unix_socket import listen_unix

# Start serving on an address; return what to do once the server is closed.
Listen = Callable[[Server, Address], Awaitable[Callable[[], None]]]
_LISTENERS: dict[AddressKind, Listen] = {"unix": listen_unix, "tcp": listen_tcp}


class GrpcServer:
    """One grpclib Server per listen address, all serving the same service object."""

    def __init__(
        self,
        service: BuildApi,
        *,
        ssl_context: ssl.SSLContext | None = None,
        policy: AccessPolicy | None = None,
        connection_limits: ConnectionLimits | None = None,
        receive_budget: ReceiveBudget | None = None,
    ) -> None:
        """The limits are protocol/limits.py's unless given."""
        self._service = GrpcService(service)
        self._ssl = ssl_context
        self._policy = policy or AdmitAll()
        self._limits = connection_limits or ConnectionLimits()
        self._connections = OpenConnections(self._limits.connections)
        self._budget = receive_budget or ReceiveBudget()
        self._servers: list[tuple[Server, Callable[[], None]]] = []

    async def start(self, addresses: Sequence[Address]) -> None:
        """Listen on every address; a UsageError naming the address when one cannot be had
        (those already listening are closed by `close`)."""
        for address in addresses:
            listen = _LISTENERS.get(address.kind)
            if listen is None:
                raise UsageError(f"cannot listen on {address}: use unix:/path or HOST:PORT")
            health = Health()
            server = LimitedServer(
                [self._service, health],
                codec=ServerCodec(),
                limits=self._limits,
                connections=self._connections,
                tls=self._ssl if address.kind == "tcp" else None,
            )
            guard(server, self._policy)
            bound_requests(server, [self._service, health], self._budget)
            after_close = await listen(server, address)
            self._servers.append((server, after_close))

    async def close(self) -> None:
        for server, after_close in self._servers:
            server.close()
            await server.wait_closed()
            after_close()
        self._servers.clear()

    async def wait_closed(self) -> None:
        for server, _ in self._servers:
            await server.wait_closed()
