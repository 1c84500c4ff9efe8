"""A failed write, as the client and the server both report it."""

from __future__ import annotations

import errno
from pathlib import Path

from embly_build.disk_errors import write_error


def test_a_full_disk_says_what_to_do() -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    error = write_error(full, Path("/x/a.wasm"), when_full="the disk is full: free space")
    assert str(error) == "the disk is full: free space"


def test_any_other_failure_gives_the_systems_reason() -> None:
    denied = OSError(errno.EACCES, "Permission denied")
    error = write_error(denied, Path("/x/a.wasm"), when_full="the disk is full")
    assert str(error) == "cannot write /x/a.wasm: Permission denied"
