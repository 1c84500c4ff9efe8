"""A build's input files: from the request or from the tree blob it names, all in the store.

When this process synced the build's space before (`SpaceTree`), the tree is read as a
change to the one the space holds: only the new or changed entries are checked, and looked
for in the store; every blob of the tree is looked for (and so marked used, for gc) at
least every `FULL_CHECK_SECONDS`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from embly_build.errors import MissingInputs
from embly_build.protocol.input_trees import TreeFile
from embly_build.protocol.tree_diff import DecodedTree, TreeChange, decode_after
from embly_build.server.build.space_trees import SpaceTree
from embly_build.server.cas.store import ContentStore
from embly_build.server.requests import (
    RequestedTree,
    check_tree,
    check_tree_bytes,
    check_tree_change,
    check_tree_files,
)

FULL_CHECK_SECONDS = 600.0


@dataclass(frozen=True)
class BuildInputs:
    files: list[TreeFile]
    tree: DecodedTree | None  # None for a tree sent in the request
    # Relative to `base`'s tree, when read as a change to it.
    base: SpaceTree | None = None
    change: TreeChange | None = None
    # time.monotonic() when every blob of the tree (or, unless `all_found`, of the base's)
    # was last found in the store.
    checked_at: float = 0.0
    all_found: bool = True  # False: only those of the change were looked for


def input_files(
    store: ContentStore, tree: RequestedTree, crate_dir: str, known: SpaceTree | None = None
) -> BuildInputs:
    """The tree's files, checked, once every one of them (or, read as a change to `known`'s
    tree, every new one) is in the store; else MissingInputs."""
    if tree.files is not None:
        check_inputs_present(store, tree.files)
        return BuildInputs(tree.files, None, checked_at=time.monotonic())
    check_tree_bytes(tree.size_bytes)
    data = store.read_if_present(tree.sha256, tree.size_bytes)
    if data is None:
        raise MissingInputs(
            f"the input tree {tree.sha256} is not in the store; upload it with UploadBlobs "
            "before Build"
        )
    if known is None:
        decoded = DecodedTree.decode(data)
        check_tree_files(len(decoded.files))
        check_tree(decoded.files, crate_dir)
        check_inputs_present(store, decoded.files)
        return BuildInputs(decoded.files, decoded, checked_at=time.monotonic())
    decoded, change = decode_after(known.tree, data)
    check_tree_files(len(decoded.files))
    check_tree_change(decoded.files, change.added, crate_dir)
    if time.monotonic() - known.checked_at >= FULL_CHECK_SECONDS:
        check_inputs_present(store, decoded.files)
        return BuildInputs(decoded.files, decoded, known, change, time.monotonic())
    check_inputs_present(store, change.added)
    return BuildInputs(decoded.files, decoded, known, change, known.checked_at, all_found=False)


def check_inputs_present(store: ContentStore, files: Sequence[TreeFile]) -> None:
    missing = store.missing_keys((file.sha256, file.size_bytes) for file in files)
    if missing:
        raise MissingInputs(
            f"{len(missing)} input blobs are not in the store (first: {missing[0][0]}); "
            "upload them with UploadBlobs before Build"
        )
