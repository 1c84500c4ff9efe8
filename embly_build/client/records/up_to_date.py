"""Whether an `embly build` has nothing to do, told from a record of its last run by stat alone.

A no-op `embly build` costs about 170 ms, nearly all of it Python importing the client,
protocol and server stack before finding every function a cache hit. So, like make and
cargo, the command first compares what its result depends on with a record of its last
successful run; when nothing differs it reports that run's results again at once.

A record is written by a run of `embly build` (with the in-process server) in which every
function succeeded. It is kept per invocation: the same arguments, working directory and
environment (`invocation_key`). It holds the stat (mtime, ctime, size, inode, mode) of every
path the run's result depended on, or that the path did not exist:

- embly.hcl, the directories searched for it, the user config file;
- every input file, every input directory walked, and the files that decided what the
  inputs are (.gitignore, Cargo.toml, .git and info/exclude), also above the input
  directories;
- the artifacts written, as written;
- what the toolchain record trusts (its GC root, the host tools and their directories),
  the Nix expressions, and the code of embly_build and wasmtime.

A path whose ctime is within `RACY_WINDOW_NS` before the run started could have changed
again within the same timestamp tick without its stat changing (the "racy git" problem),
so such a run writes no record; the next run writes one.

This module is imported first thing by `embly` and must stay cheap to import: os, sys,
marshal and zlib only.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

from embly_build.home_paths import embly_home_dir

TYPE_CHECKING = False  # not typing's: importing typing costs more than this whole check
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

FORMAT_VERSION = 1
RACY_WINDOW_NS = 2_000_000_000  # as the stat cache's: timestamps can be as coarse as 2 s
# Environment variables that can change what a build does or where it looks.
_KEY_ENV_PREFIXES = ("EMBLY_", "NIX_", "XDG_")
_KEY_ENV_NAMES = ("PATH", "HOME", "USER", "TMPDIR")

# (mtime_ns, ctime_ns, size, inode, mode), or None: the path did not exist.
StatKey = tuple[int, int, int, int, int] | None
# What the run printed, to be printed again (see cli/commands/up_to_date_report.py).
Report = dict[str, object]


def stat_key(path: str) -> StatKey:
    """The stat a record keeps of `path` (following symlinks); None when it does not exist.
    Other errors (no permission) are raised: such a path cannot be vouched for."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino, info.st_mode)


def invocation_key(argv: Sequence[str], cwd: str, environ: Mapping[str, str]) -> bytes:
    """What makes two runs of `embly` the same request."""
    env = sorted(
        (name, value)
        for name, value in environ.items()
        if name.startswith(_KEY_ENV_PREFIXES) or name in _KEY_ENV_NAMES
    )
    return marshal.dumps(
        (FORMAT_VERSION, tuple(argv), cwd, tuple(env), sys.executable, sys.version), 4
    )


def record_path(key: bytes, home: str | None = None) -> str:
    """Where the record of the invocation `key` lives. Two keys may share a file (the name
    is a checksum); the key inside tells them apart."""
    return os.path.join(records_dir(home), f"{zlib.crc32(key):08x}.{len(key)}")


def records_dir(home: str | None = None) -> str:
    return os.path.join(home or embly_home_dir(), "client", "up-to-date")


def encode_record(key: bytes, checks: Sequence[tuple[str, StatKey]], report: Report) -> bytes:
    return marshal.dumps((FORMAT_VERSION, key, tuple(checks), report), 4)


def unchanged_report(key: bytes, home: str | None = None) -> Report | None:
    """The report of the last run of the invocation `key` when nothing it depended on has
    changed since; None when anything has, or there is no usable record."""
    record = _load(record_path(key, home))
    if record is None or record[0] != key or not _unchanged(record[1]):
        return None
    return record[2]


def record_is_current(path: str) -> bool:
    """Whether the record at `path` can still answer its invocation. One that cannot is of
    no further use: a changed file does not get its old ctime back."""
    record = _load(path)
    return record is not None and _unchanged(record[1])


def _load(path: str) -> tuple[bytes, list[tuple[str, StatKey]], Report] | None:
    """(key, checks, report) of the record at `path`; None when it is missing or damaged."""
    try:
        with open(path, "rb") as file:
            version, key, checks, report = marshal.load(file)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if version != FORMAT_VERSION or not isinstance(report, dict):
        return None
    return key, checks, report


def _unchanged(checks: list[tuple[str, StatKey]]) -> bool:
    try:
        return all(stat_key(path) == expected for path, expected in checks)
    except (OSError, TypeError, ValueError):
        return False
