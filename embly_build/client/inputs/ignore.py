"""Which paths under a function's input directories are not inputs.

The indexer and the file watcher share the one filter built by `input_filter`, so a file
that is not indexed never triggers a rebuild either.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embly_build.client.inputs.gitignore import GitIgnoreFilter
from embly_build.client.inputs.ignore_filters import (
    AnyOf,
    CargoTargetFilter,
    EditorFileFilter,
    IgnoreFilter,
    NameFilter,
    PathFilter,
)
from embly_build.client.inputs.ignore_rules import Rule
from embly_build.home import embly_home

__all__ = [
    "ALWAYS_IGNORED_NAMES",
    "IgnoreFilter",
    "NameFilter",
    "PathFilter",
    "ignoring_rule",
    "input_filter",
]

# Git's own data: a directory, or in a worktree or submodule a file naming where it lives.
ALWAYS_IGNORED_NAMES = frozenset({".git"})


def input_filter(roots: Sequence[Path], output_dir: Path) -> IgnoreFilter:
    """The one filter for a function's input directories. embly's own files are never
    inputs: the output folder, and EMBLY_HOME should it lie below an input directory (its
    files change while they would be uploaded)."""
    resolved = [r.resolve() for r in roots]
    return AnyOf(
        (
            PathFilter([output_dir.resolve(), embly_home().resolve()]),
            NameFilter(resolved, ALWAYS_IGNORED_NAMES),
            CargoTargetFilter(resolved),
            EditorFileFilter(resolved),
            GitIgnoreFilter(resolved, project_root=output_dir.resolve().parent),
        )
    )


def ignoring_rule(ignored: IgnoreFilter, path: Path) -> tuple[Path, Rule, Path] | None:
    """The ignore rule that leaves `path` out of `ignored`'s inputs as git leaves it out (see
    `GitIgnoreFilter.ignoring_rule`); None when no ignore file's rule does."""
    filters = ignored.filters if isinstance(ignored, AnyOf) else (ignored,)
    for each in filters:
        if isinstance(each, GitIgnoreFilter):
            return each.ignoring_rule(path)
    return None
