"""The seam every transport implements, as httpx's `_transports/base.py`: a `BuildApi` to
call, and a close. One small module per implementation (in_process.py, unix_socket.py,
tcp.py); connection.py picks one by the address's kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from embly_build.transport.address import Address
from embly_build.transport.api import BuildApi
from embly_build.transport.channel import CONNECT_TIMEOUT
from embly_build.transport.credentials import NO_CREDENTIALS, Credentials

if TYPE_CHECKING:
    from embly_build.server.settings import ServerSettings


class Transport(Protocol):
    @property
    def api(self) -> BuildApi: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ConnectOptions:
    settings: ServerSettings | None = None  # inproc: the server to run in this process
    credentials: Credentials = NO_CREDENTIALS  # over gRPC: TLS and call metadata
    # Over gRPC: a server not connected and answering within it fails the first call.
    connect_timeout: float = CONNECT_TIMEOUT


OpenTransport = Callable[[Address, ConnectOptions], Transport]
