"""The `embly` command's entry point.

An `embly build` whose last identical run is still up to date is answered here, before
the command line parser and the client stack are imported (see commands/up_to_date_report.py).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    _open_closed_standard_streams()
    if sys.argv[1:2] == ["build"]:
        from embly_build.cli.commands.up_to_date_report import report_if_up_to_date

        code = report_if_up_to_date(sys.argv[1:])
        if code is not None:
            os._exit(code)  # its output is flushed; there is nothing else to take apart
    from embly_build.cli.app import main as run_command

    run_command()


def _open_closed_standard_streams() -> None:
    """A closed stdin, stdout or stderr (`embly build >&-`) becomes /dev/null, as git and
    Rust programs (cargo) make it: else the next file or socket opened would take its
    number, and what is written to that stream, ours or a child's, would go into it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
    for name, fd, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
        if getattr(sys, name) is None:  # Python's stream of a descriptor closed at start
            stream = os.fdopen(fd, mode, encoding="utf-8", errors="replace", closefd=False)
            setattr(sys, name, stream)
