"""The canonical encoding of an input tree, written and read by hand: byte for byte what
betterproto writes for the sorted tree, read back exactly, and nothing else accepted."""

from __future__ import annotations

import random

import pytest

from embly_build.errors import ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.input_trees import (
    TreeFile,
    decode_input_tree,
    encode_input_tree,
    tree_files,
)
from tests.protocol.test_digests import random_tree


def sorted_tree(tree: pb.InputTree) -> pb.InputTree:
    return pb.InputTree(files=sorted(tree.files, key=lambda node: node.path))


def distinct_paths(tree: pb.InputTree) -> pb.InputTree:
    by_path = {node.path: node for node in tree.files}
    return pb.InputTree(files=list(by_path.values()))


def test_encoding_is_betterprotos_of_the_sorted_tree_and_reads_back() -> None:
    rng = random.Random(2026)
    for _ in range(200):
        tree = distinct_paths(random_tree(rng))
        encoded = encode_input_tree(tree_files(tree))
        assert encoded.data == bytes(sorted_tree(tree))
        assert decode_input_tree(encoded.data) == tree_files(sorted_tree(tree))


def test_a_tree_written_by_betterproto_reads_back() -> None:
    tree = sorted_tree(distinct_paths(random_tree(random.Random(3))))
    assert decode_input_tree(bytes(tree)) == tree_files(tree)


def test_the_empty_tree_is_empty_bytes() -> None:
    assert encode_input_tree([]).data == b""
    assert decode_input_tree(b"") == []


def file(path: str, size: int = 5, executable: bool = False) -> TreeFile:
    return TreeFile(path, "ab" * 32, size, executable)


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ([file("b"), file("a")], "not sorted"),
        ([file("a"), file("a")], "listed twice"),
    ],
)
def test_unsorted_or_repeated_paths_are_refused(files: list[TreeFile], problem: str) -> None:
    written_in_this_order = bytes(
        pb.InputTree(
            files=[
                pb.FileNode(path=f.path, digest=pb.Digest(sha256=f.sha256, size_bytes=f.size_bytes))
                for f in files
            ]
        )
    )
    with pytest.raises(ProtocolError, match=problem):
        decode_input_tree(written_in_this_order)


def test_another_encoding_of_the_same_tree_is_refused() -> None:
    # The size 5 written as a two-byte varint: the same tree, other bytes, another sha256.
    digest = b"\x0a\x40" + b"ab" * 32 + b"\x10\x85\x00"
    node = b"\x0a\x01a" + b"\x12" + bytes([len(digest)]) + digest
    longer = b"\x0a" + bytes([len(node)]) + node
    with pytest.raises(ProtocolError, match="canonical"):
        decode_input_tree(longer)
    assert decode_input_tree(encode_input_tree([file("a", size=5)]).data) == [file("a", size=5)]


def test_an_unknown_field_is_refused() -> None:
    node = pb.FileNode(path="a", digest=pb.Digest(sha256="ab" * 32, size_bytes=1))
    tree = bytes(pb.InputTree(files=[node])) + b"\x12\x00"  # InputTree field 2
    with pytest.raises(ProtocolError, match="expected a FileNode"):
        decode_input_tree(tree)


def test_a_negative_size_reads_as_negative() -> None:
    (read,) = decode_input_tree(encode_input_tree([file("a", size=-1)]).data)
    assert read.size_bytes == -1


def test_a_path_that_is_not_utf8_is_refused() -> None:
    data = encode_input_tree([file("a")]).data.replace(b"\x0a\x01a", b"\x0a\x01\xff")
    with pytest.raises(ProtocolError, match="not UTF-8"):
        decode_input_tree(data)


def test_any_damage_is_a_protocol_error_never_a_crash() -> None:
    rng = random.Random(11)
    data = encode_input_tree(tree_files(distinct_paths(random_tree(rng)))).data
    while len(data) < 50:
        data = encode_input_tree(tree_files(distinct_paths(random_tree(rng)))).data
    for _ in range(2000):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cut = bytes(damaged[: rng.randint(0, len(damaged))])
        for candidate in (bytes(damaged), cut):
            try:
                decoded = decode_input_tree(candidate)
            except ProtocolError:
                continue
            assert encode_input_tree(decoded).data == candidate, "only canonical bytes pass"
