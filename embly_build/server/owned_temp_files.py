"""Temporary files and directories named after the process that made them (PREFIX-PID-...),
so that those of a process killed before it could remove them are removed by the next one."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path


def remove_orphaned(directory: Path, prefixes: Sequence[str]) -> None:
    """Remove the entries of `directory` named PREFIX-PID-... whose process is gone."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        owner = _owner_pid(entry.name, prefixes)
        if owner is None or not _gone(owner):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _owner_pid(name: str, prefixes: Sequence[str]) -> int | None:
    """The pid in a name PREFIX-PID-...; None for other names."""
    for prefix in prefixes:
        if name.startswith(prefix):
            owner = name.removeprefix(prefix).split("-", 1)[0]
            return int(owner) if owner.isdigit() else None
    return None


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False
