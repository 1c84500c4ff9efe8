"""The build service as the wire shows it: what the gRPC server serves and what the
in-process transport calls, so both give a client the same answers and the same errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from embly_build.protocol import pb
from embly_build.transport.api import BuildApi, closing
from embly_build.transport.statuses import grpc_status

T = TypeVar("T")


class GrpcService(pb.BuildServiceBase):
    """Every call of `service` with its embly errors turned into gRPC statuses
    (transport/statuses.py). grpclib serves it by its generated `__mapping__`."""

    def __init__(self, service: BuildApi) -> None:
        self._service = service

    async def find_missing_blobs(
        self, find_missing_blobs_request: pb.FindMissingBlobsRequest
    ) -> pb.FindMissingBlobsResponse:
        with grpc_status():
            return await self._service.find_missing_blobs(find_missing_blobs_request)

    async def upload_blobs(
        self, blob_chunk_iterator: AsyncIterator[pb.BlobChunk]
    ) -> pb.UploadBlobsResponse:
        try:
            with grpc_status():
                return await self._service.upload_blobs(_callers(blob_chunk_iterator))
        except _CallersError as failed:
            raise failed.error from None

    async def upload_blob_batch(self, blob_batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        with grpc_status():
            return await self._service.upload_blob_batch(blob_batch)

    async def read_blob(self, read_blob_request: pb.ReadBlobRequest) -> AsyncIterator[pb.BlobChunk]:
        with grpc_status():
            async with closing(self._service.read_blob(read_blob_request)) as chunks:
                async for chunk in chunks:
                    yield chunk

    async def build(self, build_request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]:
        with grpc_status():
            async with closing(self._service.build(build_request)) as events:
                async for event in events:
                    yield event

    async def get_server_info(
        self, get_server_info_request: pb.GetServerInfoRequest
    ) -> pb.ServerInfo:
        with grpc_status():
            return await self._service.get_server_info(get_server_info_request)


class _CallersError(Exception):
    """An error raised by the caller's own request stream while the service read it."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _callers(stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """`stream`, whose errors are the caller's, passed back as they are (an in-process
    client's file that changed while it was read): never a status, as over gRPC, where
    they never leave the client."""
    while True:
        try:
            item = await anext(stream)
        except StopAsyncIteration:
            return
        except Exception as error:
            raise _CallersError(error) from error
        yield item
