"""Blob batches: many small blobs whole in one message (`BlobBatch`, `UploadBlobBatch`).

A chunk message per blob costs more than the blob itself when there are thousands of
small files (a first upload of an assets folder): a batch carries them in a few messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from embly_build.errors import DigestMismatch, ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.digests import CHUNK_SIZE, check_digest_fields

BATCH_MAX_BYTES = CHUNK_SIZE  # of blob data in one batch
BATCH_MAX_BLOBS = 4096
# Blobs up to this size travel in batches; larger ones as chunks of their own.
BATCH_BLOB_LIMIT = 256 * 1024


def make_batch(blobs: Sequence[tuple[str, bytes]]) -> pb.BlobBatch:
    """A batch of (sha256, bytes) blobs, in that order."""
    return pb.BlobBatch(
        sha256=[sha256 for sha256, _ in blobs],
        size_bytes=[len(data) for _, data in blobs],
        data=b"".join(data for _, data in blobs),
    )


def batch_blobs(batch: pb.BlobBatch) -> list[tuple[str, memoryview]]:
    """The batch's blobs as (sha256, bytes), in order, every one checked against its digest.

    ProtocolError for a malformed batch; DigestMismatch for a blob whose bytes do not match
    its digest (the caller then stores none of the batch)."""
    # Each field read once: reads of message fields are slow.
    sha256s, sizes, data = batch.sha256, batch.size_bytes, batch.data
    if len(sha256s) != len(sizes):
        raise ProtocolError(f"blob batch: {len(sha256s)} sha256 but {len(sizes)} sizes")
    if len(sha256s) > BATCH_MAX_BLOBS or len(data) > BATCH_MAX_BYTES:
        raise ProtocolError(
            f"blob batch of {len(sha256s)} blobs, {len(data)} bytes: at most "
            f"{BATCH_MAX_BLOBS} blobs and {BATCH_MAX_BYTES} bytes"
        )
    for sha256, size in zip(sha256s, sizes, strict=True):
        check_digest_fields(sha256, size, "blob batch digest")
    if sum(sizes) != len(data):
        raise ProtocolError(
            f"blob batch: its sizes add up to {sum(sizes)} bytes but it carries {len(data)}"
        )
    view = memoryview(data)
    blobs = []
    offset = 0
    for sha256, size in zip(sha256s, sizes, strict=True):
        blob = view[offset : offset + size]
        offset += size
        actual = hashlib.sha256(blob).hexdigest()
        if actual != sha256:
            raise DigestMismatch(
                f"blob {sha256} ({size} bytes) arrived as {actual}; nothing of its batch "
                "was stored, upload it again"
            )
        blobs.append((sha256, blob))
    return blobs
