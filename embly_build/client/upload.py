"""Upload what the server is missing: FindMissingBlobs, then chunked UploadBlobs.

Each file is hashed again as it is read; a file that changed since it was indexed stops
the upload with a clear error instead of sending bytes under the wrong digest.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from embly_build.client.index import IndexedFile
from embly_build.errors import InputError
from embly_build.protocol import pb
from embly_build.protocol.digests import CHUNK_SIZE
from embly_build.transport.api import BuildApi


@dataclass(frozen=True)
class UploadResult:
    missing: frozenset[str]  # sha256 of the blobs that were uploaded
    bytes_uploaded: int


async def upload_missing(
    api: BuildApi,
    files: Sequence[IndexedFile],
    on_progress: Callable[[int, int], None] | None = None,
) -> UploadResult:
    """Upload the files the server lacks; `on_progress(sent_bytes, total_bytes)` is called
    as chunks are sent, from 0 to the total."""
    unique = {f.sha256: f for f in files}
    digests = [pb.Digest(sha256=f.sha256, size_bytes=f.size) for f in unique.values()]
    response = await api.find_missing_blobs(pb.FindMissingBlobsRequest(digests=digests))
    to_send = [unique[d.sha256] for d in response.missing if d.sha256 in unique]
    total = sum(f.size for f in to_send)
    if to_send:
        report = on_progress or (lambda sent, total: None)
        report(0, total)
        await api.upload_blobs(_chunks(to_send, lambda sent: report(sent, total)))
        report(total, total)
    return UploadResult(missing=frozenset(f.sha256 for f in to_send), bytes_uploaded=total)


async def _chunks(
    files: Sequence[IndexedFile], on_sent: Callable[[int], None]
) -> AsyncIterator[pb.BlobChunk]:
    sent = 0
    for file in files:
        digest = pb.Digest(sha256=file.sha256, size_bytes=file.size)
        hasher = hashlib.sha256()
        offset = 0
        try:
            with open(file.absolute, "rb") as handle:
                while True:
                    data = handle.read(CHUNK_SIZE)
                    hasher.update(data)
                    last = offset + len(data) >= file.size or not data
                    if last and (hasher.hexdigest() != file.sha256 or handle.read(1)):
                        raise InputError(
                            f"{file.absolute} changed while it was being uploaded; "
                            "run the build again"
                        )
                    yield pb.BlobChunk(digest=digest, offset=offset, data=data, last=last)
                    offset += len(data)
                    sent += len(data)
                    on_sent(sent)
                    # An in-process server takes each chunk without a pause: let the event
                    # loop run (progress, signals, a watch's events) between chunks.
                    await asyncio.sleep(0)
                    if last:
                        break
        except OSError as exc:
            raise InputError(f"cannot read {file.absolute}: {exc.strerror}") from exc
