"""The file index of one function: every input file with its sha256, relative to one root."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from embly_build.client.cargo_deps import local_path_dependencies
from embly_build.client.ignore import IgnoreFilter, input_filter
from embly_build.errors import InputError

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class IndexedFile:
    path: str  # relative to the tree root, '/'-separated, never '..', never absolute
    absolute: Path  # where the bytes are on this machine
    sha256: str  # lowercase hex
    size: int
    executable: bool  # owner-executable bit


@dataclass(frozen=True)
class FunctionInputs:
    root: Path  # common ancestor of all input directories
    crate_dir: str  # the function's crate directory relative to root ('.' if equal)
    input_dirs: tuple[Path, ...]  # crate dir, each `sources` dir, each local path dependency
    files: tuple[IndexedFile, ...]  # sorted by `path`


def index_function(crate_dir: Path, sources: Sequence[Path], output_dir: Path) -> FunctionInputs:
    crate = _existing_dir(crate_dir)
    dirs = tuple(
        dict.fromkeys([crate, *map(_existing_dir, sources), *local_path_dependencies(crate)])
    )
    root = Path(os.path.commonpath(dirs))
    walker = _Walker(root, dirs, input_filter(dirs, output_dir))
    files = [f for top in _outermost(dirs) for f in walker.walk(top, (top,))]
    return FunctionInputs(
        root=root,
        crate_dir=crate.relative_to(root).as_posix(),
        input_dirs=dirs,
        files=tuple(sorted(files, key=lambda f: f.path)),
    )


def hash_file(path: Path) -> tuple[str, int]:
    """sha256 (lowercase hex) and size of a file's bytes."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class _Walker:
    def __init__(self, root: Path, dirs: tuple[Path, ...], ignored: IgnoreFilter) -> None:
        self.root = root
        self.dirs = dirs
        self.ignored = ignored

    def walk(self, directory: Path, real_parents: tuple[Path, ...]) -> Iterator[IndexedFile]:
        """Files below `directory`. `real_parents` ends with the real path of `directory` and
        holds those of the directories above it, so a symlink back to one (a loop) is skipped."""
        for entry in _scandir(directory):
            path = Path(entry.path)
            info = _stat(path, entry.is_symlink())
            if self.ignored(path, info is not None and stat.S_ISDIR(info.st_mode)):
                continue
            if info is None:
                raise InputError(
                    f"{path} -> {os.readlink(path)} is a dangling symlink: its target does not "
                    "exist; remove the link or create its target"
                )
            real = self._follow(path) if entry.is_symlink() else real_parents[-1] / entry.name
            if stat.S_ISDIR(info.st_mode):
                if real not in real_parents:
                    yield from self.walk(path, (*real_parents, real))
            elif stat.S_ISREG(info.st_mode):
                yield self._indexed(path, info)

    def _follow(self, link: Path) -> Path:
        """The resolved target of a symlink, which must stay inside the inputs."""
        target = Path(os.path.realpath(link))
        if not any(target.is_relative_to(d) for d in self.dirs):
            listed = ", ".join(str(d) for d in self.dirs)
            raise InputError(
                f"{link} -> {target} leaves the function's inputs ({listed}); copy the file "
                "in or add its directory to `sources` in embly.hcl"
            )
        return target

    def _indexed(self, path: Path, info: os.stat_result) -> IndexedFile:
        try:
            sha256, size = hash_file(path)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}; fix its permissions") from exc
        return IndexedFile(
            path=path.relative_to(self.root).as_posix(),
            absolute=path,
            sha256=sha256,
            size=size,
            executable=bool(info.st_mode & stat.S_IXUSR),
        )


def _existing_dir(directory: Path) -> Path:
    resolved = directory.resolve()
    if not resolved.is_dir():
        raise InputError(f"{directory} is not a directory; a function's inputs must be directories")
    return resolved


def _outermost(dirs: Sequence[Path]) -> list[Path]:
    """The input directories not inside another one: each tree is walked once."""
    return [d for d in dirs if not any(d != o and d.is_relative_to(o) for o in dirs)]


def _scandir(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError as exc:
        raise InputError(f"cannot list {directory}: {exc.strerror}; fix its permissions") from exc


def _stat(path: Path, is_symlink: bool) -> os.stat_result | None:
    """The stat of what `path` points to; None for a symlink that cannot be followed."""
    try:
        return path.stat()
    except OSError as exc:
        if is_symlink:
            return None
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
