"""Remember, per server and function, the last input tree sent to the server.

A tree the server stores was sent whole (its files first), so when a function's inputs
change, the files its new tree shares with the last one need not be asked about again:
only the new files are. That is what keeps an edit in a function with tens of thousands
of input files from asking the server about every one of them.

The record is a hint, kept under EMBLY_HOME (the sha256 of the last tree's files, one per
line, in a file per function): a server that has lost files since (`embly gc`, a new
store) answers the build with NOT_FOUND, and the client then asks about every file. A
missing, unreadable or damaged record is no record. `embly gc` removes the records not
written for `UNUSED_RECORD_DAYS` (a project moved or deleted, a server gone).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from embly_build.atomic_write import write_atomically
from embly_build.client.records.record_files import files_in, left_over, remove_files
from embly_build.client.session.upload import TreeInputs
from embly_build.home import embly_home

_SUFFIX = ".files"
_TEMP_PREFIX = ".sent-"
UNUSED_RECORD_DAYS = 30
_RECORD = re.compile(rb"(?:[0-9a-f]{64}\n)*")


def sent_trees_dir(server: str) -> Path:
    """Where the records for the server named `server` (its address, and for an in-process
    server its home) are kept."""
    name = hashlib.sha256(server.encode()).hexdigest()[:24]
    return sent_trees_root(embly_home()) / name


def sent_trees_root(home: Path) -> Path:
    return home / "client" / "sent-trees"


def remove_unused_records(home: Path, *, dry_run: bool = False) -> tuple[int, int]:
    """Remove the records under `home` not written for `UNUSED_RECORD_DAYS`, and temporary
    files an interrupted write left over an hour ago; how many, and the bytes they took on
    disk. With `dry_run`, remove nothing."""
    now = time.time()
    try:
        servers = [e.path for e in os.scandir(sent_trees_root(home)) if e.is_dir()]
    except OSError:
        return 0, 0
    unused = [f for server in servers for f in files_in(server) if _unused(f, now)]
    removed = remove_files(unused, dry_run=dry_run)
    if not dry_run:
        for server in servers:
            with contextlib.suppress(OSError):
                os.rmdir(server)  # only when it is empty now
    return removed


def _unused(file: os.DirEntry[str], now: float) -> bool:
    if file.name.startswith(_TEMP_PREFIX):
        return left_over(file, now)
    try:
        idle_days = (now - file.stat(follow_symlinks=False).st_mtime) / 86400
    except OSError:
        return False
    return idle_days > UNUSED_RECORD_DAYS


class SentTrees:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        # Read once per process: a watch asks on every edit.
        self._files: dict[str, frozenset[str]] = {}

    def files_known(self, functions: Iterable[str]) -> frozenset[str]:
        """The sha256 of every file in the last trees of `functions` (keys such as
        `project_id.function`) the server was known to hold."""
        known: set[str] = set()
        for function in functions:
            known |= self._files_of(function)
        return frozenset(known)

    def sent(self, function: str, tree: TreeInputs) -> None:
        """`tree` was just sent whole (its missing files, then the tree blob)."""
        files = frozenset(f.sha256 for f in tree.files)
        self._files[function] = files
        # An optimisation: a read-only or full disk must not fail the build.
        with contextlib.suppress(OSError):
            path = self._path(function)
            path.parent.mkdir(parents=True, exist_ok=True)
            record = "".join(f"{sha256}\n" for sha256 in sorted(files)).encode()
            write_atomically(path, record, temp_prefix=_TEMP_PREFIX)

    def forget(self, function: str) -> None:
        """The server lacked files of a tree recorded here: ask about every file next time."""
        self._files[function] = frozenset()
        with contextlib.suppress(OSError):
            self._path(function).unlink(missing_ok=True)

    def _files_of(self, function: str) -> frozenset[str]:
        files = self._files.get(function)
        if files is None:
            try:
                record = self._path(function).read_bytes()
            except OSError:
                record = b""
            # A sha256 per line: read at C speed, 40,000 of them in milliseconds.
            valid = _RECORD.fullmatch(record) is not None
            files = frozenset(record.decode().split()) if valid else frozenset()
            self._files[function] = files
        return files

    def _path(self, function: str) -> Path:
        return self._directory / f"{function}{_SUFFIX}"
