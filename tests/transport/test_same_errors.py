"""The in-process transport gives a client the errors a gRPC transport gives: the same
status and message for the server's, and the caller's own as they were."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from grpclib import GRPCError
from grpclib.const import Status

from embly_build.errors import InputError
from embly_build.protocol import pb
from embly_build.server.settings import ServerSettings
from embly_build.transport.api import BuildApi
from embly_build.transport.connection import Connection, open_connection


def digest(data: bytes) -> pb.Digest:
    return pb.Digest(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


@pytest.fixture
async def in_process(tmp_path: Path) -> AsyncIterator[Connection]:
    opened = open_connection("inproc", settings=ServerSettings(home=tmp_path / "own", jobs=1))
    try:
        yield opened
    finally:
        await opened.close()


async def _bad_digest(api: BuildApi) -> object:
    bad = pb.Digest(sha256="../../etc/passwd", size_bytes=1)
    return await api.find_missing_blobs(pb.FindMissingBlobsRequest(digests=[bad]))


async def _missing_blob(api: BuildApi) -> object:
    return [chunk async for chunk in api.read_blob(pb.ReadBlobRequest(digest=digest(b"x")))]


async def _hostile_path(api: BuildApi) -> object:
    cargo = digest(b"[package]")
    request = pb.BuildRequest(
        project_id="p1",
        function=pb.FunctionSpec(name="f", runtime="rust", path="."),
        input_tree=pb.InputTree(
            files=[
                pb.FileNode(path="Cargo.toml", digest=cargo),
                pb.FileNode(path="../../etc/passwd", digest=cargo),
            ]
        ),
        target="x86_64-unknown-linux-gnu",
    )
    return [event async for event in api.build(request)]


async def _blobs_never_uploaded(api: BuildApi) -> object:
    cargo = digest(b"[package]")
    request = pb.BuildRequest(
        project_id="p1",
        function=pb.FunctionSpec(name="f", runtime="rust", path="."),
        input_tree=pb.InputTree(files=[pb.FileNode(path="Cargo.toml", digest=cargo)]),
        target="x86_64-unknown-linux-gnu",
    )
    return [event async for event in api.build(request)]


async def _truncated_upload(api: BuildApi) -> object:
    async def chunks() -> AsyncIterator[pb.BlobChunk]:
        yield pb.BlobChunk(digest=digest(b"0123456789"), offset=0, data=b"01234", last=False)

    return await api.upload_blobs(chunks())


@pytest.mark.parametrize(
    ("call", "status"),
    [
        (_bad_digest, Status.INVALID_ARGUMENT),
        (_missing_blob, Status.NOT_FOUND),
        (_hostile_path, Status.INVALID_ARGUMENT),
        (_blobs_never_uploaded, Status.NOT_FOUND),
        (_truncated_upload, Status.INVALID_ARGUMENT),
    ],
)
async def test_the_servers_errors_are_the_same_status_and_message(
    in_process: Connection,
    connection: Connection,
    call: Callable[[BuildApi], Awaitable[object]],
    status: Status,
) -> None:
    answers = []
    for transport in (in_process, connection):
        with pytest.raises(GRPCError) as raised:
            await call(transport.api)
        answers.append((raised.value.status, raised.value.message))
    assert answers[0] == answers[1]
    assert answers[0][0] == status and answers[0][1]


async def test_an_error_of_the_callers_own_upload_stream_comes_back_as_it_was(
    in_process: Connection, connection: Connection
) -> None:
    async def chunks() -> AsyncIterator[pb.BlobChunk]:
        yield pb.BlobChunk(digest=digest(b"0123456789"), offset=0, data=b"01234", last=False)
        raise InputError("src/lib.rs changed while it was being uploaded")

    for transport in (in_process, connection):
        with pytest.raises(InputError, match="changed while it was being uploaded"):
            await transport.api.upload_blobs(chunks())
