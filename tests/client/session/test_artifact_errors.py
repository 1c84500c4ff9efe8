"""A build's artifacts that cannot be written here say so, naming the file and what to do:
never "cannot reach the build server", which the server had nothing to do with."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from embly_build.client.session import artifacts
from embly_build.client.session.client import Client
from embly_build.errors import StoreError
from embly_build.protocol import pb

BLOBS = {"wasm": b"\0asm stripped and optimised", "cwasm": b"compiled for this machine"}


def digest(data: bytes) -> pb.Digest:
    return pb.Digest(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


class BuiltServer:
    """A server that holds every input, and answers every build with the same artifacts."""

    async def find_missing_blobs(
        self, request: pb.FindMissingBlobsRequest
    ) -> pb.FindMissingBlobsResponse:
        return pb.FindMissingBlobsResponse()

    async def upload_blobs(self, chunks: AsyncIterator[pb.BlobChunk]) -> pb.UploadBlobsResponse:
        raise AssertionError("nothing is missing")

    async def upload_blob_batch(self, batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        raise AssertionError("nothing is missing")

    async def read_blob(self, request: pb.ReadBlobRequest) -> AsyncIterator[pb.BlobChunk]:
        data = next(d for d in BLOBS.values() if digest(d).sha256 == request.digest.sha256)
        yield pb.BlobChunk(digest=request.digest, data=data, last=True)

    async def build(self, request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]:
        made = [pb.Artifact(kind=kind, digest=digest(data)) for kind, data in BLOBS.items()]
        finished = pb.Finished(status=pb.BuildStatus.SUCCEEDED, artifacts=made)
        yield pb.BuildEvent(finished=finished)

    async def get_server_info(self, request: pb.GetServerInfoRequest) -> pb.ServerInfo:
        return pb.ServerInfo()


async def test_an_output_directory_removed_during_the_write_names_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = project / "embly_build"
    publish = artifacts.ArtifactWriter.publish

    def removed_first(writer: artifacts.ArtifactWriter, stale_kinds: tuple[str, ...] = ()) -> None:
        shutil.rmtree(output)  # a `git clean -fdx` while the build writes its artifacts
        publish(writer, stale_kinds)

    monkeypatch.setattr(artifacts.ArtifactWriter, "publish", removed_first)
    client = Client(BuiltServer())  # type: ignore[arg-type]

    with pytest.raises(StoreError) as raised:
        await client.build(project, ["greeter"])

    message = str(raised.value)
    assert "build server" not in message
    assert f"cannot write {output / 'greeter'}" in message  # its .wasm or .cwasm
    assert f"check that {output} exists, that you may write to it" in message
