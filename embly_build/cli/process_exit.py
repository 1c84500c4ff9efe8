"""Ending the `embly` process without the interpreter's teardown.

When a command has finished, Python would still take apart every module it imported
(asyncio, betterproto, grpclib, typer, rich: about 30 ms, a sixth of a no-op build) before
the process ends. Nothing in it matters by then: every file, child process and temporary
file has been closed by its owner, and the operating system frees the memory at once.
Exit handlers still run and buffered output is still written.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn


def exit_code_of(request: SystemExit) -> int:
    """The status `sys.exit` gives for this request; a message is printed, as it would be."""
    code = request.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def exit_at_once(code: int) -> NoReturn:
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # closed when the process started (`>&-`): Python made it None
            continue
        with contextlib.suppress(OSError, ValueError):  # a reader gone (`| head`), or closed
            stream.flush()
    os._exit(code)
