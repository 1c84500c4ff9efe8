"""A failed write as the user reads it: a full disk says so, and what to do about it."""

from __future__ import annotations

import errno
from pathlib import Path

from embly_build.errors import StoreError


def write_error(exc: OSError, where: Path, *, when_full: str, otherwise: str = "") -> StoreError:
    """The error to report for `exc`, raised writing `where`: `when_full` (what is full and
    what to do) when the disk has no space left, else the system's reason and `otherwise`
    (what to do then)."""
    if exc.errno == errno.ENOSPC:
        return StoreError(when_full)
    advice = f"; {otherwise}" if otherwise else ""
    return StoreError(f"cannot write {where}: {exc.strerror or exc}{advice}")
