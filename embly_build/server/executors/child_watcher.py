"""Learn of child exits through a pidfd, as Python 3.12 does, rather than a thread per child.

Python 3.11's default asyncio child watcher starts a thread for every subprocess to wait
for it, which costs more than a short tool step itself. The watcher is process-wide state,
so only a program may choose it: `embly` does at start-up, a library caller keeps its own.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings


def use_pidfd_child_watcher() -> bool:
    """Switch this process to asyncio's pidfd child watcher where that is an improvement
    (Python 3.11 on Linux 5.3 or later); True when it is in use afterwards."""
    if sys.version_info >= (3, 12) or not _pidfd_works():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        current = asyncio.get_child_watcher()
        if not isinstance(current, asyncio.PidfdChildWatcher):
            asyncio.set_child_watcher(asyncio.PidfdChildWatcher())
    return True


def _pidfd_works() -> bool:
    open_pidfd = getattr(os, "pidfd_open", None)
    if open_pidfd is None:
        return False
    try:
        os.close(open_pidfd(os.getpid()))
    except OSError:  # a kernel older than 5.3, or a sandbox that forbids it
        return False
    return True
