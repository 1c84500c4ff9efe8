"""The one seam between client and server: the protocol's calls.

The in-process transport hands the client the service as the gRPC server serves it
(GrpcService, calling BuildService directly); the gRPC transports hand it the generated stub
over a channel. Both answer these calls alike, errors included.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol, TypeVar

from embly_build.protocol import pb

T = TypeVar("T")


class BuildApi(Protocol):
    async def find_missing_blobs(
        self, find_missing_blobs_request: pb.FindMissingBlobsRequest
    ) -> pb.FindMissingBlobsResponse: ...

    async def upload_blobs(
        self, blob_chunk_iterator: AsyncIterator[pb.BlobChunk]
    ) -> pb.UploadBlobsResponse: ...

    async def upload_blob_batch(self, blob_batch: pb.BlobBatch) -> pb.UploadBlobsResponse: ...

    def read_blob(self, read_blob_request: pb.ReadBlobRequest) -> AsyncIterator[pb.BlobChunk]: ...

    def build(self, build_request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]: ...

    async def get_server_info(
        self, get_server_info_request: pb.GetServerInfoRequest
    ) -> pb.ServerInfo: ...


@contextlib.asynccontextmanager
async def closing(stream: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Close a response stream (`read_blob`, `build`: an async generator on every transport)
    when leaving, so the work behind it ends with the reader, not whenever it is collected."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
