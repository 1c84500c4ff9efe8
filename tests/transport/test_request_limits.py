"""Every request limit (protocol/limits.py) refuses with its status and a message naming
it, before the server reads or decodes more than the limit; the server answers on."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest
from grpclib import GRPCError
from grpclib.const import Status

from embly_build.client.inputs.walk import IndexedFile
from embly_build.client.session.upload import TreeInputs, upload_inputs
from embly_build.protocol import pb
from embly_build.protocol.blob_batches import BATCH_MAX_BLOBS, BATCH_MAX_BYTES, make_batch
from embly_build.protocol.digests import CHUNK_SIZE
from embly_build.protocol.input_trees import TreeFile, encode_input_tree
from embly_build.protocol.limits import (
    MAX_DIGESTS_PER_LOOKUP,
    MAX_REQUEST_BYTES,
    MAX_TREE_BYTES,
)
from embly_build.server import requests
from tests.transport.raw_calls import RawServer, framed


def digest(data: bytes) -> pb.Digest:
    return pb.Digest(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def numbered_digests(count: int) -> list[pb.Digest]:
    return [digest(b"%d" % n) for n in range(count)]


def test_what_the_protocol_sends_fits_in_a_request() -> None:
    full_batch = make_batch(
        [("ab" * 32, bytes(BATCH_MAX_BYTES // BATCH_MAX_BLOBS))] * BATCH_MAX_BLOBS
    )
    full_chunk = pb.BlobChunk(digest=digest(b"x"), offset=1 << 40, data=bytes(CHUNK_SIZE))
    lookup = pb.FindMissingBlobsRequest(
        digests=[pb.Digest(sha256="ab" * 32, size_bytes=-1)] * MAX_DIGESTS_PER_LOOKUP
    )
    for message in (full_batch, full_chunk, lookup):
        assert len(bytes(message)) < MAX_REQUEST_BYTES


async def test_an_oversized_message_is_refused_from_its_prefix(raw_server: RawServer) -> None:
    """Only the prefix is sent, claiming 50 MiB, and the call is left open: a server that
    waited for the body would never answer."""
    claimed = 50 * 1024 * 1024
    async with asyncio.timeout(10):
        error = await raw_server.refusal_of_frames(
            "UploadBlobBatch", framed(b"", claimed=claimed), end=False
        )
    assert error.status == Status.RESOURCE_EXHAUSTED
    assert f"the request message is {claimed} bytes" in (error.message or "")
    assert f"at most {MAX_REQUEST_BYTES} bytes" in (error.message or "")
    await raw_server.still_answers()


async def chunk_refusal(server: RawServer, chunk: pb.BlobChunk) -> GRPCError:
    async def chunks() -> AsyncIterator[pb.BlobChunk]:
        yield chunk

    with pytest.raises(GRPCError) as raised:
        await server.stub.upload_blobs(chunks())
    return raised.value


async def test_a_chunk_over_1_mib_is_invalid_argument(raw_server: RawServer) -> None:
    data = bytes(2 * CHUNK_SIZE)
    error = await chunk_refusal(raw_server, pb.BlobChunk(digest(data), 0, data, last=True))
    assert error.status == Status.INVALID_ARGUMENT
    assert f"chunks carry at most {CHUNK_SIZE} bytes" in (error.message or "")
    missing = await raw_server.stub.find_missing_blobs(
        pb.FindMissingBlobsRequest(digests=[digest(data)])
    )
    assert len(missing.missing) == 1, "nothing stored"


@pytest.mark.parametrize("stored", [False, True])
async def test_a_chunk_beyond_its_blob_is_invalid_argument(
    raw_server: RawServer, stored: bool
) -> None:
    blob = b"0123456789"
    if stored:
        await raw_server.stub.upload_blob_batch(make_batch([(digest(blob).sha256, blob)]))
    error = await chunk_refusal(raw_server, pb.BlobChunk(digest(blob), 0, blob + b"!", True))
    assert error.status == Status.INVALID_ARGUMENT
    assert "does not fit in its 10 bytes" in (error.message or "")


async def test_a_lookup_of_too_many_digests_is_resource_exhausted(raw_server: RawServer) -> None:
    digests = numbered_digests(MAX_DIGESTS_PER_LOOKUP + 1)
    with pytest.raises(GRPCError) as raised:
        await raw_server.stub.find_missing_blobs(pb.FindMissingBlobsRequest(digests=digests))
    assert raised.value.status == Status.RESOURCE_EXHAUSTED
    assert f"{MAX_DIGESTS_PER_LOOKUP}" in (raised.value.message or "")
    answer = await raw_server.stub.find_missing_blobs(
        pb.FindMissingBlobsRequest(digests=digests[:MAX_DIGESTS_PER_LOOKUP])
    )
    assert len(answer.missing) == MAX_DIGESTS_PER_LOOKUP


async def test_a_lookup_of_empty_entries_is_refused_before_decoding_them(
    raw_server: RawServer,
) -> None:
    """Two bytes an entry: a million of them in one message."""
    error = await raw_server.refusal("FindMissingBlobs", b"\x0a\x00" * 1_000_000)
    assert error.status == Status.RESOURCE_EXHAUSTED
    assert "FindMissingBlobsRequest.digests has more than" in (error.message or "")


async def test_the_client_splits_a_large_lookup(
    raw_server: RawServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    count = MAX_DIGESTS_PER_LOOKUP + 5
    folder = tmp_path_factory.mktemp("inputs")
    files = []
    for n in range(count):
        data = b"%d" % n
        (folder / f"f{n:05d}").write_bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        files.append(IndexedFile(f"f{n:05d}", str(folder / f"f{n:05d}"), sha256, len(data), False))
    tree = encode_input_tree(TreeFile(f.path, f.sha256, f.size, False) for f in files)
    result = await upload_inputs(raw_server.stub, [TreeInputs(files, tree)])
    assert len(result.missing) == count
    again = await upload_inputs(
        raw_server.stub, [TreeInputs(files, tree)], trust_stored_trees=False
    )
    assert (again.missing, again.bytes_uploaded) == (frozenset(), 0), "all stored"


def build_by_digest(tree: pb.Digest) -> pb.BuildRequest:
    return pb.BuildRequest(
        project_id="p1",
        function=pb.FunctionSpec(name="f", runtime="rust", path="."),
        input_tree_digest=tree,
        target="x86_64-unknown-linux-gnu",
    )


async def build_refusal(server: RawServer, request: pb.BuildRequest) -> GRPCError:
    with pytest.raises(GRPCError) as raised:
        async for _ in server.stub.build(request):
            pass
    return raised.value


async def test_a_tree_blob_over_the_limit_is_resource_exhausted(raw_server: RawServer) -> None:
    huge = pb.Digest(sha256="ab" * 32, size_bytes=MAX_TREE_BYTES + 1)
    error = await build_refusal(raw_server, build_by_digest(huge))
    assert error.status == Status.RESOURCE_EXHAUSTED
    assert f"trees of at most {MAX_TREE_BYTES} bytes" in (error.message or "")


async def test_a_tree_of_too_many_files_is_resource_exhausted(
    raw_server: RawServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lower limit for this server (in this process): a tree over the real one is 200,000
    # files.
    monkeypatch.setattr(requests, "MAX_TREE_FILES", 2)
    cargo = digest(b"[package]")
    tree = encode_input_tree(
        TreeFile(path, cargo.sha256, 9, False) for path in ("Cargo.toml", "a.rs", "b.rs")
    )
    batch = [(cargo.sha256, b"[package]"), (tree.sha256, tree.data)]
    await raw_server.stub.upload_blob_batch(make_batch(batch))
    error = await build_refusal(raw_server, build_by_digest(tree.digest))
    assert error.status == Status.RESOURCE_EXHAUSTED
    assert "lists 3 files; this server builds from at most 2 files" in (error.message or "")
    assert not (raw_server.home / "spaces").exists()


async def test_an_inline_tree_over_the_limit_is_resource_exhausted(raw_server: RawServer) -> None:
    cargo = digest(b"[package]")
    files = [pb.FileNode(path=f"f{n}", digest=cargo) for n in range(10_001)]
    request = build_by_digest(pb.Digest())
    request.input_tree = pb.InputTree(files=files)
    error = await build_refusal(raw_server, request)
    assert error.status == Status.RESOURCE_EXHAUSTED
    assert "InputTree.files has more than 10000 entries" in (error.message or "")
    await raw_server.still_answers()
