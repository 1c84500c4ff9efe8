"""`flock` locks shared between processes, taken without blocking the event loop."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Callable
from typing import IO, Any


def try_lock(handle: IO[Any], operation: int) -> bool:
    """Take `operation` (fcntl.LOCK_SH or LOCK_EX) on the file if that can be done now."""
    try:
        fcntl.flock(handle, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


async def wait_for_lock(
    handle: IO[Any], operation: int, on_wait: Callable[[], None] | None, poll_seconds: float
) -> None:
    """Take the lock, polling rather than blocking a thread (a cancelled wait then leaves no
    thread behind that later takes the lock); `on_wait` is called once if it must wait."""
    while not try_lock(handle, operation):
        if on_wait is not None:
            on_wait()
            on_wait = None
        await asyncio.sleep(poll_seconds)
