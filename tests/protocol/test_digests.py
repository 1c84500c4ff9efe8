"""The input tree digest: the sha256 of the tree's protobuf encoding, nodes sorted by path,
whatever order they come in."""

from __future__ import annotations

import hashlib
import random
import string

from embly_build.protocol import pb
from embly_build.protocol.digests import input_tree_digest


def encoded_by_betterproto(tree: pb.InputTree) -> str:
    ordered = pb.InputTree(files=sorted(tree.files, key=lambda node: node.path))
    return hashlib.sha256(bytes(ordered)).hexdigest()


def random_tree(rng: random.Random) -> pb.InputTree:
    characters = string.ascii_letters + "/._- éü€😀"
    sizes = [0, 1, 127, 128, 16383, 16384, 2**31, 2**40, rng.randint(0, 2**62)]
    return pb.InputTree(
        files=[
            pb.FileNode(
                path="".join(rng.choice(characters) for _ in range(rng.randint(1, 300))),
                digest=pb.Digest(
                    sha256=f"{rng.getrandbits(256):064x}", size_bytes=rng.choice(sizes)
                ),
                executable=rng.random() < 0.3,
            )
            for _ in range(rng.randint(0, 30))
        ]
    )


def test_the_digest_is_that_of_the_protobuf_encoding() -> None:
    rng = random.Random(2026)
    for _ in range(200):
        tree = random_tree(rng)
        assert input_tree_digest(tree) == encoded_by_betterproto(tree)


def test_the_order_of_the_nodes_does_not_matter_but_every_field_does() -> None:
    tree = random_tree(random.Random(7))
    while len(tree.files) < 2:
        tree = random_tree(random.Random(len(tree.files) + 8))
    reversed_tree = pb.InputTree(files=list(reversed(tree.files)))
    assert input_tree_digest(reversed_tree) == input_tree_digest(tree)
    changed = pb.InputTree(files=list(tree.files))
    first = changed.files[0]
    changed.files[0] = pb.FileNode(
        path=first.path, digest=first.digest, executable=not first.executable
    )
    assert input_tree_digest(changed) != input_tree_digest(tree)
