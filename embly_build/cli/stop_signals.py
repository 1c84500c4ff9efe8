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


class StopSignal:
    """The stop signal that arrived, if one did."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else EXIT_FOR_SIGNAL[self.received]


@contextlib.contextmanager
def cancel_on_stop_signals() -> Iterator[StopSignal]:
    """Within the block, the first stop signal cancels the current task; the cancellation
    ends with the block, and `exit_code` then says how the command exits."""
    task = asyncio.current_task()
    assert task is not None, "called outside a task"
    loop = asyncio.get_running_loop()
    stop = StopSignal()

    def on_signal(signum: signal.Signals) -> None:
        if stop.received is None:
            stop.received = signum
            task.cancel()

    for signum in EXIT_FOR_SIGNAL:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield stop
    except asyncio.CancelledError:
        if stop.received is None:
            raise  # not ours
    finally:
        for signum in EXIT_FOR_SIGNAL:
            loop.remove_signal_handler(signum)
