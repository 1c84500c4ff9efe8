"""Which paths under a function's input directories are not inputs.

Each rule is a small callable `filter(path, is_dir) -> bool` (True = ignored) and rules compose
with `|`. The indexer and the file watcher share the one filter built by `input_filter`, so a
file that is not indexed never triggers a rebuild either.

Paths are absolute. A path below an ignored directory is ignored, so a filter gives the same
answer whether it is asked while walking a tree top-down or about one deep path (a watcher event).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


class AnyOf(IgnoreFilter):
    """Ignores what any of its filters ignores."""

    def __init__(self, filters: Iterable[IgnoreFilter]) -> None:
        self.filters = tuple(filters)

    def __call__(self, path: Path, is_dir: bool) -> bool:
        # A plain loop: this runs for every file of every index, and any() with a generator
        # costs a measurable share of a warm index.
        for f in self.filters:  # noqa: SIM110
            if f(path, is_dir):
                return True
        return False


class PathFilter(IgnoreFilter):
    """Ignores the given paths and everything below them."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = tuple(paths)
        self._texts = tuple(str(p) for p in self.paths)
        self._prefixes = tuple(_prefix(t) for t in self._texts)

    def __call__(self, path: Path, is_dir: bool) -> bool:
        text = str(path)
        return text in self._texts or text.startswith(self._prefixes)


class ScopedFilter(IgnoreFilter):
    """A rule judged on each directory between the innermost root holding `path` and `path`.

    Roots themselves are never ignored: they were named as inputs on purpose. Paths outside
    every root are not this filter's business and are never ignored.
    """

    def __init__(self, roots: Iterable[Path]) -> None:
        # Innermost first, so `_root_of` finds the deepest root containing a path.
        self.roots = tuple(sorted(set(roots), key=lambda r: len(r.parts), reverse=True))
        self._root_texts = tuple((str(r), _prefix(str(r)), r) for r in self.roots)
        self._dir_decisions: dict[str, bool] = {}

    def __call__(self, path: Path, is_dir: bool) -> bool:
        text = str(path)
        if is_dir:
            known = self._dir_decisions.get(text)
            if known is None:
                known = self._dir_decisions[text] = self._decide(path, text, True)
            return known
        return self._decide(path, text, False)

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


class CargoTargetFilter(ScopedFilter):
    """Ignores cargo's output: a directory named `target` next to a Cargo.toml."""

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        return is_dir and path.name == "target" and (path.parent / "Cargo.toml").is_file()


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
        self._specs: dict[tuple[Path, Path | None], GitIgnoreSpec | None] = {}
        self._chains: dict[str, list[tuple[GitIgnoreSpec, int]]] = {}

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        # Deepest .gitignore first: the first one with a matching pattern decides.
        text = str(path)
        parent = text.rpartition("/")[0] or "/"
        chain = self._chains.get(parent)
        if chain is None:
            chain = self._chains[parent] = self._chain(root, path.parent)
        suffix = "/" if is_dir else ""
        for spec, start in chain:
            decided = spec.check_file(text[start:] + suffix).include
            if decided is not None:
                return decided
        return False

    def _chain(self, root: Path, directory: Path) -> list[tuple[GitIgnoreSpec, int]]:
        """The specs that apply below `directory`, deepest first, with where the path relative
        to each one's directory starts."""
        chain: list[tuple[GitIgnoreSpec | None, Path]] = []
        while True:
            chain.append((self._spec(directory, None), directory))
            if directory == root:
                break
            directory = directory.parent
        chain.extend((self._spec(above, root), above) for above in reversed(self._above[root]))
        return [(spec, len(_prefix(str(d)))) for spec, d in chain if spec is not None]

    def _spec(self, directory: Path, root: Path | None) -> GitIgnoreSpec | None:
        """The .gitignore of `directory`; for a directory above `root`, without the patterns
        that would ignore `root` itself."""
        key = (directory, root)
        if key not in self._specs:
            spec = _read_gitignore(directory) if root is None else self._spec(directory, None)
            if spec is not None and root is not None:
                spec = _without_patterns_matching(spec, _dir_chain(directory, root))
            self._specs[key] = spec
        return self._specs[key]


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
