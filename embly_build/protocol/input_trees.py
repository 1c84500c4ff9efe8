"""Input trees as bytes: the canonical encoding of an InputTree, and back.

The canonical encoding is the protobuf serialisation of the tree with its nodes sorted by
path (proto3: fields at their default left out), byte for byte what betterproto gives; its
sha256 is the tree's digest. A client sends a tree as a blob in this encoding and names it
in `BuildRequest.input_tree_digest`, so a server with the action cached never reads it.
Both directions are written out here because betterproto's generic encoder and decoder
take seconds on a tree of 40,000 files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import pairwise
from operator import itemgetter
from typing import NamedTuple

from embly_build.errors import ProtocolError
from embly_build.protocol import pb

_UINT64 = (1 << 64) - 1  # a negative int64 is encoded as its two's complement
_INT64_SIGN = 1 << 63
# Wire tags: (field number << 3) | wire type (0 varint, 2 length-delimited).
_TREE_FILES = 0x0A  # InputTree.files = 1
_NODE_PATH, _NODE_DIGEST, _NODE_EXECUTABLE = 0x0A, 0x12, 0x18  # FileNode fields 1, 2, 3
_DIGEST_SHA256, _DIGEST_SIZE = 0x0A, 0x10  # Digest fields 1, 2
_ONE_BYTE_VARINTS = [bytes((value,)) for value in range(0x80)]


class TreeFile(NamedTuple):
    path: str
    sha256: str
    size_bytes: int
    executable: bool


class EncodedTree(NamedTuple):
    data: bytes
    sha256: str  # the tree's canonical digest

    @property
    def digest(self) -> pb.Digest:
        return pb.Digest(sha256=self.sha256, size_bytes=len(self.data))


def tree_files(tree: pb.InputTree) -> list[TreeFile]:
    """The nodes of a message tree, in its order. Digests are read as they are (None: empty)."""
    files = []
    for node in tree.files:
        digest = node.digest
        sha256, size = (digest.sha256, digest.size_bytes) if digest is not None else ("", 0)
        files.append(TreeFile(node.path, sha256, size, node.executable))
    return files


def encode_input_tree(files: Iterable[TreeFile]) -> EncodedTree:
    """The canonical encoding of a tree of these files, whatever order they come in."""
    ordered = sorted(files, key=itemgetter(0))
    return join_tree_entries([tree_entry(*file) for file in ordered])


def tree_entry(path: str, sha256: str, size_bytes: int, executable: bool) -> bytes:
    """One file's entry in a canonical tree: a tree's encoding is its entries, sorted by
    path, end to end (see `join_tree_entries`)."""
    node = _file_node(path, sha256, size_bytes, executable)
    return b"%c%s%s" % (_TREE_FILES, varint(len(node)), node)


def join_tree_entries(entries: list[bytes]) -> EncodedTree:
    """The tree whose entries (from `tree_entry`) these are, in order of their paths."""
    data = b"".join(entries)
    return EncodedTree(data, hashlib.sha256(data).hexdigest())


def decode_input_tree(data: bytes) -> list[TreeFile]:
    """The files of a canonically encoded tree; anything else (another protobuf encoding of
    the same tree, unsorted or repeated paths, unknown fields) is a ProtocolError."""
    files, _ = decode_canonical_nodes(data)
    return files


def decode_canonical_nodes(data: bytes) -> tuple[list[TreeFile], list[int]]:
    """The files of a canonically encoded run of FileNode entries (a whole tree, or a part of
    one), and where each entry ends in `data`; a ProtocolError as for `decode_input_tree`."""
    reader = _Reader(data)
    files = []
    ends = []
    while not reader.done():
        reader.expect(_TREE_FILES, len(data), "a FileNode")
        end = reader.length_end()
        files.append(_read_file_node(reader, end))
        ends.append(end)
    _check_sorted(files)
    if join_tree_entries([tree_entry(*file) for file in files]).data != data:
        raise ProtocolError("the input tree blob is not the tree's canonical encoding")
    return files, ends


def _check_sorted(files: list[TreeFile]) -> None:
    """Raise a ProtocolError unless the paths are strictly ascending."""
    paths = [file.path for file in files]
    if any(earlier >= later for earlier, later in pairwise(paths)):
        raise ProtocolError("the input tree's paths are not sorted, or one is listed twice")


def _file_node(path: str, sha256: str, size_bytes: int, executable: bool) -> bytes:
    digest = b"%c%s" % (_DIGEST_SHA256, _length_delimited(sha256.encode()))
    if size_bytes:
        digest += b"%c%s" % (_DIGEST_SIZE, varint(size_bytes & _UINT64))
    encoded = b"%c%s" % (_NODE_PATH, _length_delimited(path.encode())) if path else b""
    encoded += b"%c%s" % (_NODE_DIGEST, _length_delimited(digest))
    if executable:
        encoded += b"%c\x01" % _NODE_EXECUTABLE
    return encoded


def _read_file_node(reader: _Reader, end: int) -> TreeFile:
    path = reader.text(end) if reader.next_is(_NODE_PATH, end) else ""
    reader.expect(_NODE_DIGEST, end, "the digest of a FileNode")
    digest_end = reader.length_end(end)
    reader.expect(_DIGEST_SHA256, digest_end, "a sha256")
    sha256 = reader.text(digest_end)
    size = reader.varint(digest_end) if reader.next_is(_DIGEST_SIZE, digest_end) else 0
    if size & _INT64_SIGN:
        size -= 1 << 64
    reader.at(digest_end, "Digest")
    executable = bool(reader.varint(end)) if reader.next_is(_NODE_EXECUTABLE, end) else False
    reader.at(end, "FileNode")
    return TreeFile(path, sha256, size, executable)


class _Reader:
    """Reads protobuf wire format from `data`, every read bounded by the enclosing message."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def done(self) -> bool:
        return self._position >= len(self._data)

    def next_is(self, tag: int, end: int) -> bool:
        if self._position < end and self._data[self._position] == tag:
            self._position += 1
            return True
        return False

    def expect(self, tag: int, end: int, what: str) -> None:
        if not self.next_is(tag, end):
            raise ProtocolError(f"the input tree blob is not an InputTree: expected {what}")

    def at(self, end: int, message: str) -> None:
        if self._position != end:
            raise ProtocolError(f"the input tree blob is not an InputTree: a {message} too long")

    def varint(self, end: int) -> int:
        value = shift = 0
        while shift < 70:
            if self._position >= end:
                break
            byte = self._data[self._position]
            self._position += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
        raise ProtocolError("the input tree blob is not an InputTree: a number is cut short")

    def length_end(self, end: int | None = None) -> int:
        limit = len(self._data) if end is None else end
        length = self.varint(limit)
        length_end = self._position + length
        if length_end > limit:
            raise ProtocolError("the input tree blob is not an InputTree: it is cut short")
        return length_end

    def text(self, end: int) -> str:
        stop = self.length_end(end)
        raw = self._data[self._position : stop]
        self._position = stop
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("the input tree blob holds a path that is not UTF-8") from None


def _length_delimited(data: bytes) -> bytes:
    return varint(len(data)) + data


def varint(value: int) -> bytes:
    """A non-negative int as a protobuf varint."""
    if 0 <= value < 0x80:  # most lengths in a tree: a path's, a digest's
        return _ONE_BYTE_VARINTS[value]
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    encoded = bytearray()
    while value > 0x7F:
        encoded.append(value & 0x7F | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)
