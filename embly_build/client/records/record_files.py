"""Removing client records that can no longer help (`embly gc`): their files, counted."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

# A temporary file not written for this long belongs to a write that was interrupted, not
# to one still going on.
LEFT_OVER_SECONDS = 3600


def files_in(directory: str) -> list[os.DirEntry[str]]:
    """The regular files directly in `directory`; none when it cannot be listed."""
    try:
        with os.scandir(directory) as entries:
            return [entry for entry in entries if entry.is_file(follow_symlinks=False)]
    except OSError:
        return []


def remove_files(files: Iterable[os.DirEntry[str]], *, dry_run: bool) -> tuple[int, int]:
    """Remove the files (with `dry_run`, none): how many were removed, and the bytes they
    took on disk. One that cannot be read or removed is left, and not counted."""
    count = disk_bytes = 0
    for file in files:
        with contextlib.suppress(OSError):
            size = file.stat(follow_symlinks=False).st_blocks * 512
            if not dry_run:
                os.unlink(file.path)
            count += 1
            disk_bytes += size
    return count, disk_bytes


def left_over(temp_file: os.DirEntry[str], now: float) -> bool:
    """Whether a record's temporary file (the caller tells them by name) was left by an
    interrupted write: not written for `LEFT_OVER_SECONDS`."""
    try:
        return now - temp_file.stat(follow_symlinks=False).st_mtime > LEFT_OVER_SECONDS
    except OSError:
        return False
