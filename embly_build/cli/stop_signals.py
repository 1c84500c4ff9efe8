"""Stopping a command cleanly on SIGINT (Ctrl-C), SIGTERM (`kill`, a CI job cancelled) and
SIGHUP (its terminal closed): the command's task is cancelled, so running builds are
cancelled and their processes killed before the process exits with 128 + the signal.

The reader of the command's output going away (`embly build --json | head -1`) stops it the
same way, as SIGPIPE would, with 141 (see `StopSignal.reader_gone`)."""

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
_EXIT_CODES = {**EXIT_FOR_SIGNAL, signal.SIGPIPE: exit_codes.BROKEN_PIPE}


class StopSignal:
    """The stop signal that arrived, if one did."""

    def __init__(self, task: asyncio.Task[object], loop: asyncio.AbstractEventLoop) -> None:
        self.received: signal.Signals | None = None
        self._task = task
        self._loop = loop
        self._active = True  # within the block: a stop cancels the task

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else _EXIT_CODES[self.received]

    def stop(self, signum: signal.Signals) -> None:
        """Stop the command as `signum` asks; from any thread. After the block, only the
        exit code is decided."""
        if self.received is None:
            self.received = signum
            self._loop.call_soon_threadsafe(self._cancel)

    def reader_gone(self) -> None:
        """What the command writes can no longer be read (`| head` has exited): stop it.
        git, and cargo, are killed by SIGPIPE then (a shell shows 141; `set -o pipefail`
        sees a failure); we end the same way, quietly, but first cancel the builds and kill
        their processes as for the other stop signals, so none goes on unseen and nothing
        partial is written."""
        self.stop(signal.SIGPIPE)

    def end(self) -> None:
        """The block is over: a stop from now on cancels nothing."""
        self._active = False

    def _cancel(self) -> None:
        if self._active:
            self._task.cancel()


@contextlib.contextmanager
def cancel_on_stop_signals() -> Iterator[StopSignal]:
    """Within the block, the first stop signal cancels the current task; the cancellation
    ends with the block, and `exit_code` then says how the command exits."""
    task = asyncio.current_task()
    assert task is not None, "called outside a task"
    loop = asyncio.get_running_loop()
    stop = StopSignal(task, loop)
    for signum in EXIT_FOR_SIGNAL:
        loop.add_signal_handler(signum, stop.stop, signum)
    try:
        yield stop
    except asyncio.CancelledError:
        if stop.received is None:
            raise  # not ours
        task.uncancel()
    finally:
        stop.end()
        for signum in EXIT_FOR_SIGNAL:
            loop.remove_signal_handler(signum)
