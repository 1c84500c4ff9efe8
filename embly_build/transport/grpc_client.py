"""A transport over a gRPC channel: the generated stub, with the credentials' metadata sent
with every call."""

from __future__ import annotations

from collections.abc import Mapping

from grpclib.client import Channel

from embly_build.protocol import pb
from embly_build.transport.api import BuildApi


class GrpcTransport:
    def __init__(self, channel: Channel, metadata: Mapping[str, str]) -> None:
        self._channel = channel
        self._stub = pb.BuildServiceStub(channel, metadata=dict(metadata) or None)

    @property
    def api(self) -> BuildApi:
        return self._stub

    async def close(self) -> None:
        self._channel.close()
