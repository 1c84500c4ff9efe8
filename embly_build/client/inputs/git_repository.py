"""What decides, beside `.gitignore` files, which files of a git work tree git lists: the
repository's `info/exclude`, the user's excludes file (`core.excludesFile`), and the index
(a tracked file is listed even when an ignore rule matches it).

git itself is asked for the two things only it knows for sure: its configured excludes
file and the tracked paths. Each answer is kept for the process (the tracked paths for as
long as the index file is unchanged), so a watch's re-index after a save asks nothing.
When git cannot be asked (not installed, a broken index, a repository it refuses), the
inputs are chosen without the tracked paths, and a warning says so once.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from embly_build.client.inputs.input_warnings import warn_once

_GIT_TIMEOUT_S = 60
_OBJECT_ID = re.compile(rb"[0-9a-f]{40}")  # git's get_oid_hex: SHA-1 ids, or SHA-256's start
# Variables that would point git at another repository than the one found from the files.
_LOCATION_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")


def repository_of(root: Path) -> Path | None:
    """The nearest directory at or above `root` that is the top of a git work tree."""
    return next((d for d in (root, *root.parents) if holds_work_tree(d)), None)


def holds_work_tree(directory: Path | str) -> bool:
    """Whether `directory` is the top of a git work tree as git decides it (setup.c, dir.c):
    its `.git` is a git directory, or a file pointing a worktree or a submodule to one. An
    empty, broken or unreadable `.git` is not one: git lists what is beside it under the
    outer repository's rules."""
    git = os.path.join(directory, ".git")
    try:
        mode = os.stat(git).st_mode  # one call where there is none, as in most directories
    except OSError:
        return False
    if stat.S_ISREG(mode):
        linked = _linked_git_dir(Path(git))
        return linked != Path(git) and _is_git_directory(linked)
    return stat.S_ISDIR(mode) and _is_git_directory(Path(git))


def _is_git_directory(path: Path) -> bool:
    """As git's is_git_directory: objects/ and refs/ searchable (in it or, for a linked
    worktree's, in the common directory its `commondir` names) and a valid HEAD. Never
    raises: what cannot be read is no repository, as git says."""
    common = _common_dir(path)
    try:
        searchable = os.access(common / "objects", os.X_OK) and os.access(common / "refs", os.X_OK)
    except ValueError:  # a NUL in what a gitfile or commondir names
        return False
    return searchable and _valid_head(path / "HEAD")


def _valid_head(head: Path) -> bool:
    """As git's validate_headref: a symlink into refs/ (made or not), `ref: refs/...`, or
    an object id."""
    try:
        if os.path.islink(head):
            return os.readlink(head).startswith("refs/")
        with open(head, "rb") as opened:
            start = opened.read(256)
    except (OSError, ValueError):
        return False
    if start.startswith(b"ref:"):
        return start[4:].lstrip(b" \t").startswith(b"refs/")
    return _OBJECT_ID.match(start) is not None


def _common_dir(git_directory: Path) -> Path:
    try:
        named = (git_directory / "commondir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError, ValueError):
        return git_directory
    return git_directory / named


def git_dir(repository: Path) -> Path:
    """The git directory of a work tree: `.git`, or where a `.git` file points (a linked
    worktree's or a submodule's)."""
    git = repository / ".git"
    return _linked_git_dir(git) if git.is_file() else git


def info_exclude_sources(repository: Path) -> list[Path]:
    """The repository's own files that decide which of its paths git ignores: what says
    where its info/exclude is (a worktree shares its main repository's), its index (the
    tracked files), the user's excludes file, and its info/exclude, that one last."""
    directory = git_dir(repository)
    common = _common_dir(directory)
    excludes = excludes_file(repository)
    return [
        directory / "commondir",
        directory / "index",
        *([excludes] if excludes is not None else []),
        common / "info" / "exclude",
    ]


def info_exclude(repository: Path) -> Path:
    return info_exclude_sources(repository)[-1]


_excludes_files: dict[Path, Path | None] = {}


def excludes_file(repository: Path) -> Path | None:
    """The user's excludes file git reads for `repository` (`core.excludesFile`, by default
    `$XDG_CONFIG_HOME/git/ignore`); None when there can be none."""
    if repository in _excludes_files:
        return _excludes_files[repository]
    configured = _git(repository, "config", "--path", "--get", "core.excludesFile")
    if isinstance(configured, bytes) and configured.strip(b"\n"):
        found: Path | None = repository / os.fsdecode(configured.rstrip(b"\n"))
    else:
        found = _default_excludes_file()
    _excludes_files[repository] = found
    return found


def _default_excludes_file() -> Path | None:
    config_home = os.environ.get("XDG_CONFIG_HOME")
    if config_home:
        return Path(config_home, "git", "ignore")
    home = os.environ.get("HOME")
    return Path(home, ".config", "git", "ignore") if home else None


@dataclass(frozen=True)
class TrackedPaths:
    """The paths of a repository's index, relative to its work tree, sorted."""

    paths: tuple[str, ...] = ()

    def __contains__(self, path: object) -> bool:
        i = bisect.bisect_left(self.paths, path) if isinstance(path, str) else len(self.paths)
        return i < len(self.paths) and self.paths[i] == path

    def holds(self, directory: str) -> bool:
        """Whether a tracked path lies below `directory`, or is it (a submodule)."""
        if directory in self:
            return True
        below = directory + "/"
        i = bisect.bisect_left(self.paths, below)
        return i < len(self.paths) and self.paths[i].startswith(below)


_NOTHING_TRACKED = TrackedPaths()
_tracked: dict[Path, tuple[tuple[int, int, int, int], TrackedPaths]] = {}
_tracked_lock = threading.Lock()


def tracked_paths(repository: Path) -> TrackedPaths:
    """The paths `repository`'s index holds, as `git ls-files --cached` lists them."""
    index = git_dir(repository) / "index"
    try:
        info = os.stat(index)
    except OSError:
        return _NOTHING_TRACKED  # nothing added yet
    key = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    with _tracked_lock:
        known = _tracked.get(index)
    if known is not None and known[0] == key:
        return known[1]
    listed = _git(repository, "ls-files", "-z", "--cached")
    if isinstance(listed, str):
        warn_once(
            f"cannot ask git which files {repository} tracks ({listed}): a tracked file that "
            ".gitignore matches is left out of the inputs"
        )
        tracked = _NOTHING_TRACKED
    else:
        tracked = TrackedPaths(tuple(sorted(os.fsdecode(p) for p in listed.split(b"\0") if p)))
    with _tracked_lock:
        _tracked[index] = (key, tracked)
    return tracked


def forget_answers() -> None:
    """Ask git again from now on, as a new process would (for measurements)."""
    with _tracked_lock:
        _tracked.clear()
        _excludes_files.clear()


def _git(repository: Path, *arguments: str) -> bytes | str:
    """git's output, run in `repository`; why not, in words, when it fails (but for
    `git config` finding nothing)."""
    environment = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARIABLES}
    try:
        done = subprocess.run(
            ["git", *arguments],
            cwd=repository,
            env=environment,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        return "git is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        return said[0] if said else f"git exited with status {done.returncode}"
    return done.stdout


def _linked_git_dir(git_file: Path) -> Path:
    """The directory a `.git` file names (`gitdir: PATH`, relative to the file's directory);
    the file itself when it names none, where no info/exclude will be found."""
    try:
        text = git_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return git_file
    if not text.startswith("gitdir: "):  # git reads no other form (setup.c)
        return git_file
    return git_file.parent / text.removeprefix("gitdir: ").strip()
