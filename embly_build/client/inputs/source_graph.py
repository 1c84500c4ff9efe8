"""The source graph: which functions each input file belongs to.

Built from the functions' indexed inputs (their crate, `sources` and local Cargo path
dependencies). A change to a shared crate selects every function that uses it; a change
inside one function's crate selects only that function; an ignored file selects nothing.
New files count too: a path belongs to a function when it lies under one of the function's
input directories and that function's ignore rules keep it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from embly_build.client.inputs.ignore import IgnoreFilter, input_filter
from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.inputs.index_delta import IndexDelta
from embly_build.client.inputs.walk import IndexedFile


@dataclass(frozen=True)
class _FunctionScope:
    roots: tuple[Path, ...]
    ignored: IgnoreFilter


class SourceGraph:
    def __init__(self, inputs: Mapping[str, FunctionInputs], output_dir: Path) -> None:
        self._scopes = {
            name: _FunctionScope(
                roots=tuple(d.resolve() for d in function.input_dirs),
                ignored=input_filter(function.input_dirs, output_dir),
            )
            for name, function in inputs.items()
        }
        self._files: dict[str, set[str]] = {}  # by real path
        # By function: the real path of each of its files that is not at its real path.
        self._resolved: dict[str, dict[str, str]] = {}
        for name, function in inputs.items():
            self._add(name, function, function.files)
        # Directories holding single input files (a cargo workspace's root files).
        self._file_dirs = {f.parent for i in inputs.values() for f in i.input_files}

    def replace(
        self, name: str, old: FunctionInputs, new: FunctionInputs, delta: IndexDelta
    ) -> bool:
        """Take `new` as function `name`'s inputs in place of `old`, whose files differ by
        `delta`, when its input directories and single files stayed as they were and its
        ignore rules did (the caller knows); else False, having changed nothing."""
        if old.input_dirs != new.input_dirs or old.input_files != new.input_files:
            return False
        resolved = self._resolved.setdefault(name, {})
        for file in delta.removed:
            # Where it was: a symlink removed since cannot be resolved any more.
            real = resolved.pop(file.location, file.location)
            names = self._files.get(real)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._files[real]
        self._add(name, new, delta.added)
        return True

    def _add(self, name: str, function: FunctionInputs, files: Iterable[IndexedFile]) -> None:
        """Add these input files of `function`, named `name`, by their real paths. Resolving
        every path would take a `stat` per component of each: most of the time `embly watch`
        took after a save in a function of 10,000 files. A file in a directory the index
        walked with no symlink on the way or in it is at its real path already; only the
        others are resolved."""
        walked = function.walked
        resolved = self._resolved.setdefault(name, {})
        for file in files:
            location = file.location
            directory = walked.get(os.path.dirname(location))
            if directory is None or directory.volatile:
                real = os.path.realpath(location)
                if real != location:
                    resolved[location] = real
                location = real
            self._files.setdefault(location, set()).add(name)

    def functions_of(self, path: Path) -> set[str]:
        """The functions a changed (added, edited or deleted) path belongs to."""
        resolved = path.resolve()
        known = self._files.get(str(resolved))
        if known is not None:
            return set(known)
        return {
            name
            for name, scope in self._scopes.items()
            if any(resolved.is_relative_to(root) for root in scope.roots)
            # A filter also ignores whatever lies below a directory it ignores.
            and not scope.ignored(resolved, resolved.is_dir())
        }

    def affected(self, paths: Iterable[Path]) -> set[str]:
        selected: set[str] = set()
        for path in paths:
            selected |= self.functions_of(path)
        return selected

    def input_dirs(self) -> set[Path]:
        """Every directory whose changes matter, for a watcher."""
        return {root for scope in self._scopes.values() for root in scope.roots} | self._file_dirs
