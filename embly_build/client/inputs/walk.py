"""Walking a function's input directories: what is listed, ignored, followed through a
symlink, taken from the stat cache or hashed, and what each file and directory was found to be.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

from embly_build.client.inputs.cancellation import Cancellation
from embly_build.client.inputs.ignore import IgnoreFilter
from embly_build.client.inputs.input_warnings import printable
from embly_build.client.inputs.stat_cache import DirectoryCache, StatCache
from embly_build.errors import InputError

_CHUNK = 1024 * 1024
_FORMAT_BITS = 0o170000  # of st_mode: what stat.S_IFMT() keeps, without the call


class IndexedFile(NamedTuple):
    """One input file. A named tuple rather than a frozen dataclass: an index makes one per
    file, and a frozen dataclass's `__init__` (a `object.__setattr__` per field) was the
    largest single cost of a warm index after the `stat` calls (bench_index.py)."""

    path: str  # relative to the tree root, '/'-separated, never '..', never absolute
    location: str  # where the bytes are on this machine: an absolute path
    sha256: str  # lowercase hex
    size: int
    executable: bool  # owner-executable bit

    @property
    def absolute(self) -> Path:
        """`location` as a Path, made on demand: a Path per file is a large share of an index
        whose files are all in the stat cache, and most files never need one."""
        return Path(self.location)


@dataclass
class IndexCounters:
    """How far an index has come; read by another thread while it runs."""

    files: int = 0
    read_bytes: int = 0  # of files that were hashed (not found in the stat cache)


@dataclass(frozen=True, slots=True)
class WalkedDirectory:
    """What one index found in one directory, kept so that a re-index after file events can
    take it again without listing the directory."""

    files: tuple[IndexedFile, ...]  # the directory's input files, in the order walked
    subdirectories: tuple[str, ...]  # names of the subdirectories walked from it
    # It holds a symlink or was reached through one: an event for a change there can be
    # reported elsewhere (the link's target), so it is listed again every time.
    volatile: bool


def hash_file(
    path: str | os.PathLike[str], cancellation: Cancellation | None = None
) -> tuple[str, int]:
    """sha256 (lowercase hex) and size of a file's bytes; `cancellation` is checked before
    each chunk, so a large file does not hold up a cancelled index.

    The one place the indexer reads file content: tests count or fail reads by replacing
    this module attribute (a fault-injection seam), so call it through the module.
    """
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY)  # not inherited by child processes (PEP 446)
    try:
        while True:
            if cancellation is not None:
                cancellation.check()
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest(), size


def outermost(dirs: Iterable[Path]) -> list[Path]:
    """The directories not inside another one of them: each tree is walked (or watched) once."""
    dirs = list(dirs)
    return [d for d in dirs if not any(d != o and d.is_relative_to(o) for o in dirs)]


class Walker:
    """One walk of a function's input directories: `walk_inputs` fills `files` (sorted by
    path), `directories` (every directory walked) and `walked` (what each one held)."""

    def __init__(
        self,
        root: Path,
        dirs: tuple[Path, ...],
        ignored: IgnoreFilter,
        cache: StatCache | None,
        counters: IndexCounters | None = None,
        cancellation: Cancellation | None = None,
    ) -> None:
        self.counters = counters or IndexCounters()
        self.cancellation = cancellation or Cancellation()
        self.root = root
        self.root_length = len(os.path.join(root, ""))  # relative paths are slices of absolute
        self.dirs = dirs
        self.ignored = ignored
        self.cache = cache
        self.files: list[IndexedFile] = []
        self.directories: list[str] = []
        self.walked: dict[str, WalkedDirectory] = {}
        # Directories whose earlier findings are taken as they are, without listing them.
        self.reusable: Mapping[str, WalkedDirectory] = {}
        # An earlier index's findings, by directory: a directory listed again and found as
        # they say, or a file found as they say, is given as the same object. Consumers
        # that kept what they made of those objects need only redo it for new ones (see
        # index_delta.py, tree_encoder.py).
        self.earlier: Mapping[str, WalkedDirectory] = {}

    def walk_inputs(self, single: Iterable[Path]) -> None:
        """Walk every input directory and add the single files."""
        for top in outermost(self.dirs):
            self.walk(str(top), (str(top),))
        for file in single:
            self.add_file(str(file))
        self.files.sort(key=attrgetter("path"))

    def walk(self, directory: str, real_parents: tuple[str, ...], via_link: bool = False) -> None:
        """Index the files below `directory`. `real_parents` ends with the real path of
        `directory` and holds those of the directories above it, so a symlink back to one (a
        loop) is skipped. `via_link`: a symlink is on the way from an input directory."""
        self.cancellation.check()
        self.directories.append(directory)
        base = os.path.join(directory, "")
        known = self.reusable.get(directory)
        if known is not None:
            self.walked[directory] = known
            self.files.extend(known.files)
            self.counters.files += len(known.files)
            for name in known.subdirectories:  # no symlinks: a directory with one is volatile
                self.walk(base + name, (*real_parents, os.path.join(real_parents[-1], name)))
            return
        subdirs: list[str] = []
        others: list[os.DirEntry[str]] = []
        links: dict[str, os.stat_result | None] = {}  # what each symlink points to
        fd = _open_dir(directory)  # entries are stat-ed relative to it: no path lookups
        try:
            for entry in _scandir(fd, directory):
                if entry.is_file(follow_symlinks=False):  # most entries: one call each
                    others.append(entry)
                elif entry.is_symlink():
                    info = links[entry.name] = _link_target_stat(entry)
                    if info is not None and stat.S_ISDIR(info.st_mode):
                        subdirs.append(entry.name)
                    else:
                        others.append(entry)
                elif entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.name)
                else:
                    others.append(entry)
            names = [e.name for e in others]
            ignored = self.ignored.ignored_entries(directory, subdirs, names)
            cache = None
            if self.cache is not None:
                # Every directory walked is listed in the cache, so entries of deleted files go.
                cache = self.cache.directory(directory)
                cache.seen.update(names)
            self.cancellation.check()
            before = len(self.files)
            self._index_files(base, others, links, ignored, cache)
            self.counters.files += len(self.files) - before
        finally:
            os.close(fd)
        earlier = self.earlier.get(directory)
        own_files = _as_earlier(tuple(self.files[before:]), earlier)
        self.files[before:] = own_files
        walked: list[str] = []
        for name in subdirs:
            if name in ignored:
                continue
            path = base + name
            real = self._follow(path) if name in links else os.path.join(real_parents[-1], name)
            if real not in real_parents:
                walked.append(name)
                self.walk(path, (*real_parents, real), via_link or name in links)
        found = WalkedDirectory(own_files, tuple(walked), via_link or bool(links))
        self.walked[directory] = earlier if earlier == found else found

    def add_file(self, location: str) -> None:
        """Index one named file, whatever the ignore rules say: cargo reads it."""
        directory, name = os.path.split(location)
        try:
            info = os.stat(location)
        except OSError as exc:
            raise InputError(f"cannot read {location}: {exc.strerror}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{location} is not a regular file; cargo needs it as one")
        cache = self.cache.directory(directory) if self.cache is not None else None
        self._add(os.path.join(directory, ""), name, info, cache)

    def _index_files(
        self,
        base: str,
        entries: list[os.DirEntry[str]],
        links: dict[str, os.stat_result | None],
        ignored: set[str],
        cache: DirectoryCache | None,
    ) -> None:
        """Index the files among `entries` (neither directories nor links to one).

        A file whose stat its cache entry holds is added here without a call: this loop runs
        once per input file, and for a warm index in a new process its function calls were
        most of the time left beside the `stat` calls themselves (bench_index.py). Anything
        else goes through `_add`."""
        relative = base[self.root_length :]
        known = cache.entries if cache is not None else {}
        files = self.files
        for entry in entries:
            name = entry.name
            if name in ignored:
                continue
            if name in links:
                info = links[name]
                if info is None:
                    raise _unfollowable_link(base + name)
                self._follow(base + name)
            else:
                try:
                    info = entry.stat()
                except OSError as exc:
                    raise InputError(f"cannot read {base + name}: {exc.strerror}") from exc
            if info is None or info.st_mode & _FORMAT_BITS != stat.S_IFREG:
                continue  # a fifo, socket or device, or a link to one
            hit = known.get(name)
            try:
                if (
                    hit is not None
                    and hit[0] == info.st_size
                    and hit[1] == info.st_mtime_ns
                    and hit[2] == info.st_ctime_ns
                    and hit[3] == info.st_ino
                    and hit[5] is False  # not racy
                    and type(hit[4]) is str
                ):
                    path = relative + name
                    if path.isascii() and "\\" not in path:
                        executable = info.st_mode & stat.S_IXUSR != 0
                        location = base + name
                        files.append(IndexedFile(path, location, hit[4], info.st_size, executable))
                        continue
            except (TypeError, LookupError):  # not an entry the cache wrote: `_add` says so
                pass
            self._add(base, name, info, cache, relative)

    def _add(
        self,
        base: str,
        name: str,
        info: os.stat_result,
        cache: DirectoryCache | None,
        relative: str | None = None,
    ) -> None:
        """Index file `name` of directory `base` (ending in '/'), whose stat is `info`."""
        if relative is None:
            relative = base[self.root_length :]
        path = relative + name
        if not path.isascii():
            _require_utf8(base + name)  # before reading it: a watcher sees it opened
        if "\\" in path:
            raise _backslash_in(base + name)
        sha256 = cache.lookup(name, info) if cache is not None else None
        if sha256 is None:
            self.cancellation.check()
            sha256, size = _read(base + name, self.cancellation)
            self.counters.read_bytes += size
            if cache is not None and size == info.st_size:
                cache.record(name, info, sha256)
        else:
            size = info.st_size
        executable = bool(info.st_mode & stat.S_IXUSR)
        self.files.append(IndexedFile(path, base + name, sha256, size, executable))

    def _follow(self, link: str) -> str:
        """The resolved target of a symlink, which must stay inside the inputs."""
        target = Path(os.path.realpath(link))
        if not any(target.is_relative_to(d) for d in self.dirs):
            listed = ", ".join(str(d) for d in self.dirs)
            raise InputError(
                f"{link} -> {target} leaves the function's inputs ({listed}); copy the file "
                "in or add its directory to `sources` in embly.hcl"
            )
        return str(target)


def _as_earlier(
    files: tuple[IndexedFile, ...], earlier: WalkedDirectory | None
) -> tuple[IndexedFile, ...]:
    """`files`, with each file `earlier` found just so as the object it holds."""
    if earlier is None:
        return files
    if earlier.files == files:
        return earlier.files
    known = {file.location: file for file in earlier.files}
    return tuple(
        known_file if (known_file := known.get(file.location)) == file else file for file in files
    )


def _require_utf8(location: str) -> None:
    """Input paths travel as UTF-8 text; a name in another encoding cannot be sent."""
    try:
        location.encode()
    except UnicodeEncodeError:
        shown = printable(os.fsencode(location).decode("utf-8", "backslashreplace"))
        raise InputError(
            f"{shown}: the file's name is not valid UTF-8, so it cannot be sent to the build "
            "server; rename it, or ignore it in .gitignore if the build does not need it"
        ) from None


def _backslash_in(location: str) -> InputError:
    """Input paths travel '/'-separated, and a build server takes no backslash in one (on
    Windows it would be a separator): a file git lists whose path holds one is refused here,
    by its name, rather than by the server, or left out without a word."""
    return InputError(
        f"{printable(location)}: the file's path holds a backslash, which a build server does "
        "not take (input paths are '/'-separated); rename it, or ignore it in .gitignore if "
        "the build does not need it"
    )


def _read(path: str, cancellation: Cancellation) -> tuple[str, int]:
    try:
        return hash_file(path, cancellation)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}; fix its permissions") from exc


def _open_dir(directory: str) -> int:
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise InputError(f"cannot list {directory}: {exc.strerror}; fix its permissions") from exc


def _scandir(fd: int, directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(fd) as entries:
            return list(entries)
    except OSError as exc:
        raise InputError(f"cannot list {directory}: {exc.strerror}; fix its permissions") from exc


def _link_target_stat(entry: os.DirEntry[str]) -> os.stat_result | None:
    """The stat of what the symlink `entry` points to; None when it cannot be followed."""
    try:
        return entry.stat()
    except OSError:
        return None


def _unfollowable_link(path: str) -> InputError:
    """Why the symlink at `path` cannot be followed, in words, and what to do."""
    try:
        target = os.readlink(path)
    except OSError:
        return InputError(f"{path} changed while it was read; index again")
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            why = "is a dangling symlink: its target does not exist"
        elif exc.errno == errno.ELOOP:
            why = "is a symlink loop: following it leads back to a link on the way"
        else:
            why = f"is a symlink that cannot be followed: {exc.strerror}"
        return InputError(f"{path} -> {target} {why}; remove the link or fix its target")
    return InputError(f"{path} -> {target} changed while it was read; index again")
