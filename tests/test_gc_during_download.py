"""gc landing between a build and the download of its artifacts: the build is done again,
the artifacts arrive, nothing is reported broken."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from embly_build import Client, LogLine, ServerSettings
from embly_build.protocol import pb
from embly_build.server.gc import collect_garbage
from embly_build.transport.api import BuildApi
from embly_build.transport.connection import open_connection
from tests.helpers import embly

pytestmark = pytest.mark.slow


class GcAfterFirstBuild:
    """Fault injection: the real server API, with a real `embly gc --max-size 0` run the
    moment the first build's stream ends, before the client can fetch its artifacts."""

    def __init__(self, api: BuildApi, settings: ServerSettings) -> None:
        self._api = api
        self._settings = settings
        self.collected = False

    async def find_missing_blobs(
        self, request: pb.FindMissingBlobsRequest
    ) -> pb.FindMissingBlobsResponse:
        return await self._api.find_missing_blobs(request)

    async def upload_blobs(self, chunks: AsyncIterator[pb.BlobChunk]) -> pb.UploadBlobsResponse:
        return await self._api.upload_blobs(chunks)

    def read_blob(self, request: pb.ReadBlobRequest) -> AsyncIterator[pb.BlobChunk]:
        return self._api.read_blob(request)

    async def get_server_info(self, request: pb.GetServerInfoRequest) -> pb.ServerInfo:
        return await self._api.get_server_info(request)

    async def build(self, request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]:
        async for event in self._api.build(request):
            yield event
        if not self.collected:
            self.collected = True
            report = collect_garbage(self._settings, 0)
            assert report.removed.blobs.count > 0, report


async def test_artifacts_trimmed_before_download_are_built_again(
    project: Path, embly_home: Path
) -> None:
    settings = ServerSettings(home=embly_home)
    connection = open_connection("inproc", settings=settings)
    api = GcAfterFirstBuild(connection.api, settings)
    logs: list[str] = []
    try:
        client = Client(api)
        (result,) = await client.build(
            project,
            ["greeter"],
            lambda e: logs.append(e.text) if isinstance(e, LogLine) else None,
        )
    finally:
        await connection.close()

    assert api.collected
    assert result.ok, result.error
    assert any("building again" in text for text in logs)
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada!\n"
