"""Files outside a function's inputs that decide what its inputs are, for `embly watch`.

A `.gitignore` in a directory above an input directory (up to the repository, or outside git
up to the project), the repository's `.git/info/exclude`, a `Cargo.toml` there (a cargo
workspace the crate becomes a member of) and `.git` itself (where the repository begins):
a change to one of them can add or remove inputs while no input changed. So can a cargo
config file made in a `.cargo` directory above the crate (see `cargo_config.py`), or that
directory itself. So the watch watches their directories, and indexes the functions they
decide for in full.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from embly_build.client.inputs.cargo_config import CONFIG_NAMES, config_top
from embly_build.client.inputs.gitignore import info_exclude_sources, repository_of
from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.inputs.reindex import STRUCTURAL_NAMES


@dataclass(frozen=True)
class DecidingFiles:
    # A file named in STRUCTURAL_NAMES in one of these directories decides for its functions.
    by_directory: Mapping[Path, frozenset[str]]
    # These files (a repository's info/exclude, and what says where it is) decide too.
    by_file: Mapping[Path, frozenset[str]] = field(default_factory=dict)
    # A `.cargo` directory, and a config file in it, in one of these directories decide.
    by_config_directory: Mapping[Path, frozenset[str]] = field(default_factory=dict)

    def directories(self) -> set[Path]:
        """The directories to watch for them (a `.cargo` directory only while it exists)."""
        dot_cargo = {d / ".cargo" for d in self.by_config_directory}
        return {
            *self.by_directory,
            *(file.parent for file in self.by_file),
            *self.by_config_directory,
            *(d for d in dot_cargo if d.is_dir()),
        }

    def functions_of(self, path: Path) -> frozenset[str]:
        """The functions whose inputs a change at `path` may redraw."""
        if path.name in STRUCTURAL_NAMES:
            return _found(self.by_directory, path.parent)
        if path.name == ".cargo":
            return _found(self.by_config_directory, path.parent)
        if path.name in CONFIG_NAMES and path.parent.name == ".cargo":
            found = _found(self.by_config_directory, path.parent.parent)
            if found:
                return found
        return self.by_file.get(path, frozenset())

    def affected(self, paths: Iterable[Path]) -> set[str]:
        return {name for path in paths for name in self.functions_of(path)}

    def watch_more(self, paths: Iterable[Path]) -> bool:
        """Whether one of `paths` is a `.cargo` directory that appeared: watching must start
        again to see the config files made in it."""
        return any(
            path.name == ".cargo" and path.parent in self.by_config_directory and path.is_dir()
            for path in paths
        )


def _found(by_directory: Mapping[Path, frozenset[str]], directory: Path) -> frozenset[str]:
    found = by_directory.get(directory)
    if found is None:  # watched under another name (a symlink on the way)
        found = by_directory.get(directory.resolve())
    return found or frozenset()


def deciding_files(inputs: Mapping[str, FunctionInputs], project_root: Path) -> DecidingFiles:
    """Where the files that decide `inputs` (by function) are: see the module's doc."""
    by_directory: dict[Path, set[str]] = {}
    by_file: dict[Path, set[str]] = {}
    by_config_directory: dict[Path, set[str]] = {}
    for name, function in inputs.items():
        # Above the crate: in and below it, a new `.cargo` is found by the walk of its inputs.
        crate = (function.root / function.crate_dir).resolve()
        top = config_top(crate, project_root)
        for directory in crate.parents:
            if not directory.is_relative_to(top):
                break
            by_config_directory.setdefault(directory, set()).add(name)
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
        {d: frozenset(names) for d, names in by_config_directory.items()},
    )
