"""Validation of a BuildRequest: every name and path is checked before the disk is touched."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass

from embly_build.errors import LimitExceeded, ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.digests import check_digest, check_digest_fields, valid_digest
from embly_build.protocol.input_trees import TreeFile, encode_input_tree, tree_files
from embly_build.protocol.limits import (
    MAX_INLINE_TREE_FILES,
    MAX_TREE_BYTES,
    MAX_TREE_FILES,
)
from embly_build.protocol.opt_levels import WASM_OPT_LEVELS
from embly_build.protocol.paths import check_name, check_tree_path
from embly_build.server.runtimes.base import Runtime

_TARGET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


@dataclass(frozen=True)
class RequestedTree:
    sha256: str  # the tree's canonical digest
    size_bytes: int  # of its canonical encoding
    # Sent in the request, checked; None when sent by digest, read from the store (and
    # checked) only when the build is not cached.
    files: list[TreeFile] | None


@dataclass(frozen=True)
class ValidBuild:
    project_id: str
    function: pb.FunctionSpec
    runtime: Runtime
    tree: RequestedTree
    target: str
    options: pb.BuildOptions
    # Who asked (transport/caller.py): "" for a caller nobody authenticated. Builds of
    # different callers share no build space and no action-cache entry.
    caller: str = ""


def validate_build(
    request: pb.BuildRequest, runtimes: Mapping[str, Runtime], caller: str = ""
) -> ValidBuild:
    check_name(request.project_id, "project id")
    function = request.function
    if function is None or not function.name:
        raise ProtocolError("the request names no function")
    check_name(function.name, "function name")
    runtime = runtimes.get(function.runtime)
    if runtime is None:
        known = ", ".join(sorted(runtimes))
        raise ProtocolError(f"unknown runtime {function.runtime!r}; this server knows: {known}")
    check_tree_path(function.path, allow_root=True)
    tree = _requested_tree(request, function.path)
    if not request.target or not set(request.target) <= _TARGET_CHARS:
        raise ProtocolError(f"invalid target triple {request.target!r}")
    options = request.options or pb.BuildOptions()
    if options.opt_level and options.opt_level not in WASM_OPT_LEVELS:
        raise ProtocolError(f"invalid wasm-opt level {options.opt_level!r}")
    return ValidBuild(request.project_id, function, runtime, tree, request.target, options, caller)


def _requested_tree(request: pb.BuildRequest, crate_dir: str) -> RequestedTree:
    inline = tree_files(request.input_tree) if request.input_tree is not None else []
    if len(inline) > MAX_INLINE_TREE_FILES:
        raise LimitExceeded(
            f"the request's input_tree lists {len(inline)} files; this server takes at most "
            f"{MAX_INLINE_TREE_FILES} in a request: send a larger tree by digest, as a blob"
        )
    by_digest = request.input_tree_digest
    if by_digest is not None and (by_digest.sha256 or by_digest.size_bytes):
        if inline:
            raise ProtocolError("the request sends input_tree and input_tree_digest; send one")
        check_digest(by_digest, "input tree digest")
        check_tree_bytes(by_digest.size_bytes)
        return RequestedTree(by_digest.sha256, by_digest.size_bytes, None)
    check_tree(inline, crate_dir)
    encoded = encode_input_tree(inline)
    return RequestedTree(encoded.sha256, len(encoded.data), inline)


def check_tree_bytes(size_bytes: int) -> None:
    """Refuse a tree blob larger than this server reads."""
    if size_bytes > MAX_TREE_BYTES:
        raise LimitExceeded(
            f"the input tree is {size_bytes} bytes; this server reads trees of at most "
            f"{MAX_TREE_BYTES} bytes ({MAX_TREE_FILES} files)"
        )


def check_tree_files(count: int) -> None:
    """Refuse a tree of more files than this server builds from."""
    if count > MAX_TREE_FILES:
        raise LimitExceeded(
            f"the input tree lists {count} files; this server builds from at most "
            f"{MAX_TREE_FILES} files"
        )


def check_tree(files: list[TreeFile], crate_dir: str) -> None:
    """Every path safe, every digest valid, no path twice or both a file and a directory,
    and the crate's Cargo.toml among them."""
    paths: set[str] = set()
    for file in files:
        _check_node(file)
        path = file.path
        if path in paths:
            raise ProtocolError(f"the input tree lists {path!r} twice")
        paths.add(path)
    directories = {parent for path in paths for parent in _parents(path)}
    if clash := paths & directories:
        raise ProtocolError(f"{sorted(clash)[0]!r} is both a file and a directory in the tree")
    manifest = _manifest(crate_dir)
    if manifest not in paths:
        raise ProtocolError(f"the input tree has no {manifest}")


def check_tree_change(files: list[TreeFile], added: list[TreeFile], crate_dir: str) -> None:
    """`check_tree` for a tree (`files`, sorted by path) that a checked tree became by taking
    in `added` (its files that are new or changed): only what `added` can break is checked."""
    for file in added:
        _check_node(file)
        # A clash pairs a file with one below it; the checked tree had none of its own.
        below = bisect_left(files, file.path + "/", key=_path)
        if below < len(files) and files[below].path.startswith(file.path + "/"):
            raise ProtocolError(f"{file.path!r} is both a file and a directory in the tree")
        for parent in _parents(file.path):
            if _holds(files, parent):
                raise ProtocolError(f"{parent!r} is both a file and a directory in the tree")
    if not _holds(files, _manifest(crate_dir)):
        raise ProtocolError(f"the input tree has no {_manifest(crate_dir)}")


def _check_node(file: TreeFile) -> None:
    check_tree_path(file.path)
    if not valid_digest(file.sha256, file.size_bytes):  # the message is made only when needed
        check_digest_fields(file.sha256, file.size_bytes, f"digest of {file.path}")


def _holds(files: list[TreeFile], path: str) -> bool:
    index = bisect_left(files, path, key=_path)
    return index < len(files) and files[index].path == path


def _path(file: TreeFile) -> str:
    return file.path


def _manifest(crate_dir: str) -> str:
    return "Cargo.toml" if crate_dir == "." else f"{crate_dir}/Cargo.toml"


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
