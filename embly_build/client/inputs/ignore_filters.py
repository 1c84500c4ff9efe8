"""The building blocks of input filters: each rule is a callable `filter(path, is_dir) -> bool`
(True = ignored), and rules compose with `|`.

Paths are absolute. A path below an ignored directory is ignored, so a filter gives the same
answer whether it is asked while walking a tree top-down or about one deep path (a watcher event).
A walk asks about a whole directory at once (`ignored_entries`), which lets each rule do its
work once per directory rather than once per file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path


class IgnoreFilter:
    """Base of all filters: `filter(path, is_dir)` is True when `path` is not an input."""

    def __call__(self, path: Path, is_dir: bool) -> bool:
        raise NotImplementedError

    def __or__(self, other: IgnoreFilter) -> IgnoreFilter:
        return AnyOf((self, other))

    def ignored_entries(
        self, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        """The names of `directory`'s entries that are ignored: `dirs` are its subdirectories
        (symlinks to directories included), `files` everything else. `directory` is absolute
        and known not to be ignored, as in a top-down walk."""
        base = Path(directory)
        found = {name for name in dirs if self(base / name, True)}
        found.update(name for name in files if self(base / name, False))
        return found


class AnyOf(IgnoreFilter):
    """Ignores what any of its filters ignores."""

    def __init__(self, filters: Iterable[IgnoreFilter]) -> None:
        self.filters = tuple(filters)

    def __call__(self, path: Path, is_dir: bool) -> bool:
        # A plain loop: a watcher asks this for every event path.
        for f in self.filters:  # noqa: SIM110
            if f(path, is_dir):
                return True
        return False

    def ignored_entries(
        self, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        ignored: set[str] = set()
        for f in self.filters:
            found = f.ignored_entries(directory, dirs, files)
            if found:  # later filters are not asked about these, as in __call__
                ignored |= found
                dirs = [name for name in dirs if name not in found]
                files = [name for name in files if name not in found]
        return ignored


class PathFilter(IgnoreFilter):
    """Ignores the given paths and everything below them."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = tuple(paths)
        self._texts = tuple(str(p) for p in self.paths)
        self._prefixes = tuple(prefix(t) for t in self._texts)
        self._names_in: dict[str, set[str]] = {}
        for text in self._texts:
            parent, name = os.path.split(text)
            self._names_in.setdefault(parent, set()).add(name)

    def __call__(self, path: Path, is_dir: bool) -> bool:
        text = str(path)
        return text in self._texts or text.startswith(self._prefixes)

    def ignored_entries(
        self, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        if directory in self._texts or directory.startswith(self._prefixes):
            return {*dirs, *files}
        names = self._names_in.get(directory)
        if not names:
            return set()
        return {name for name in names if name in dirs or name in files}


class ScopedFilter(IgnoreFilter):
    """A rule judged on each directory between the innermost root holding `path` and `path`.

    Roots themselves are never ignored: they were named as inputs on purpose. Paths outside
    every root are not this filter's business and are never ignored.
    """

    def __init__(self, roots: Iterable[Path]) -> None:
        # Innermost first, so `_root_of` finds the deepest root containing a path.
        self.roots = tuple(sorted(set(roots), key=lambda r: len(r.parts), reverse=True))
        self._root_texts = tuple((str(r), prefix(str(r)), r) for r in self.roots)
        self._roots_in: dict[str, set[str]] = {}
        for root in self.roots:
            self._roots_in.setdefault(str(root.parent), set()).add(root.name)
        self._dir_decisions: dict[str, bool] = {}

    def __call__(self, path: Path, is_dir: bool) -> bool:
        text = str(path)
        if is_dir:
            known = self._dir_decisions.get(text)
            if known is None:
                known = self._dir_decisions[text] = self._decide(path, text, True)
            return known
        return self._decide(path, text, False)

    def ignored_entries(
        self, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        root = self._root_of(directory)
        if root is None:
            return set()
        found = self.ignored_in(root[2], directory, dirs, files)
        roots_here = self._roots_in.get(directory)
        return found - roots_here if found and roots_here else found

    def ignored_in(
        self, root: Path, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        """`ignored_entries` for a directory inside `root`, by `ignores` one entry at a time;
        rules that can judge a directory at once override it."""
        base = Path(directory)
        found = {name for name in dirs if self.ignores(root, base / name, True)}
        found.update(name for name in files if self.ignores(root, base / name, False))
        return found

    def _decide(self, path: Path, text: str, is_dir: bool) -> bool:
        root = self._root_of(text)
        if root is None:
            return False
        root_text, _, root_path = root
        if text == root_text:
            return False
        parent_text = text.rpartition("/")[0] or "/"
        if parent_text != root_text:
            known = self._dir_decisions.get(parent_text)
            if known is None:
                known = self(path.parent, True)
            if known:
                return True
        return self.ignores(root_path, path, is_dir)

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        """Whether `path` itself is ignored, its parent directories being known not to be."""
        raise NotImplementedError

    def _root_of(self, text: str) -> tuple[str, str, Path] | None:
        for root in self._root_texts:
            if text == root[0] or text.startswith(root[1]):
                return root
        return None


class NameFilter(ScopedFilter):
    """Ignores files and directories with one of the given names."""

    def __init__(self, roots: Iterable[Path], names: Iterable[str]) -> None:
        super().__init__(roots)
        self.names = frozenset(names)

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        return path.name in self.names

    def ignored_in(
        self, root: Path, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        return {name for name in (*dirs, *files) if name in self.names}


class CargoTargetFilter(ScopedFilter):
    """Ignores cargo's output: a directory named `target` next to a Cargo.toml."""

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        return is_dir and path.name == "target" and (path.parent / "Cargo.toml").is_file()

    def ignored_in(
        self, root: Path, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        if "target" in dirs and Path(directory, "Cargo.toml").is_file():
            return {"target"}
        return set()


# Files editors keep next to the ones being edited. Never build inputs: a vim swap file is
# rewritten as you type (each write would start a build) and an Emacs lock is a symlink to
# nowhere (a dangling link stops an index).
EDITOR_FILES = re.compile(
    r"\..+\.sw[a-p]"  # vim swap files: .main.rs.swp, .main.rs.swo, ...
    r"|4913"  # vim's probe for whether it may write in a directory
    r"|.+~"  # backups (vim, Emacs, many others)
    r"|\.#.+|#.+#"  # Emacs lock links and auto-save files
    r"|.+___jb_(?:tmp|old)___"  # JetBrains IDEs' safe write
    r"|\..+\.kate-swp"  # Kate
    r"|\.DS_Store"  # macOS Finder
)


class EditorFileFilter(ScopedFilter):
    """Ignores the temporary, swap, lock and backup files of editors (`EDITOR_FILES`)."""

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        return not is_dir and EDITOR_FILES.fullmatch(path.name) is not None

    def ignored_in(
        self, root: Path, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        match = EDITOR_FILES.fullmatch
        return {name for name in files if match(name)}


def prefix(directory: str) -> str:
    return directory.rstrip("/") + "/"
