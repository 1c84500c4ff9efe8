"""`embly` ends without the interpreter's teardown, and loses nothing by it."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
import atexit, sys
from embly_build.cli.process_exit import exit_at_once, exit_code_of
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
print("x" * 200_000)
print("end")  # still in the buffer when the process ends
exit_at_once(exit_code_of(SystemExit(int(sys.argv[1]) if sys.argv[1].isdigit() else sys.argv[1])))
"""


def _end(request: str) -> subprocess.CompletedProcess[str]:
    # Buffered output, as most users have it (PYTHONUNBUFFERED would hide a lost buffer).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, "-P", "-c", SCRIPT, request],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_output_is_written_and_exit_handlers_run_before_the_process_ends() -> None:
    result = _end("3")
    assert result.returncode == 3
    assert result.stdout == "x" * 200_000 + "\nend\n"
    assert result.stderr == "exit handler ran\n"


def test_an_exit_with_a_message_prints_it_and_fails_as_sys_exit_does() -> None:
    result = _end("cannot go on")
    assert result.returncode == 1
    assert result.stderr == "cannot go on\nexit handler ran\n"
