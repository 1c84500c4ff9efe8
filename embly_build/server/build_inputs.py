"""A build's input files: from the request or from the tree blob it names, all in the store."""

from __future__ import annotations

from embly_build.errors import MissingInputs
from embly_build.protocol.input_trees import TreeFile, decode_input_tree
from embly_build.server.requests import RequestedTree, check_tree
from embly_build.server.store import ContentStore


def input_files(store: ContentStore, tree: RequestedTree, crate_dir: str) -> list[TreeFile]:
    """The tree's files, checked, once every one of them is in the store; else MissingInputs."""
    files = tree.files
    if files is None:
        data = store.read_if_present(tree.sha256, tree.size_bytes)
        if data is None:
            raise MissingInputs(
                f"the input tree {tree.sha256} is not in the store; upload it with UploadBlobs "
                "before Build"
            )
        files = decode_input_tree(data)
        check_tree(files, crate_dir)
    check_inputs_present(store, files)
    return files


def check_inputs_present(store: ContentStore, files: list[TreeFile]) -> None:
    missing = store.missing_keys((file.sha256, file.size_bytes) for file in files)
    if missing:
        raise MissingInputs(
            f"{len(missing)} input blobs are not in the store (first: {missing[0][0]}); "
            "upload them with UploadBlobs before Build"
        )
