"""Small blobs sent whole, many to a message (UploadBlobBatch), in the order given.

Groups of files go two at a time: this side reads the next while the server stores them.
A group with a tree goes only once every group before it is stored, so a tree the server
holds always has its files.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence

from grpclib import GRPCError
from grpclib.const import Status

from embly_build.client.inputs.walk import IndexedFile
from embly_build.errors import InputError
from embly_build.protocol import pb
from embly_build.protocol.blob_batches import BATCH_MAX_BLOBS, BATCH_MAX_BYTES, make_batch
from embly_build.protocol.input_trees import EncodedTree
from embly_build.tasks import all_or_none
from embly_build.transport.api import BuildApi

Blob = IndexedFile | EncodedTree


async def send_in_batches(
    api: BuildApi, blobs: Sequence[Blob], on_sent: Callable[[int], None]
) -> None:
    """Send the blobs (trees after the files they list) in batches; all are stored on
    return. `on_sent` gets the bytes of each batch stored."""
    groups = _batch_groups(blobs)
    first_with_tree = next(
        (i for i, group in enumerate(groups) if isinstance(group[-1], EncodedTree)), len(groups)
    )
    await _send_batches(api, groups[:first_with_tree], on_sent, in_flight=2)
    await _send_batches(api, groups[first_with_tree:], on_sent, in_flight=1)


def unknown_method(error: GRPCError) -> bool:
    """Whether the server does not know the method called (it is older than it)."""
    # A grpclib server answers an unknown method without a content-type header, which a
    # grpclib client reports as UNKNOWN before it reads the status, UNIMPLEMENTED.
    return error.status == Status.UNIMPLEMENTED or (
        error.status == Status.UNKNOWN and error.message == "Missing content-type header"
    )


def _batch_groups(blobs: Sequence[Blob]) -> list[list[Blob]]:
    """The blobs, in order, cut into groups that each fit in one batch."""
    groups: list[list[Blob]] = []
    group: list[Blob] = []
    group_bytes = 0
    for blob in blobs:
        size = blob.size if isinstance(blob, IndexedFile) else len(blob.data)
        if group and (group_bytes + size > BATCH_MAX_BYTES or len(group) == BATCH_MAX_BLOBS):
            groups.append(group)
            group, group_bytes = [], 0
        group.append(blob)
        group_bytes += size
    if group:
        groups.append(group)
    return groups


async def _send_batches(
    api: BuildApi,
    groups: Sequence[Sequence[Blob]],
    on_sent: Callable[[int], None],
    *,
    in_flight: int,
) -> None:
    """Send each group as a batch, in order, `in_flight` at a time, the next one read
    meanwhile; all are stored on return."""
    ready: asyncio.Queue[pb.BlobBatch | None] = asyncio.Queue()
    held = asyncio.Semaphore(in_flight + 1)  # batches in memory: those being sent, the next

    async def read_all() -> None:
        for group in groups:
            await held.acquire()
            ready.put_nowait(await asyncio.to_thread(_read_batch, group))
        for _ in range(in_flight):
            ready.put_nowait(None)  # no more: each sender stops

    async def send_each() -> None:
        while (batch := await ready.get()) is not None:
            await api.upload_blob_batch(batch)
            on_sent(len(batch.data))
            held.release()

    await all_or_none([read_all(), *(send_each() for _ in range(in_flight))])


def _read_batch(blobs: Sequence[Blob]) -> pb.BlobBatch:
    return make_batch(
        [
            (blob.sha256, _read_whole(blob) if isinstance(blob, IndexedFile) else blob.data)
            for blob in blobs
        ]
    )


def _read_whole(file: IndexedFile) -> bytes:
    try:
        with open(file.location, "rb") as handle:
            data = handle.read(file.size + 1)
    except OSError as exc:
        raise InputError(f"cannot read {file.location}: {exc.strerror}") from exc
    if len(data) != file.size or hashlib.sha256(data).hexdigest() != file.sha256:
        raise changed_while_uploading(file)
    return data


def changed_while_uploading(file: IndexedFile) -> InputError:
    return InputError(f"{file.absolute} changed while it was being uploaded; run the build again")
