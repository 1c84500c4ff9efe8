"""`.gitignore` files as git reads them, as an input filter: inside a git work tree the
files kept are those `git ls-files --cached --others --exclude-standard` lists, outside one
those it would list were the directory a repository of its own.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from embly_build.client.inputs.git_repository import (
    TrackedPaths,
    excludes_file,
    holds_work_tree,
    info_exclude,
    info_exclude_sources,
    repository_of,
    tracked_paths,
)
from embly_build.client.inputs.ignore_filters import ScopedFilter, prefix
from embly_build.client.inputs.ignore_rules import IgnoreRules, Rule, parse_ignore_file
from embly_build.client.inputs.input_warnings import warn_once
from embly_build.errors import InputError

__all__ = ["GitIgnoreFilter", "info_exclude_sources", "repository_of"]

# Rules of one ignore file, and where a path relative to its directory starts in an absolute
# path (as bytes).
_Chain = tuple[tuple[IgnoreRules, int], ...]
_ENCODING = "utf-8"  # of file names on Linux, as os.fsencode has it


@dataclass(frozen=True)
class _Scope:
    """What decides for the entries of one directory."""

    chain: _Chain  # the deepest .gitignore first, the repository's exclude files last
    excluded: bool  # the directory itself is ignored: walked only for tracked files below it
    repository: str | None  # its work tree, ending in '/', when in one


class GitIgnoreFilter(ScopedFilter):
    """Honours ignore files as git does.

    Below a root, every directory's .gitignore applies to paths beneath it and the deepest
    one with a matching pattern decides; then the repository's `info/exclude` and the user's
    excludes file. An ignored directory's contents are ignored, whatever a `!` pattern says.
    Above a root, .gitignore files up to the work tree (outside git, the project directory)
    apply too, but the root and the directories on the way to it are never ignored: naming
    a directory as an input overrides ignoring it, not the rules for what is in it.

    In a git work tree, a tracked file is kept even when a rule ignores it, as git lists it.
    A directory holding `.git` below a root (a submodule) is a work tree of its own: the
    rules from outside stop there.

    Parsed ignore files and directory decisions are cached: after one changes, build a new
    filter.
    """

    def __init__(self, roots: Iterable[Path], project_root: Path | None = None) -> None:
        super().__init__(roots)
        self._project_root = project_root
        self._scopes: dict[str, _Scope] = {}
        self._files: dict[Path, IgnoreRules | None] = {}
        self._tracked: dict[str, TrackedPaths] = {}

    def ignores(self, root: Path, path: Path, is_dir: bool) -> bool:
        directory, _, name = str(path).rpartition("/")
        directory = directory or "/"
        names = [name]
        dirs, files = (names, []) if is_dir else ([], names)
        return bool(self._ignored(self._scope_of(root, directory), directory, dirs, files))

    def ignored_in(
        self, root: Path, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        return self._ignored(self._scope_of(root, directory, files), directory, dirs, files)

    def _ignored(
        self, scope: _Scope, directory: str, dirs: Sequence[str], files: Sequence[str]
    ) -> set[str]:
        if scope.excluded:
            excluded_dirs, excluded_files = list(dirs), list(files)
        elif not scope.chain:
            return set()
        else:
            base = os.fsencode(prefix(directory))
            excluded_dirs = _excluded(scope.chain, base, dirs, True)
            excluded_files = _excluded(scope.chain, base, files, False)
        if not excluded_dirs and not excluded_files:
            return set()
        if scope.repository is None:
            return {*excluded_dirs, *excluded_files}
        tracked = self._tracked_in(scope.repository)
        below = prefix(directory)[len(scope.repository) :]
        ignored = {n for n in excluded_files if below + n not in tracked}
        ignored.update(n for n in excluded_dirs if not tracked.holds(below + n))
        return ignored

    def _scope_of(self, root: Path, directory: str, files: Sequence[str] | None = None) -> _Scope:
        """`files`: the directory's entries other than subdirectories, when known, so that a
        missing .gitignore is not looked for."""
        scope = self._scopes.get(directory)
        if scope is not None:
            return scope
        if directory == str(root):
            scope = self._root_scope(root)
        elif holds_work_tree(directory):
            scope = self._repository_scope(Path(directory))
        else:
            parent_text, _, name = directory.rpartition("/")
            parent = self._scope_of(root, parent_text or "/")
            base = os.fsencode(prefix(parent_text))
            excluded = parent.excluded or bool(_excluded(parent.chain, base, [name], True))
            scope = _Scope(parent.chain, excluded, parent.repository)
        if files is None or ".gitignore" in files:
            rules = self._rules(Path(directory, ".gitignore"), in_work_tree=True)
            if rules is not None:
                own = (rules, len(os.fsencode(prefix(directory))))
                scope = _Scope((own, *scope.chain), scope.excluded, scope.repository)
        self._scopes[directory] = scope
        return scope

    def _root_scope(self, root: Path) -> _Scope:
        """The rules of the directories above `root`, deepest first, then its repository's."""
        repository = repository_of(root)
        top = repository or _outside_git_top(root, self.roots, self._project_root)
        above = [d for d in root.parents if d.is_relative_to(top)]  # deepest first
        chain = [
            (rules, len(os.fsencode(prefix(str(d)))))
            for d in above
            if (rules := self._rules(d / ".gitignore", in_work_tree=True)) is not None
        ]
        if repository is None:
            return _Scope(tuple(chain), False, None)
        return _Scope(
            (*chain, *self._repository_scope(repository).chain), False, prefix(str(repository))
        )

    def _repository_scope(self, repository: Path) -> _Scope:
        """A work tree's own exclude files (its info/exclude, then the user's excludes file)."""
        start = len(os.fsencode(prefix(str(repository))))
        files = [info_exclude(repository), excludes_file(repository)]
        chain = tuple(
            (rules, start)
            for file in files
            if file is not None and (rules := self._rules(file, in_work_tree=False)) is not None
        )
        return _Scope(chain, False, prefix(str(repository)))

    def ignoring_rule(self, path: Path) -> tuple[Path, Rule, Path] | None:
        """Why git does not list `path`, a path below one of the roots: the first of the
        directories on the way to it from the top of its work tree (outside git, of the
        project), or `path` itself, that a rule ignores; that rule; and the directory its
        patterns are relative to. None when no rule ignores them."""
        root = next((r for r in self.roots if path.is_relative_to(r)), None)
        if root is None:
            return None
        repository = repository_of(root)
        directory = repository or _outside_git_top(root, self.roots, self._project_root)
        chain = list(self._repository_scope(directory).chain) if repository else []
        for part in path.relative_to(directory).parts:
            rules = self._rules(directory / ".gitignore", in_work_tree=True)
            base = os.fsencode(prefix(str(directory)))
            if rules is not None:
                chain.insert(0, (rules, len(base)))
            entry = directory / part
            for rules, start in chain:
                rule = rules.rule_for(base[start:], os.fsencode(part), entry != path)
                if rule is not None:
                    if rule.excludes:
                        return entry, rule, Path(os.fsdecode(base[:start]))
                    break
            directory = entry
            if holds_work_tree(directory):  # a work tree of its own: the rules above stop
                chain = list(self._repository_scope(directory).chain)
        return None

    def _rules(self, file: Path, in_work_tree: bool) -> IgnoreRules | None:
        if file not in self._files:
            self._files[file] = _read_rules(file, in_work_tree)
        return self._files[file]

    def _tracked_in(self, repository: str) -> TrackedPaths:
        tracked = self._tracked.get(repository)
        if tracked is None:
            tracked = self._tracked[repository] = tracked_paths(Path(repository))
        return tracked


def _excluded(chain: _Chain, base: bytes, names: Sequence[str], is_dir: bool) -> list[str]:
    """Those of `names`, entries of the directory `base` (absolute, ending in '/'), that are
    excluded: for each, the deepest ignore file with a matching pattern decides."""
    undecided = [name.encode(_ENCODING, "surrogateescape") for name in names]
    positions = list(range(len(names)))  # of each undecided name in `names`
    excluded: list[str] = []
    for rules, start in chain:
        decided = rules.decided(base[start:], undecided, is_dir)
        if decided:
            excluded.extend(names[positions[i]] for i, e in decided.items() if e)
            left = [i for i in range(len(undecided)) if i not in decided]
            undecided = [undecided[i] for i in left]
            positions = [positions[i] for i in left]
            if not undecided:
                break
    return excluded


def _outside_git_top(root: Path, roots: Sequence[Path], project_root: Path | None) -> Path:
    """Outside git, where .gitignore files start to apply to `root`: the project directory
    when `root` lies in it (the project's .gitignore covers its functions), else the
    outermost root containing `root`, so nested roots see the same rules as the tree they
    sit in."""
    if project_root is not None and root.is_relative_to(project_root):
        return project_root
    return min((r for r in roots if root.is_relative_to(r)), key=lambda r: len(r.parts))


def _read_rules(file: Path, in_work_tree: bool) -> IgnoreRules | None:
    """The rules of an ignore file; None when it is absent or has none. git does not
    follow a .gitignore that is a symlink (in a work tree), so neither does this."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (os.O_NOFOLLOW if in_work_tree else 0)
    try:
        fd = os.open(file, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            warn_once(f"{file} is a symlink, which git does not follow: its patterns are not used")
            return None
        raise InputError(f"cannot read {file}: {exc.strerror}; fix its permissions") from exc
    try:
        with os.fdopen(fd, "rb") as opened:
            data = opened.read()
    except IsADirectoryError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}; fix its permissions") from exc
    rules, problems = parse_ignore_file(data, file)
    for problem in problems:
        warn_once(str(problem))
    return rules
