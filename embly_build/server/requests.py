"""Validation of a BuildRequest: every name and path is checked before the disk is touched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from embly_build.errors import ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.digests import check_digest
from embly_build.protocol.opt_levels import WASM_OPT_LEVELS
from embly_build.protocol.paths import check_name, check_tree_path
from embly_build.server.runtimes.base import Runtime

_TARGET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


@dataclass(frozen=True)
class ValidBuild:
    project_id: str
    function: pb.FunctionSpec
    runtime: Runtime
    tree: pb.InputTree
    target: str
    options: pb.BuildOptions


def validate_build(request: pb.BuildRequest, runtimes: Mapping[str, Runtime]) -> ValidBuild:
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
    tree = request.input_tree or pb.InputTree()
    _check_tree(tree, function.path)
    if not request.target or not set(request.target) <= _TARGET_CHARS:
        raise ProtocolError(f"invalid target triple {request.target!r}")
    options = request.options or pb.BuildOptions()
    if options.opt_level and options.opt_level not in WASM_OPT_LEVELS:
        raise ProtocolError(f"invalid wasm-opt level {options.opt_level!r}")
    return ValidBuild(request.project_id, function, runtime, tree, request.target, options)


def _check_tree(tree: pb.InputTree, crate_dir: str) -> None:
    paths: set[str] = set()
    for node in tree.files:
        check_tree_path(node.path)
        check_digest(node.digest, f"digest of {node.path}")
        if node.path in paths:
            raise ProtocolError(f"the input tree lists {node.path!r} twice")
        paths.add(node.path)
    directories = {parent for path in paths for parent in _parents(path)}
    if clash := paths & directories:
        raise ProtocolError(f"{sorted(clash)[0]!r} is both a file and a directory in the tree")
    manifest = "Cargo.toml" if crate_dir == "." else f"{crate_dir}/Cargo.toml"
    if manifest not in paths:
        raise ProtocolError(f"the input tree has no {manifest}")


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
