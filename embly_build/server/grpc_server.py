"""Serve a BuildService over gRPC (grpclib) on unix sockets and TCP, with grpc.health.v1."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from pathlib import Path

from grpclib.health.service import Health
from grpclib.server import Server

from embly_build.errors import UsageError
from embly_build.server.service import BuildService
from embly_build.transport.address import Address


class GrpcServer:
    """One grpclib Server per listen address, all serving the same service object."""

    def __init__(self, service: BuildService, ssl_context: ssl.SSLContext | None = None) -> None:
        self._service = service
        self._ssl = ssl_context
        self._servers: list[tuple[Server, Address]] = []

    async def start(self, addresses: Sequence[Address]) -> None:
        for address in addresses:
            server = Server([self._service, Health()])
            if address.kind == "unix":
                assert address.path is not None
                _remove_stale_socket(address.path)
                address.path.parent.mkdir(parents=True, exist_ok=True)
                await server.start(path=str(address.path))
            elif address.kind == "tcp":
                await server.start(address.host, address.port, ssl=self._ssl)
            else:
                raise UsageError(f"cannot listen on {address}: use unix:/path or HOST:PORT")
            self._servers.append((server, address))

    async def close(self) -> None:
        for server, address in self._servers:
            server.close()
            await server.wait_closed()
            if address.kind == "unix" and address.path is not None:
                address.path.unlink(missing_ok=True)
        self._servers.clear()

    async def wait_closed(self) -> None:
        for server, _ in self._servers:
            await server.wait_closed()


def _remove_stale_socket(path: Path) -> None:
    """A socket file left by a dead server blocks bind(); a live one must not be stolen."""
    import socket

    if not path.exists():
        return
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
    raise UsageError(f"another server is already listening on unix:{path}")
