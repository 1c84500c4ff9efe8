"""Open a connection to a build server by address; the client sees only `BuildApi`."""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grpclib.client import Channel
from grpclib.protocol import H2Protocol

from embly_build.protocol import pb
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import Address, parse_address
from embly_build.transport.api import BuildApi

if TYPE_CHECKING:
    from embly_build.server.service import BuildService


class ServerUnreachable(ConnectionError):
    """Connecting to the server failed; the message says why, in words."""


class _Channel(Channel):
    """grpclib's Channel, whose every failure to connect (a host name that does not resolve,
    no route, refused, no socket file) is a ServerUnreachable, which the client reports as a
    server it cannot reach (client/server_errors.py)."""

    async def _create_connection(self) -> H2Protocol:
        try:
            return await super()._create_connection()
        except socket.gaierror as error:
            raise ServerUnreachable(
                f"cannot resolve the host name {self._host!r}: {error.strerror or error}"
            ) from error
        except OSError as error:
            # asyncio's own words ("Connect call failed ('127.0.0.1', 1)") name no cause
            cause = os.strerror(error.errno) if error.errno else str(error)
            raise ServerUnreachable(cause) from error


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
) -> Connection:
    """`inproc` builds a server in this process from `settings`; others open a gRPC channel."""
    parsed = parse_address(address) if isinstance(address, str) else address
    if parsed.kind == "inproc":
        from embly_build.server.factory import create_service

        service = create_service(settings or ServerSettings())
        return Connection(service, parsed, _service=service)
    if parsed.kind == "unix":
        channel = _Channel(path=str(parsed.path))
    else:
        channel = _Channel(parsed.host, parsed.port, ssl=ssl_context)
    return Connection(pb.BuildServiceStub(channel), parsed, channel)
