"""Which paths under a function's input directories are not inputs.

Each rule is a small callable `filter(path, is_dir) -> bool` (True = ignored) and rules compose
with `|`. The indexer and the file watcher share the one filter built by `input_filter`, so a
file that is not indexed never triggers a rebuild either.

Paths are absolute. A path below an ignored directory is ignored, so a filter gives the same
answer whether it is asked while walking a tree top-down or about one deep path (a watcher event).
A walk asks about a whole directory at once (`ignored_entries`), which lets each rule do its
work once per directory rather than once per file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from embly_build.errors import InputError

ALWAYS_IGNORED_DIR_NAMES = frozenset({".git"})


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
        self._prefixes = tuple(_prefix(t) for t in self._texts)
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
        self._root_texts = tuple((str(r), _prefix(str(r)), r) for r in self.roots)
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


class DirNameFilter(ScopedFilter):
    """Ignores directories with one of the given names."""

    def __init__(self, roots: Iterable[Path], names: Iterable[str]) -> None:
        super().__init__(roots)
        self.names = frozenset(names)

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        return is_dir and path.name in self.names

    def ignored_in(
        self, root: Path, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        return {name for name in dirs if name in self.names}


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


@dataclass(frozen=True)
class _Rules:
    """The patterns of one .gitignore, and one regex matching whatever any of them matches:
    most paths match none, and one search rules them out."""

    spec: GitIgnoreSpec
    prefilter: re.Pattern[str] | None  # None: the patterns could not be combined


class GitIgnoreFilter(ScopedFilter):
    """Honours .gitignore files as git does.

    Below a root, every directory's .gitignore applies to paths beneath it and the deepest one
    with a matching pattern decides. Above a root, .gitignore files up to the repository
    (the nearest directory holding `.git`; outside git, the project directory) apply too,
    except their patterns that match the root or a directory on the way to it: naming a
    directory as an input overrides ignoring it.

    Parsed .gitignore files and directory decisions are cached: after a .gitignore changes,
    build a new filter.
    """

    def __init__(self, roots: Iterable[Path], project_root: Path | None = None) -> None:
        super().__init__(roots)
        self._above: dict[Path, list[Path]] = {
            r: _dirs_above(r, self.roots, project_root) for r in self.roots
        }
        self._rules: dict[tuple[Path, Path | None], _Rules | None] = {}
        self._chains: dict[str, list[tuple[_Rules, int]]] = {}

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        text = str(path)
        chain = self._chain_of(root, text.rpartition("/")[0] or "/")
        return _decided(chain, text + "/" if is_dir else text)

    def ignored_in(
        self, root: Path, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        chain = self._chain_of(root, directory, files)
        if not chain:
            return set()
        base = _prefix(directory)
        candidates: dict[str, str] = {}  # name -> absolute text, with '/' for a directory
        for rules, start in chain:
            if rules.prefilter is None:
                candidates = {name: base + name + "/" for name in dirs}
                candidates.update((name, base + name) for name in files)
                break
            search = rules.prefilter.search
            relative = base[start:]
            for name in dirs:
                if search(relative + name + "/"):
                    candidates[name] = base + name + "/"
            for name in files:
                if search(relative + name):
                    candidates[name] = base + name
        return {name for name, text in candidates.items() if _decided(chain, text)}

    def _chain_of(
        self, root: Path, directory: str, files: Sequence[str] | None = None
    ) -> list[tuple[_Rules, int]]:
        """The rules that apply to `directory`'s entries, deepest .gitignore first, with where
        the path relative to that .gitignore's directory starts. `files`: the directory's
        entries other than subdirectories, when known, so a missing .gitignore is not opened."""
        chain = self._chains.get(directory)
        if chain is None:
            path = Path(directory)
            present = files is None or ".gitignore" in files
            rules = self._rules_of(path, None) if present else None
            if directory == str(root):
                above = ((self._rules_of(d, root), d) for d in reversed(self._above[root]))
                chain = [(r, len(_prefix(str(d)))) for r, d in above if r is not None]
            else:
                chain = self._chain_of(root, str(path.parent))
            if rules is not None:
                chain = [(rules, len(_prefix(directory))), *chain]
            self._chains[directory] = chain
        return chain

    def _rules_of(self, directory: Path, root: Path | None) -> _Rules | None:
        """The .gitignore of `directory`, None when it has no pattern that decides anything;
        for a directory above `root`, without the patterns that would ignore `root` itself."""
        key = (directory, root)
        if key not in self._rules:
            if root is None:
                rules = _rules(_read_gitignore(directory))
            else:
                own = self._rules_of(directory, None)
                chain = _dir_chain(directory, root)
                rules = None if own is None else _rules(_without_patterns_matching(own.spec, chain))
            self._rules[key] = rules
        return self._rules[key]


def input_filter(roots: Sequence[Path], output_dir: Path) -> IgnoreFilter:
    """The one filter for a function's input directories."""
    resolved = [r.resolve() for r in roots]
    return AnyOf(
        (
            PathFilter([output_dir.resolve()]),
            DirNameFilter(resolved, ALWAYS_IGNORED_DIR_NAMES),
            CargoTargetFilter(resolved),
            GitIgnoreFilter(resolved, project_root=output_dir.resolve().parent),
        )
    )


def _decided(chain: Sequence[tuple[_Rules, int]], text: str) -> bool:
    """Whether `text` (absolute, ending in '/' for a directory) is ignored: the deepest
    .gitignore with a pattern matching it decides."""
    for rules, start in chain:
        decided = rules.spec.check_file(text[start:]).include
        if decided is not None:
            return decided
    return False


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def _rules(spec: GitIgnoreSpec | None) -> _Rules | None:
    if spec is None or all(p.include is None for p in spec.patterns):
        return None
    return _Rules(spec, _prefilter(spec))


def _prefilter(spec: GitIgnoreSpec) -> re.Pattern[str] | None:
    sources: list[str] = []
    for pattern in spec.patterns:
        if pattern.include is None:
            continue
        regex = pattern.regex
        if regex is None or regex.flags != re.UNICODE or "(?P=" in regex.pattern:
            return None
        # Group names would clash between alternatives; the groups themselves are not needed.
        sources.append(_NAMED_GROUP.sub("(?:", regex.pattern))
    try:
        return re.compile("|".join(f"(?:{source})" for source in sources))
    except re.error:
        return None


def _dirs_above(root: Path, roots: Sequence[Path], project_root: Path | None) -> list[Path]:
    """Directories strictly above `root` whose .gitignore applies, outermost first.

    They reach up to the nearest directory holding `.git`; without one, up to the project
    directory when `root` lies in it (the project's .gitignore covers its functions), else
    up to the outermost root containing `root`, so nested roots see the same rules as the
    tree they sit in.
    """
    repository = next((d for d in (root, *root.parents) if (d / ".git").exists()), None)
    if repository is None and project_root is not None and root.is_relative_to(project_root):
        repository = project_root
    if repository is None:
        repository = min((r for r in roots if root.is_relative_to(r)), key=lambda r: len(r.parts))
    return [d for d in reversed(root.parents) if d.is_relative_to(repository)]


def _dir_chain(directory: Path, root: Path) -> list[str]:
    """`root` and the directories between `directory` and it, relative to `directory`."""
    parts = root.relative_to(directory).parts
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _without_patterns_matching(spec: GitIgnoreSpec, dirs: Sequence[str]) -> GitIgnoreSpec:
    kept = [p for p in spec.patterns if all(p.match_file(d) is None for d in dirs)]
    return GitIgnoreSpec(kept)


def _read_gitignore(directory: Path) -> GitIgnoreSpec | None:
    file = directory / ".gitignore"
    try:
        text = file.read_text(encoding="utf-8", errors="surrogateescape")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}; fix its permissions") from exc
    return GitIgnoreSpec.from_lines(text.splitlines())


def _prefix(directory: str) -> str:
    return directory.rstrip("/") + "/"
