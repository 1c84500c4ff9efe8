"""Stopping a command cleanly on SIGINT (Ctrl-C), SIGTERM (`kill`, a CI job cancelled) and
SIGHUP (its terminal closed): the command's task is cancelled, so running builds are
cancelled and their processes killed before the process exits with 128 + the signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

from embly_build.cli import exit_codes

EXIT_FOR_SIGNAL = {
    signal.SIGINT: exit_codes.INTERRUPTED,
    signal.SIGTERM: exit_codes.TERMINATED,
    signal.SIGHUP: exit_codes.HUNG_UP,
}


@contextlib.contextmanager
def cancel_on_stop_signals() -> Iterator[list[signal.Signals]]:
    """Within the block, the first stop signal cancels the current task; the list yielded
    holds that signal once it has arrived."""
    task = asyncio.current_task()
    assert task is not None, "called outside a task"
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def stop(signum: signal.Signals) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    for signum in EXIT_FOR_SIGNAL:
        loop.add_signal_handler(signum, stop, signum)
    try:
        yield received
    finally:
        for signum in EXIT_FOR_SIGNAL:
            loop.remove_signal_handler(signum)
