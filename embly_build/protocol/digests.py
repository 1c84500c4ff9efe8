"""sha256 digests of blobs and of input trees."""

from __future__ import annotations

import hashlib
import re
from operator import itemgetter

from embly_build.errors import ProtocolError
from embly_build.protocol import pb

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
CHUNK_SIZE = 1024 * 1024  # largest blob chunk in one message, per the protocol


def digest_key(digest: pb.Digest) -> tuple[str, int]:
    """A hashable identity for a digest (messages themselves are not hashable)."""
    return (digest.sha256, digest.size_bytes)


def valid_digest(sha256: str, size_bytes: int) -> bool:
    return size_bytes >= 0 and _SHA256_HEX.fullmatch(sha256) is not None


def check_digest(digest: pb.Digest | None, what: str = "digest") -> pb.Digest:
    """Reject a digest that is absent, not lowercase sha256 hex, or has a negative size."""
    if digest is None or not _SHA256_HEX.fullmatch(digest.sha256):
        raise ProtocolError(f"{what} must carry a lowercase hex sha256 (64 characters)")
    if digest.size_bytes < 0:
        raise ProtocolError(f"{what} has a negative size")
    return digest


def input_tree_digest(tree: pb.InputTree) -> str:
    """Canonical digest of an input tree: sha256 over its protobuf encoding with the nodes
    sorted by path. The encoding is written out here, byte for byte what the generic
    encoder gives (proto3: fields at their default are left out), because the generic one
    takes seconds on a tree of 40,000 files. Digests must be valid (see `check_digest`)."""
    nodes = sorted(
        ((node.path, node.digest, node.executable) for node in tree.files), key=itemgetter(0)
    )
    hasher = hashlib.sha256()
    for path, digest, executable in nodes:
        encoded = _file_node(path, digest.sha256, digest.size_bytes, executable)
        hasher.update(b"\x0a" + _varint(len(encoded)) + encoded)  # InputTree.files = 1
    return hasher.hexdigest()


def _file_node(path: str, sha256: str, size_bytes: int, executable: bool) -> bytes:
    digest = b"\x0a" + _length_delimited(sha256.encode())  # Digest.sha256 = 1
    if size_bytes:
        digest += b"\x10" + _varint(size_bytes & _UINT64)  # Digest.size_bytes = 2
    encoded = b"\x0a" + _length_delimited(path.encode()) if path else b""  # FileNode.path
    encoded += b"\x12" + _length_delimited(digest)  # FileNode.digest = 2
    if executable:
        encoded += b"\x18\x01"  # FileNode.executable = 3
    return encoded


_UINT64 = (1 << 64) - 1  # a negative int64 is encoded as its two's complement


def _length_delimited(data: bytes) -> bytes:
    return _varint(len(data)) + data


def _varint(value: int) -> bytes:
    encoded = bytearray()
    while value > 0x7F:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)
