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
# What the run printed, to be printed again (see up_to_date_report.py).
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
    name = f"{zlib.crc32(key):08x}.{len(key)}"
    return os.path.join(home or embly_home_dir(), "client", "up-to-date", name)


def encode_record(key: bytes, checks: Sequence[tuple[str, StatKey]], report: Report) -> bytes:
    return marshal.dumps((FORMAT_VERSION, key, tuple(checks), report), 4)


def unchanged_report(key: bytes, home: str | None = None) -> Report | None:
    """The report of the last run of the invocation `key` when nothing it depended on has
    changed since; None when anything has, or there is no usable record."""
    try:
        with open(record_path(key, home), "rb") as file:
            version, recorded_key, checks, report = marshal.load(file)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if version != FORMAT_VERSION or recorded_key != key or not isinstance(report, dict):
        return None
    try:
        for path, expected in checks:
            if stat_key(path) != expected:
                return None
    except (OSError, TypeError, ValueError):
        return None
    return report
