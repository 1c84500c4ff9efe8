"""sha256 digests of blobs and of input trees."""

from __future__ import annotations

import re
from collections.abc import Iterator

from embly_build.errors import ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.input_trees import encode_input_tree, tree_files

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
CHUNK_SIZE = 1024 * 1024  # largest blob chunk in one message, per the protocol


def digest_key(digest: pb.Digest) -> tuple[str, int]:
    """A hashable identity for a digest (messages themselves are not hashable)."""
    return (digest.sha256, digest.size_bytes)


def valid_digest(sha256: str, size_bytes: int) -> bool:
    return size_bytes >= 0 and _SHA256_HEX.fullmatch(sha256) is not None


def check_digest(digest: pb.Digest | None, what: str = "digest") -> pb.Digest:
    """Reject a digest that is absent, not lowercase sha256 hex, or has a negative size."""
    if digest is None:
        raise ProtocolError(f"{what} must carry a lowercase hex sha256 (64 characters)")
    check_digest_fields(digest.sha256, digest.size_bytes, what)
    return digest


def check_digest_fields(sha256: str, size_bytes: int, what: str = "digest") -> None:
    """`check_digest` for a digest's two fields, read once by the caller."""
    if not _SHA256_HEX.fullmatch(sha256):
        raise ProtocolError(f"{what} must carry a lowercase hex sha256 (64 characters)")
    if size_bytes < 0:
        raise ProtocolError(f"{what} has a negative size")


def blob_chunks(digest: pb.Digest, data: bytes) -> Iterator[pb.BlobChunk]:
    """A blob held in memory as the chunks that carry it (one, with no data, when empty)."""
    offset = 0
    while True:
        piece = data[offset : offset + CHUNK_SIZE]
        last = offset + len(piece) >= len(data)
        yield pb.BlobChunk(digest=digest, offset=offset, data=piece, last=last)
        offset += len(piece)
        if last:
            return


def input_tree_digest(tree: pb.InputTree) -> str:
    """Canonical digest of an input tree: sha256 over its protobuf encoding with the nodes
    sorted by path (see `input_trees`). Digests must be valid (see `check_digest`)."""
    return encode_input_tree(tree_files(tree)).sha256
