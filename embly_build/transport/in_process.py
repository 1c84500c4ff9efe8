"""The in-process transport: a build server in this process, called directly (no socket,
no serialisation) through the same GrpcService the gRPC server serves, so its answers and
errors are the same. There is no caller to authenticate: the process is its own client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from embly_build.transport.address import Address
from embly_build.transport.api import BuildApi
from embly_build.transport.base import ConnectOptions
from embly_build.transport.grpc_service import GrpcService

if TYPE_CHECKING:
    from embly_build.server.service import BuildService


class InProcessTransport:
    def __init__(self, service: BuildService) -> None:
        self._service = service
        self._api = GrpcService(service)

    @property
    def api(self) -> BuildApi:
        return self._api

    async def close(self) -> None:
        await self._service.close()


def open_in_process(address: Address, options: ConnectOptions) -> InProcessTransport:
    # Imported here: a client of another server never loads the server's modules.
    from embly_build.server.factory import create_service
    from embly_build.server.settings import ServerSettings

    return InProcessTransport(create_service(options.settings or ServerSettings()))
