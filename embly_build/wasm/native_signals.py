"""Stop signals while a module runs: the process dies of them, as a native program would.

Python handles SIGINT by setting a flag that the interpreter checks between bytecodes, so
while wasmtime runs a module's code (a busy loop, a blocked read of stdin) Ctrl-C would do
nothing. With the default disposition the kernel ends the process at once and the shell
sees it killed by the signal (130, 143, 129). `embly run` holds nothing that needs cleaning
up by then: no temporary file, no child process, no lock; its own output is flushed first.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def stop_signals_kill() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP end the process (their default action);
    one ignored when the process started (`nohup`, a background job) stays ignored, as a
    native program would inherit it. The previous handlers are back after the block. Only
    the main thread can change them: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    changed = {s: handler for s, handler in previous.items() if handler is not signal.SIG_IGN}
    try:
        for signum in changed:
            signal.signal(signum, signal.SIG_DFL)
        yield
    finally:
        for signum, handler in changed.items():
            if handler is not None:  # None: installed outside Python, cannot be put back
                signal.signal(signum, handler)
