"""The `embly` command's entry point.

An `embly build` whose last identical run is still up to date is answered here, before
the command line parser and the client stack are imported (see up_to_date_report.py).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["build"]:
        from embly_build.cli.up_to_date_report import report_if_up_to_date

        code = report_if_up_to_date(sys.argv[1:])
        if code is not None:
            os._exit(code)  # its output is flushed; there is nothing else to take apart
    from embly_build.cli.app import main as run_command

    run_command()
