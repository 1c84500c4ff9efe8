"""A BuildApi that passes every call through to a real one: tests subclass it to record
what a client sends, or to inject a fault at one moment."""

from __future__ import annotations

from collections.abc import AsyncIterator

from embly_build.protocol import pb
from embly_build.transport.api import BuildApi


class PassThroughApi:
    def __init__(self, api: BuildApi) -> None:
        self.api = api

    async def find_missing_blobs(
        self, request: pb.FindMissingBlobsRequest
    ) -> pb.FindMissingBlobsResponse:
        return await self.api.find_missing_blobs(request)

    async def upload_blobs(self, chunks: AsyncIterator[pb.BlobChunk]) -> pb.UploadBlobsResponse:
        return await self.api.upload_blobs(chunks)

    async def upload_blob_batch(self, batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        return await self.api.upload_blob_batch(batch)

    def read_blob(self, request: pb.ReadBlobRequest) -> AsyncIterator[pb.BlobChunk]:
        return self.api.read_blob(request)

    def build(self, request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]:
        return self.api.build(request)

    async def get_server_info(self, request: pb.GetServerInfoRequest) -> pb.ServerInfo:
        return await self.api.get_server_info(request)
