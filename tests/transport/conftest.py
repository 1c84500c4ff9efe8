"""A build service, a real build server on a unix socket, and a connection to it, for the
transport tests; and `raw_server` (raw_calls.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from embly_build.server.factory import create_service
from embly_build.server.service import BuildService
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address
from embly_build.transport.connection import Connection, open_connection
from embly_build.transport.grpc_server import GrpcServer
from tests.transport.raw_calls import raw_server

__all__ = ["raw_server"]  # a real server on a unix socket, TCP or TLS, for every test here


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[BuildService]:
    """A build service, not served; its state is in tmp_path / "server-home"."""
    built = create_service(ServerSettings(home=tmp_path / "server-home", jobs=1))
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def socket_server(tmp_path: Path) -> AsyncIterator[str]:
    """The server's address (`unix:...`); its state is in tmp_path / "server-home"."""
    address = f"unix:{tmp_path / 'server' / 'embly.sock'}"
    service = create_service(ServerSettings(home=tmp_path / "server-home", jobs=2))
    server = GrpcServer(service)
    await server.start([parse_address(address)])
    try:
        yield address
    finally:
        await server.close()
        await service.close()
    assert not (tmp_path / "server" / "embly.sock").exists(), "socket file removed on close"


@pytest.fixture
async def connection(socket_server: str) -> AsyncIterator[Connection]:
    opened = open_connection(socket_server)
    try:
        yield opened
    finally:
        await opened.close()
