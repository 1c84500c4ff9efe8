"""Uploads over a real socket: small files in batches, large ones in chunks, trees last."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from grpclib.const import Handler
from grpclib.server import Server

from embly_build.client.inputs.index import index_function
from embly_build.client.session.upload import TreeInputs, upload_inputs
from embly_build.errors import InputError
from embly_build.protocol import pb
from embly_build.protocol.blob_batches import BATCH_BLOB_LIMIT
from embly_build.server.factory import create_service
from embly_build.server.service import BuildService
from embly_build.server.settings import ServerSettings
from embly_build.transport.api import BuildApi
from embly_build.transport.connection import Connection, open_connection
from embly_build.transport.grpc_service import GrpcService
from tests.api_wrapper import PassThroughApi
from tests.client.files import crate, write


class CallRecordingApi(PassThroughApi):
    """The real API over the socket, recording each upload call and the blobs it carried."""

    def __init__(self, api: BuildApi) -> None:
        super().__init__(api)
        self.calls: list[tuple[str, list[str]]] = []  # ("batch" | "chunks", sha256s)

    async def upload_blob_batch(self, batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        self.calls.append(("batch", list(batch.sha256)))
        return await self.api.upload_blob_batch(batch)

    async def upload_blobs(self, chunks: AsyncIterator[pb.BlobChunk]) -> pb.UploadBlobsResponse:
        blobs: list[str] = []
        self.calls.append(("chunks", blobs))

        async def recorded() -> AsyncIterator[pb.BlobChunk]:
            async for chunk in chunks:
                if chunk.last:
                    blobs.append(chunk.digest.sha256)
                yield chunk

        return await self.api.upload_blobs(recorded())


def tree_of(directory: Path) -> TreeInputs:
    return TreeInputs.of(index_function(directory, [], directory / "embly_build"))


async def missing(connection: Connection, tree: TreeInputs) -> list[str]:
    digests = [pb.Digest(sha256=f.sha256, size_bytes=f.size) for f in tree.files]
    request = pb.FindMissingBlobsRequest(digests=[*digests, tree.tree.digest])
    return [d.sha256 for d in (await connection.api.find_missing_blobs(request)).missing]


async def test_thousands_of_small_files_go_in_a_few_batches_and_the_tree_last(
    tmp_path: Path, connection: Connection
) -> None:
    function = crate(tmp_path / "assets-heavy")
    for number in range(3000):  # about 1.5 MiB in all
        write(function / "assets" / f"{number:04}.txt", f"asset {number}\n" * 50)
    large = write(function / "assets" / "large.bin", bytes(range(256)) * 1200)
    assert large.stat().st_size > BATCH_BLOB_LIMIT
    tree = tree_of(function)
    api = CallRecordingApi(connection.api)

    result = await upload_inputs(api, [tree])

    assert result.bytes_uploaded == sum(f.size for f in tree.files)
    assert await missing(connection, tree) == [], "every file and the tree are stored"
    large_sha256 = hashlib.sha256(large.read_bytes()).hexdigest()
    assert api.calls[0] == ("chunks", [large_sha256])
    batches = [blobs for kind, blobs in api.calls if kind == "batch"]
    assert len(batches) == 2, "at most 1 MiB a batch"
    sent = [sha256 for _, blobs in api.calls for sha256 in blobs]
    assert sorted(sent) == sorted([*(f.sha256 for f in tree.files), tree.tree.sha256])
    assert sent[-1] == tree.tree.sha256, "the tree goes last, once its files are stored"


async def test_a_file_changed_since_it_was_indexed_stops_the_upload_before_its_tree(
    tmp_path: Path, connection: Connection
) -> None:
    function = crate(tmp_path / "hello")
    tree = tree_of(function)
    write(function / "src" / "lib.rs", "// saved again while the upload was starting\n")

    with pytest.raises(InputError, match=r"lib\.rs changed while it was being uploaded"):
        await upload_inputs(connection.api, [tree])
    assert tree.tree.sha256 in await missing(connection, tree), "no tree without its files"


class ServedBeforeBatches:
    """A real service as a server from before UploadBlobBatch serves it: the method is not
    in its mapping, so grpclib answers UNIMPLEMENTED."""

    def __init__(self, service: BuildService) -> None:
        self._service = GrpcService(service)

    def __mapping__(self) -> dict[str, Handler]:
        mapping = self._service.__mapping__()
        del mapping["/embly.build.v1.BuildService/UploadBlobBatch"]
        return mapping


async def test_a_server_from_before_batches_gets_every_blob_as_chunks(tmp_path: Path) -> None:
    service = create_service(ServerSettings(home=tmp_path / "server-home", jobs=1))
    server = Server([ServedBeforeBatches(service)])
    sock = tmp_path / "old.sock"
    await server.start(path=str(sock))
    connection = open_connection(f"unix:{sock}")
    try:
        tree = tree_of(crate(tmp_path / "hello"))
        api = CallRecordingApi(connection.api)
        result = await upload_inputs(api, [tree])
        assert result.bytes_uploaded == sum(f.size for f in tree.files)
        assert await missing(connection, tree) == []
        assert [kind for kind, _ in api.calls] == ["batch", "chunks"], "tried once, then chunks"
    finally:
        await connection.close()
        server.close()
        await server.wait_closed()
        await service.close()
