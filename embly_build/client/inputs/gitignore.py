"""`.gitignore` files as git reads them, as an input filter."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from embly_build.client.inputs.ignore_filters import ScopedFilter, prefix
from embly_build.errors import InputError


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
    and last the repository's `.git/info/exclude` (a worktree's is its main repository's),
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
        self._repositories = {r: repository_of(r) for r in self.roots}
        self._rules: dict[tuple[Path, Path | None], _Rules | None] = {}
        self._excludes: dict[tuple[Path, Path], _Rules | None] = {}
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
        base = prefix(directory)
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
                chain = [(r, len(prefix(str(d)))) for r, d in above if r is not None]
                repository = self._repositories[root]
                exclude = self._exclude_of(repository, root) if repository else None
                if repository is not None and exclude is not None:
                    chain.append((exclude, len(prefix(str(repository)))))
            else:
                chain = self._chain_of(root, str(path.parent))
            if rules is not None:
                chain = [(rules, len(prefix(directory))), *chain]
            self._chains[directory] = chain
        return chain

    def _exclude_of(self, repository: Path, root: Path) -> _Rules | None:
        """The repository's .git/info/exclude, without the patterns that would ignore `root`."""
        key = (repository, root)
        if key not in self._excludes:
            spec = _read_patterns(_info_exclude(repository))
            if spec is not None:
                spec = _without_patterns_matching(spec, _dir_chain(repository, root))
            self._excludes[key] = _rules(spec)
        return self._excludes[key]

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
    repository = repository_of(root)
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


def repository_of(root: Path) -> Path | None:
    """The nearest directory at or above `root` holding `.git`: a directory, or the file that
    points a worktree or a submodule to its git directory."""
    return next((d for d in (root, *root.parents) if (d / ".git").exists()), None)


def _info_exclude(repository: Path) -> Path:
    """The info/exclude git reads for `repository`: a worktree shares its main repository's."""
    return info_exclude_sources(repository)[-1]


def info_exclude_sources(repository: Path) -> list[Path]:
    """The files that decide which info/exclude git reads for `repository` (a worktree shares
    its main repository's), that file last."""
    git_dir = repository / ".git"
    if git_dir.is_file():
        git_dir = _linked_git_dir(git_dir)
    try:
        common = git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        common = git_dir
    return [git_dir / "commondir", common / "info" / "exclude"]


def _linked_git_dir(git_file: Path) -> Path:
    """The directory a `.git` file names (`gitdir: PATH`, relative to the file's directory);
    the file itself when it names none, where no info/exclude will be found."""
    try:
        text = git_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return git_file
    if not text.startswith("gitdir:"):
        return git_file
    return git_file.parent / text.removeprefix("gitdir:").strip()


def _read_gitignore(directory: Path) -> GitIgnoreSpec | None:
    return _read_patterns(directory / ".gitignore")


def _read_patterns(file: Path) -> GitIgnoreSpec | None:
    try:
        text = file.read_text(encoding="utf-8", errors="surrogateescape")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}; fix its permissions") from exc
    return GitIgnoreSpec.from_lines(text.splitlines())
