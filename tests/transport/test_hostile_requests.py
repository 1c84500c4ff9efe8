"""A server rejects hostile or broken requests with INVALID_ARGUMENT before touching the disk,
over a unix socket, loopback TCP and TLS."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from grpclib import GRPCError
from grpclib.const import Status

from embly_build.protocol import pb
from embly_build.protocol.blob_batches import make_batch
from embly_build.protocol.input_trees import TreeFile, encode_input_tree
from embly_build.server.build_log import LOGGER_NAME
from tests.transport.raw_calls import RawServer


@pytest.fixture
async def stub(raw_server: RawServer) -> pb.BuildServiceStub:
    """A client of a real server on a unix socket, loopback TCP, or TLS with a token."""
    return raw_server.stub


def digest(data: bytes) -> pb.Digest:
    return pb.Digest(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def request_with(path: str, project_id: str = "p1", function: str = "f") -> pb.BuildRequest:
    cargo = digest(b"[package]")
    return pb.BuildRequest(
        project_id=project_id,
        function=pb.FunctionSpec(name=function, runtime="rust", path="."),
        input_tree=pb.InputTree(
            files=[
                pb.FileNode(path="Cargo.toml", digest=cargo),
                pb.FileNode(path=path, digest=cargo),
            ]
        ),
        target="x86_64-unknown-linux-gnu",
    )


async def build_error(stub: pb.BuildServiceStub, request: pb.BuildRequest) -> GRPCError:
    with pytest.raises(GRPCError) as raised:
        async for _ in stub.build(request):
            pass
    return raised.value


@pytest.mark.parametrize(
    "path", ["../../etc/passwd", "/etc/passwd", "src//main.rs", "src/\0.rs", "src/./x.rs"]
)
async def test_hostile_paths_are_invalid_argument(
    stub: pb.BuildServiceStub, tmp_path: Path, path: str
) -> None:
    error = await build_error(stub, request_with(path))
    assert error.status == Status.INVALID_ARGUMENT
    assert "invalid path" in (error.message or "")
    assert not (tmp_path / "home" / "spaces").exists()


@pytest.mark.parametrize(
    ("project_id", "function"), [("../up", "f"), ("p1", "../../x"), ("p1", ""), ("", "f")]
)
async def test_hostile_names_are_invalid_argument(
    stub: pb.BuildServiceStub, project_id: str, function: str
) -> None:
    error = await build_error(stub, request_with("src/main.rs", project_id, function))
    assert error.status == Status.INVALID_ARGUMENT


async def test_build_of_blobs_never_uploaded_is_not_found(stub: pb.BuildServiceStub) -> None:
    error = await build_error(stub, request_with("src/main.rs"))
    assert error.status == Status.NOT_FOUND
    assert "upload them" in (error.message or "")


async def test_a_build_that_ends_in_an_error_is_logged_as_one(
    stub: pb.BuildServiceStub, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        await build_error(stub, request_with("src/main.rs", "p1", "lost"))
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]
    assert [line for line in lines if "function=lost" in line and "status=error" in line], lines


def by_digest(tree: bytes) -> pb.BuildRequest:
    return pb.BuildRequest(
        project_id="p1",
        function=pb.FunctionSpec(name="f", runtime="rust", path="."),
        input_tree_digest=digest(tree),
        target="x86_64-unknown-linux-gnu",
    )


async def upload(stub: pb.BuildServiceStub, *blobs: bytes) -> None:
    async def chunks() -> AsyncIterator[pb.BlobChunk]:
        for data in blobs:
            yield pb.BlobChunk(digest=digest(data), offset=0, data=data, last=True)

    await stub.upload_blobs(chunks())


async def test_a_tree_blob_never_uploaded_is_not_found(stub: pb.BuildServiceStub) -> None:
    tree = encode_input_tree([TreeFile("Cargo.toml", digest(b"[package]").sha256, 9, False)])
    error = await build_error(stub, by_digest(tree.data))
    assert error.status == Status.NOT_FOUND
    assert f"the input tree {tree.sha256} is not in the store" in (error.message or "")


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "src//main.rs"])
async def test_hostile_paths_in_a_tree_blob_are_invalid_argument(
    stub: pb.BuildServiceStub, tmp_path: Path, path: str
) -> None:
    cargo = digest(b"[package]")
    files = [TreeFile("Cargo.toml", cargo.sha256, 9, False), TreeFile(path, cargo.sha256, 9, False)]
    tree = encode_input_tree(files).data
    await upload(stub, b"[package]", tree)
    error = await build_error(stub, by_digest(tree))
    assert error.status == Status.INVALID_ARGUMENT
    assert "invalid path" in (error.message or "")
    assert not (tmp_path / "home" / "spaces").exists()


@pytest.mark.parametrize(
    ("blob", "problem"),
    [
        (b"\x0a\x05garbage", "not an InputTree"),
        (
            bytes(
                pb.InputTree(
                    files=[
                        pb.FileNode(path=path, digest=digest(b"[package]"))
                        for path in ("src/main.rs", "Cargo.toml")
                    ]
                )
            ),
            "not sorted",
        ),
    ],
)
async def test_a_tree_blob_that_is_not_a_canonical_tree_is_invalid_argument(
    stub: pb.BuildServiceStub, blob: bytes, problem: str
) -> None:
    await upload(stub, b"[package]", blob)
    error = await build_error(stub, by_digest(blob))
    assert error.status == Status.INVALID_ARGUMENT
    assert problem in (error.message or "")


async def test_a_tree_sent_both_ways_is_invalid_argument(stub: pb.BuildServiceStub) -> None:
    request = request_with("src/main.rs")
    request.input_tree_digest = digest(b"anything")
    error = await build_error(stub, request)
    assert error.status == Status.INVALID_ARGUMENT
    assert "send one" in (error.message or "")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (pb.Digest(sha256="../../etc/passwd", size_bytes=1), "lowercase hex sha256"),
        (pb.Digest(sha256="ab" * 32, size_bytes=-1), "negative size"),
    ],
)
async def test_find_missing_blobs_with_a_bad_digest_is_invalid_argument(
    stub: pb.BuildServiceStub, bad: pb.Digest, problem: str
) -> None:
    with pytest.raises(GRPCError) as raised:
        await stub.find_missing_blobs(pb.FindMissingBlobsRequest(digests=[digest(b"ok"), bad]))
    assert raised.value.status == Status.INVALID_ARGUMENT
    assert problem in (raised.value.message or "")


async def assert_upload_rejected_and_not_stored(
    stub: pb.BuildServiceStub, chunk: pb.BlobChunk
) -> None:
    async def chunks() -> AsyncIterator[pb.BlobChunk]:
        yield chunk

    with pytest.raises(GRPCError) as raised:
        await stub.upload_blobs(chunks())
    assert raised.value.status == Status.INVALID_ARGUMENT
    missing = await stub.find_missing_blobs(pb.FindMissingBlobsRequest(digests=[chunk.digest]))
    assert [d.sha256 for d in missing.missing] == [chunk.digest.sha256]


async def test_upload_with_wrong_content_is_rejected_and_not_stored(
    stub: pb.BuildServiceStub,
) -> None:
    claimed = digest(b"what the client says")
    await assert_upload_rejected_and_not_stored(
        stub, pb.BlobChunk(digest=claimed, offset=0, data=b"what the client sends", last=True)
    )


async def test_upload_in_chunks_then_read_back(stub: pb.BuildServiceStub) -> None:
    data = bytes(range(256)) * 9000  # over two 1 MiB chunks
    whole = digest(data)

    async def chunks() -> AsyncIterator[pb.BlobChunk]:
        for offset in range(0, len(data), 1 << 20):
            piece = data[offset : offset + (1 << 20)]
            yield pb.BlobChunk(
                digest=whole, offset=offset, data=piece, last=offset + len(piece) == len(data)
            )

    summary = await stub.upload_blobs(chunks())
    assert (summary.blobs_stored, summary.bytes_stored) == (1, len(data))
    back = b"".join([c.data async for c in stub.read_blob(pb.ReadBlobRequest(digest=whole))])
    assert back == data


async def test_truncated_upload_stores_nothing(stub: pb.BuildServiceStub) -> None:
    whole = digest(b"0123456789")
    await assert_upload_rejected_and_not_stored(
        stub, pb.BlobChunk(digest=whole, offset=0, data=b"01234", last=False)
    )


async def read_back(stub: pb.BuildServiceStub, blob: bytes) -> bytes:
    request = pb.ReadBlobRequest(digest=digest(blob))
    return b"".join([chunk.data async for chunk in stub.read_blob(request)])


async def test_a_batch_is_stored_whole_and_read_back(stub: pb.BuildServiceStub) -> None:
    blobs = [b"fn main() {}\n", b"", b"[package]\nname = 'f'\n"]
    batch = make_batch([(digest(blob).sha256, blob) for blob in blobs])
    summary = await stub.upload_blob_batch(batch)
    assert (summary.blobs_stored, summary.bytes_stored) == (3, sum(map(len, blobs)))
    assert [await read_back(stub, blob) for blob in blobs] == blobs
    again = await stub.upload_blob_batch(batch)
    assert (again.blobs_stored, again.blobs_already_present) == (0, 3)


async def test_a_batch_with_one_wrong_blob_stores_none_of_it(stub: pb.BuildServiceStub) -> None:
    good, claimed = digest(b"a good blob"), digest(b"what the client says")
    batch = make_batch([(good.sha256, b"a good blob"), (claimed.sha256, b"what it sends")])
    with pytest.raises(GRPCError) as raised:
        await stub.upload_blob_batch(batch)
    assert raised.value.status == Status.INVALID_ARGUMENT
    assert f"blob {claimed.sha256}" in (raised.value.message or "")
    missing = await stub.find_missing_blobs(pb.FindMissingBlobsRequest(digests=[good, claimed]))
    assert [d.sha256 for d in missing.missing] == [good.sha256, claimed.sha256]


_OK = hashlib.sha256(b"ok").hexdigest()


@pytest.mark.parametrize(
    ("batch", "problem"),
    [
        (pb.BlobBatch(sha256=[_OK, _OK], size_bytes=[2], data=b"ok"), "2 sha256 but 1 sizes"),
        (pb.BlobBatch(sha256=[_OK], size_bytes=[2], data=b"ok!"), "add up to 2 bytes"),
        (pb.BlobBatch(sha256=[_OK.upper()], size_bytes=[2], data=b"ok"), "lowercase hex"),
        (pb.BlobBatch(sha256=[_OK, _OK], size_bytes=[4, -2], data=b"ok"), "negative size"),
        (pb.BlobBatch(sha256=[_OK] * 4097, size_bytes=[0] * 4097), "at most 4096 blobs"),
        (
            pb.BlobBatch(sha256=[_OK], size_bytes=[(1 << 20) + 1], data=bytes((1 << 20) + 1)),
            "1048576 bytes",
        ),
    ],
)
async def test_a_malformed_batch_is_invalid_argument(
    stub: pb.BuildServiceStub, batch: pb.BlobBatch, problem: str
) -> None:
    with pytest.raises(GRPCError) as raised:
        await stub.upload_blob_batch(batch)
    assert raised.value.status == Status.INVALID_ARGUMENT
    assert problem in (raised.value.message or "")
    missing = await stub.find_missing_blobs(pb.FindMissingBlobsRequest(digests=[digest(b"ok")]))
    assert len(missing.missing) == 1, "nothing stored"
