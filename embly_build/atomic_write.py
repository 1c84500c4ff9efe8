"""Replacing a file's content all at once."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, temp_prefix: str | None = None) -> None:
    """Write `data` to `path` through a temporary file beside it and a rename: a reader sees
    the old content or the new, never part of it. On failure the temporary file is removed
    and the error raised, for the caller to judge."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix or f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
