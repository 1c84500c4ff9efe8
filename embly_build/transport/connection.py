"""Open a connection to a build server by address; the client sees only `BuildApi`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from embly_build.transport.address import Address, AddressKind, parse_address
from embly_build.transport.api import BuildApi
from embly_build.transport.base import ConnectOptions, OpenTransport, Transport
from embly_build.transport.channel import CONNECT_TIMEOUT
from embly_build.transport.credentials import NO_CREDENTIALS, Credentials
from embly_build.transport.in_process import open_in_process
from embly_build.transport.tcp import connect_tcp
from embly_build.transport.unix_socket import connect_unix

if TYPE_CHECKING:
    from embly_build.server.settings import ServerSettings

_TRANSPORTS: dict[AddressKind, OpenTransport] = {
    "inproc": open_in_process,
    "unix": connect_unix,
    "tcp": connect_tcp,
}


@dataclass
class Connection:
    address: Address
    _transport: Transport = field(repr=False)

    @property
    def api(self) -> BuildApi:
        return self._transport.api

    async def close(self) -> None:
        await self._transport.close()


def open_connection(
    address: str | Address,
    *,
    settings: ServerSettings | None = None,
    credentials: Credentials = NO_CREDENTIALS,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> Connection:
    """`inproc` builds a server in this process from `settings`; others open a gRPC channel
    presenting `credentials`, which connects at the first call and fails it with a
    ServerUnreachable if the server cannot be reached or does not answer within
    `connect_timeout` seconds."""
    parsed = parse_address(address) if isinstance(address, str) else address
    options = ConnectOptions(settings, credentials, connect_timeout)
    return Connection(parsed, _TRANSPORTS[parsed.kind](parsed, options))
