"""Paths inside the protocol: relative, '/'-separated, no '..', NUL or empty segments.

The server checks every path with `check_tree_path` before it touches the disk.
"""

from __future__ import annotations

import re

from embly_build.errors import ProtocolError

# Build-space paths in logs and artifacts are written as this prefix followed by the
# input-tree path, whatever the server's real directory is. Clients rewrite it to their
# own files; it also keeps artifacts free of host paths.
SOURCE_ROOT = "/embly-src"

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def check_tree_path(path: str, *, allow_root: bool = False) -> str:
    """Return `path` if it is a safe relative tree path, else raise ProtocolError."""
    if allow_root and path == ".":
        return path
    problem = _tree_path_problem(path)
    if problem:
        raise ProtocolError(f"invalid path {path!r} in request: {problem}")
    return path


def _tree_path_problem(path: str) -> str | None:
    if not path:
        return "empty path"
    if "\0" in path:
        return "contains NUL"
    if "\\" in path:
        return "contains a backslash; paths are '/'-separated"
    if path.startswith("/"):
        return "absolute paths are not allowed"
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "empty, '.' or '..' segments are not allowed"
    return None


def check_name(value: str, what: str) -> str:
    """Names that become file or directory names on the server (project id, function)."""
    if not _NAME.fullmatch(value):
        raise ProtocolError(
            f"invalid {what} {value!r}: use 1-64 letters, digits, '_', '-' or '.', "
            "not starting with '.' or '-'"
        )
    return value
