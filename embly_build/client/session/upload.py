"""Upload what the server lacks to build some input trees, as the Remote Execution API does:
FindMissingBlobs (several at once, for more digests than a server answers in one call),
then small blobs in batches (UploadBlobBatch) and large ones in chunks (UploadBlobs).

A tree the server already stores was sent whole before (its files first, the tree blob
last), so only the files of new trees are asked about: a build with nothing changed sends
one small FindMissingBlobs. Of a new tree, files the caller knows the server holds (those
of the function's last tree sent, see sent_trees.py) are not asked about either.

Each file is hashed again as it is read; a file that changed since it was indexed stops
the upload with a clear error instead of sending bytes under the wrong digest.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence, Set
from dataclasses import dataclass

from grpclib import GRPCError

from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.inputs.walk import IndexedFile
from embly_build.client.session.batch_upload import (
    changed_while_uploading,
    send_in_batches,
    unknown_method,
)
from embly_build.errors import InputError
from embly_build.protocol import pb
from embly_build.protocol.blob_batches import BATCH_BLOB_LIMIT
from embly_build.protocol.digests import CHUNK_SIZE, blob_chunks
from embly_build.protocol.input_trees import EncodedTree, TreeFile, encode_input_tree
from embly_build.protocol.limits import MAX_DIGESTS_PER_LOOKUP
from embly_build.tasks import all_or_none
from embly_build.transport.api import BuildApi

ProgressCallback = Callable[[int, int], None]  # (sent_bytes, total_bytes)


@dataclass(frozen=True)
class TreeInputs:
    """One function's input tree: its files, and the tree's canonical encoding."""

    files: Sequence[IndexedFile]
    tree: EncodedTree

    @classmethod
    def of(cls, inputs: FunctionInputs) -> TreeInputs:
        """Encoded afresh. A client building a function again and again encodes only what
        changed (see tree_encoder.py)."""
        files = (TreeFile(f.path, f.sha256, f.size, f.executable) for f in inputs.files)
        return cls(inputs.files, encode_input_tree(files))


@dataclass(frozen=True)
class UploadResult:
    missing: frozenset[str]  # sha256 of the input files that were uploaded
    bytes_uploaded: int  # their bytes (the trees themselves are not counted)
    trees_completed: frozenset[str] = frozenset()  # sha256 of the trees the server lacked


async def upload_inputs(
    api: BuildApi,
    trees: Sequence[TreeInputs],
    on_progress: ProgressCallback | None = None,
    *,
    trust_stored_trees: bool = True,
    files_held: Callable[[], Set[str]] = frozenset,
) -> UploadResult:
    """Upload what the server lacks of these trees: the files, then the tree blobs.
    `trust_stored_trees=False` asks about every file, also of trees the server has (after
    gc trimmed some of them). `files_held()`, called only when a tree is missing, gives the
    sha256 of files known to be on the server, which are not asked about (unless
    `trust_stored_trees` is False). `on_progress` is called as chunks are sent, from 0 to
    the total."""
    by_sha = {inputs.tree.sha256: inputs for inputs in trees}
    if trust_stored_trees:
        absent = await _missing(api, [inputs.tree.digest for inputs in by_sha.values()])
        to_complete = [by_sha[sha256] for sha256 in absent if sha256 in by_sha]
    else:
        to_complete = list(by_sha.values())
    if not to_complete:
        return UploadResult(frozenset(), 0)
    unique = {f.sha256: f for inputs in to_complete for f in inputs.files}
    tree_blobs = {inputs.tree.sha256: inputs.tree for inputs in to_complete}
    held = files_held() if trust_stored_trees else frozenset()
    asked = [f for f in unique.values() if f.sha256 not in held]
    wanted = [pb.Digest(sha256=f.sha256, size_bytes=f.size) for f in asked]
    wanted += [tree.digest for tree in tree_blobs.values()]
    absent = await _missing(api, wanted)
    files = [unique[sha256] for sha256 in absent if sha256 in unique]
    trees_to_send = [tree_blobs[sha256] for sha256 in absent if sha256 in tree_blobs]
    file_bytes = sum(f.size for f in files)
    total = file_bytes + sum(len(tree.data) for tree in trees_to_send)
    if files or trees_to_send:
        report = on_progress or (lambda sent, total: None)
        report(0, total)
        await _send(api, files, trees_to_send, _Progress(lambda sent: report(sent, total)))
        report(total, total)
    return UploadResult(
        missing=frozenset(f.sha256 for f in files),
        bytes_uploaded=file_bytes,
        trees_completed=frozenset(tree_blobs),
    )


async def _missing(api: BuildApi, digests: list[pb.Digest]) -> list[str]:
    """The sha256 of the digests the server lacks, in order: asked about in calls of at most
    MAX_DIGESTS_PER_LOOKUP digests, all at once."""
    step = MAX_DIGESTS_PER_LOOKUP
    parts = [digests[start : start + step] for start in range(0, len(digests), step)]
    answers: list[list[str]] = [[] for _ in parts]

    async def ask(index: int) -> None:
        response = await api.find_missing_blobs(pb.FindMissingBlobsRequest(digests=parts[index]))
        answers[index] = [digest.sha256 for digest in response.missing]

    if len(parts) == 1:
        await ask(0)
    elif parts:
        await all_or_none([ask(index) for index in range(len(parts))])
    return [sha256 for answer in answers for sha256 in answer]


class _Progress:
    def __init__(self, on_sent: Callable[[int], None]) -> None:
        self._on_sent = on_sent
        self._sent = 0

    def add(self, sent_bytes: int) -> None:
        self._sent += sent_bytes
        self._on_sent(self._sent)


async def _send(
    api: BuildApi,
    files: Sequence[IndexedFile],
    trees: Sequence[EncodedTree],
    progress: _Progress,
) -> None:
    """Large files as chunks, small ones in batches, then the trees: a tree is stored only
    once its files are."""
    large_files = [f for f in files if f.size > BATCH_BLOB_LIMIT]
    large_trees = [t for t in trees if len(t.data) > BATCH_BLOB_LIMIT]
    if large_files:
        await api.upload_blobs(_chunks(large_files, (), progress))
    small_files = [f for f in files if f.size <= BATCH_BLOB_LIMIT]
    small_trees = [t for t in trees if len(t.data) <= BATCH_BLOB_LIMIT]
    try:
        await send_in_batches(api, [*small_files, *small_trees], progress.add)
    except GRPCError as error:
        if not unknown_method(error):
            raise
        # A server from before UploadBlobBatch, which stored none of them: as chunks.
        await api.upload_blobs(_chunks(small_files, small_trees, progress))
    if large_trees:
        await api.upload_blobs(_chunks((), large_trees, progress))


async def _chunks(
    files: Sequence[IndexedFile], trees: Sequence[EncodedTree], progress: _Progress
) -> AsyncIterator[pb.BlobChunk]:
    """The files' chunks, then the trees'."""
    for file in files:
        digest = pb.Digest(sha256=file.sha256, size_bytes=file.size)
        async for chunk in _file_chunks(file, digest):
            yield chunk
            progress.add(len(chunk.data))
            # An in-process server takes each chunk without a pause: let the event loop
            # run (progress, signals, a watch's events) between chunks.
            await asyncio.sleep(0)
    for tree in trees:
        for chunk in blob_chunks(tree.digest, tree.data):
            yield chunk
            progress.add(len(chunk.data))
            await asyncio.sleep(0)


async def _file_chunks(file: IndexedFile, digest: pb.Digest) -> AsyncIterator[pb.BlobChunk]:
    hasher = hashlib.sha256()
    offset = 0
    try:
        with open(file.absolute, "rb") as handle:
            while True:
                data = handle.read(CHUNK_SIZE)
                hasher.update(data)
                last = offset + len(data) >= file.size or not data
                if last and (hasher.hexdigest() != file.sha256 or handle.read(1)):
                    raise changed_while_uploading(file)
                yield pb.BlobChunk(digest=digest, offset=offset, data=data, last=last)
                offset += len(data)
                if last:
                    return
    except OSError as exc:
        raise InputError(f"cannot read {file.absolute}: {exc.strerror}") from exc
