"""The rich console the commands print with."""

from __future__ import annotations

import errno
import os

from rich.console import Console


class OutputConsole(Console):
    """rich's Console, except that a write to a pipe whose reader has gone (`| head`)
    raises BrokenPipeError, for the command to stop as if by SIGPIPE (cli/stop_signals.py,
    terminal_output.py, cli/app.py). rich's own answer is SystemExit(1) on the spot: the status
    of a failed build, thrown through whatever the command was doing."""

    def on_broken_pipe(self) -> None:
        self.quiet = True  # nothing more is written
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
