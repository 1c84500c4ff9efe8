"""Open a connection to a build server by address; the client sees only `BuildApi`."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grpclib.client import Channel

from embly_build.protocol import pb
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import Address, parse_address
from embly_build.transport.api import BuildApi
from embly_build.transport.channel import CONNECT_TIMEOUT, BoundedChannel

if TYPE_CHECKING:
    from embly_build.server.service import BuildService


@dataclass
class Connection:
    api: BuildApi
    address: Address
    _channel: Channel | None = field(default=None, repr=False)
    _service: BuildService | None = field(default=None, repr=False)  # in-process

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._service is not None:
            await self._service.close()


def open_connection(
    address: str | Address,
    *,
    settings: ServerSettings | None = None,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> Connection:
    """`inproc` builds a server in this process from `settings`; others open a gRPC channel,
    which connects at the first call and fails it with a ServerUnreachable if the server
    cannot be reached or does not answer within `connect_timeout` seconds."""
    parsed = parse_address(address) if isinstance(address, str) else address
    if parsed.kind == "inproc":
        from embly_build.server.factory import create_service

        service = create_service(settings or ServerSettings())
        return Connection(service, parsed, _service=service)
    if parsed.kind == "unix":
        channel = BoundedChannel(path=str(parsed.path), connect_timeout=connect_timeout)
    else:
        channel = BoundedChannel(
            parsed.host, parsed.port, ssl_context=ssl_context, connect_timeout=connect_timeout
        )
    return Connection(pb.BuildServiceStub(channel), parsed, channel)
