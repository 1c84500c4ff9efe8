"""gc landing between an upload and its build, or between a build and the download of its
artifacts: what is missing is sent again, the build is done again, the artifacts arrive,
nothing is reported broken."""

from __future__ import annotations

import fcntl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from embly_build import Client, LogLine, ServerSettings, connect
from embly_build.client.inputs.index import index_function
from embly_build.protocol import pb
from embly_build.server.build.build_space import MANIFEST_NAME, SPACE_LOCK
from embly_build.server.gc import collect_garbage
from embly_build.transport.api import BuildApi
from embly_build.transport.connection import open_connection
from tests.api_wrapper import PassThroughApi
from tests.helpers import embly

pytestmark = pytest.mark.slow


class GcInjected(PassThroughApi):
    """Fault injection: the real server API, with a real `embly gc --max-size 0` run once,
    the moment the first upload call ends (before the build) or the first build's stream ends
    (before the client can fetch its artifacts)."""

    def __init__(self, api: BuildApi, settings: ServerSettings, after: str) -> None:
        super().__init__(api)
        self._settings = settings
        self._after = after  # "upload" or "build"
        self.collected = False

    def _collect_once(self, moment: str) -> None:
        if self._after == moment and not self.collected:
            self.collected = True
            report = collect_garbage(self._settings, 0)
            assert report.removed.blobs.count > 0, report

    async def upload_blobs(self, chunks: AsyncIterator[pb.BlobChunk]) -> pb.UploadBlobsResponse:
        response = await self.api.upload_blobs(chunks)
        self._collect_once("upload")
        return response

    async def upload_blob_batch(self, batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        response = await self.api.upload_blob_batch(batch)
        self._collect_once("upload")
        return response

    async def build(self, request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]:
        async for event in self.api.build(request):
            yield event
        self._collect_once("build")


@pytest.mark.parametrize(
    ("after", "said"),
    [
        (
            "build",
            "artifacts missing from the server's store (gc, or found corrupt); building again",
        ),
        (
            "upload",
            "inputs missing from the server's store (trimmed by gc, or found corrupt there);"
            " sending them again",
        ),
    ],
)
async def test_blobs_trimmed_by_gc_are_sent_again_and_built(
    project: Path, embly_home: Path, after: str, said: str
) -> None:
    settings = ServerSettings(home=embly_home)
    connection = open_connection("inproc", settings=settings)
    api = GcInjected(connection.api, settings, after)
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
    assert said in logs
    inputs = index_function(project / "greeter", [], project / "embly_build")
    assert result.uploaded_bytes == 2 * sum(f.size for f in inputs.files), "all sent again"
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada!\n"


@pytest.mark.parametrize("space_in_use", [True, False])
async def test_a_resident_server_builds_an_edit_after_gc_trimmed_its_store(
    project: Path, embly_home: Path, space_in_use: bool
) -> None:
    """The server reads the edit as a change to the tree its space holds. Blobs of unchanged
    files gone from the store are not needed while the space holds them; when gc removed
    the space too, the client is asked for them and the build goes on."""
    settings = ServerSettings(home=embly_home)
    main_rs = project / "greeter" / "src" / "main.rs"
    async with connect(settings=settings) as client:
        (first,) = await client.build(project, ["greeter"])
        assert first.ok, first.error
        (space,) = (embly_home / "spaces").glob("*/greeter")
        with open(space / SPACE_LOCK, "a") as lock:
            if space_in_use:  # as a build in another process would hold it
                fcntl.flock(lock, fcntl.LOCK_EX)
            report = collect_garbage(settings, 0)
        assert report.removed.blobs.count > 0
        assert (space / MANIFEST_NAME).exists() == space_in_use
        main_rs.write_text(main_rs.read_text().replace('"{}"', '"{}?"'))
        (second,) = await client.build(project, ["greeter"])
    assert second.ok, second.error
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada!?\n"
