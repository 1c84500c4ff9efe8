"""Files outside a function's inputs that decide what its inputs are, for `embly watch`.

A `.gitignore` in a directory above an input directory (up to the repository, or outside git
up to the project), the repository's `.git/info/exclude`, a `Cargo.toml` there (a cargo
workspace the crate becomes a member of) and `.git` itself (where the repository begins):
a change to one of them can add or remove inputs while no input changed. So the watch
watches their directories, and indexes the functions they decide for in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from embly_build.client.inputs.gitignore import info_exclude_sources, repository_of
from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.inputs.reindex import STRUCTURAL_NAMES


@dataclass(frozen=True)
class DecidingFiles:
    # A file named in STRUCTURAL_NAMES in one of these directories decides for its functions.
    by_directory: Mapping[Path, frozenset[str]]
    # These files (a repository's info/exclude, and what says where it is) decide too.
    by_file: Mapping[Path, frozenset[str]] = field(default_factory=dict)

    def directories(self) -> set[Path]:
        """The directories to watch for them."""
        return {*self.by_directory, *(file.parent for file in self.by_file)}

    def functions_of(self, path: Path) -> frozenset[str]:
        """The functions whose inputs a change at `path` may redraw."""
        if path.name in STRUCTURAL_NAMES:
            found = self.by_directory.get(path.parent)
            if found is None:  # watched under another name (a symlink on the way)
                found = self.by_directory.get(path.parent.resolve())
            return found or frozenset()
        return self.by_file.get(path, frozenset())

    def affected(self, paths: Iterable[Path]) -> set[str]:
        return {name for path in paths for name in self.functions_of(path)}


def deciding_files(inputs: Mapping[str, FunctionInputs], project_root: Path) -> DecidingFiles:
    """Where the files that decide `inputs` (by function) are: see the module's doc."""
    by_directory: dict[Path, set[str]] = {}
    by_file: dict[Path, set[str]] = {}
    for name, function in inputs.items():
        roots = {*function.input_dirs, *(file.parent for file in function.input_files)}
        for root in (r.resolve() for r in roots):
            repository = repository_of(root)
            if repository is not None:
                top = repository
                for file in info_exclude_sources(repository):
                    by_file.setdefault(file, set()).add(name)
            elif root.is_relative_to(project_root):
                top = project_root
            else:
                top = root.parent
            for directory in root.parents:
                if not directory.is_relative_to(top):
                    break
                by_directory.setdefault(directory, set()).add(name)
    return DecidingFiles(
        {d: frozenset(names) for d, names in by_directory.items()},
        {f: frozenset(names) for f, names in by_file.items()},
    )
