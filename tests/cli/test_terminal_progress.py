"""`embly build` in a real terminal (a pseudo-terminal read through a VT100 emulator):
while it builds, status lines say what each function is doing; when it is done, only the
result lines and the summary are left on the screen."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pyte
import pytest

from tests.helpers import EMBLY, processes_left_after

pytestmark = pytest.mark.slow

COLUMNS, ROWS = 100, 30


def run_in_terminal(argv: list[str], cwd: Path, timeout: float = 300) -> bytes:
    """Everything `argv` wrote to its terminal, once it has exited with code 0."""
    master, child_end = pty.openpty()
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS)}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
        start_new_session=True,
    )
    os.close(child_end)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not data:
                break
            output += data
        assert process.wait(timeout=30) == 0, output.decode(errors="replace")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
        os.close(master)
    return bytes(output)


def final_screen(output: bytes) -> list[str]:
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.ByteStream(screen).feed(output)
    return [line.rstrip() for line in screen.display if line.strip()]


def test_embly_build_shows_progress_then_leaves_the_results(project: Path) -> None:
    output = run_in_terminal([str(EMBLY), "build"], cwd=project)
    drawn = output.decode(errors="replace")
    assert "compiling common" in drawn, "cargo's progress shows while a function compiles"
    assert "optimising" in drawn and "AOT-compiling" in drawn
    screen = final_screen(output)
    assert len(screen) == 4, screen
    assert sorted(line.split()[1] for line in screen[:3]) == ["counter", "greeter", "shout"]
    assert all(line.startswith("✓ ") and "  built  " in line for line in screen[:3]), screen
    assert screen[3].startswith("3 ok in "), screen


@pytest.mark.parametrize(
    ("command", "shown_when_running"),
    [(["watch"], b"Ctrl-C stops"), (["build", "greeter"], b"compiling")],
)
def test_closing_the_terminal_stops_it_cleanly(
    project: Path, embly_home: Path, command: list[str], shown_when_running: bytes
) -> None:
    """The window closes: writes to the terminal fail, then SIGHUP arrives. The command
    ends with 129, as for SIGHUP alone, and leaves nothing running."""
    (project / "greeter" / "build.rs").write_text(
        "fn main() { std::thread::sleep(std::time::Duration::from_secs(2)); }\n"
    )
    master, child_end = pty.openpty()
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    running = subprocess.Popen(
        [str(EMBLY), *command],
        cwd=project,
        env={**os.environ, "TERM": "xterm-256color"},
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
        start_new_session=True,
    )
    os.close(child_end)
    try:
        shown = bytearray()
        deadline = time.monotonic() + 120
        while shown_when_running not in shown and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                shown += os.read(master, 65536)
        assert shown_when_running in shown, shown.decode(errors="replace")
        os.close(master)  # the window closes
        main_rs = project / "greeter" / "src" / "main.rs"
        main_rs.write_text(main_rs.read_text() + "\n// saved as the window closed\n")
        time.sleep(1)  # the view has written to the closed terminal by now
        running.send_signal(signal.SIGHUP)
        assert running.wait(timeout=30) == 129
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)
            running.wait()
    assert processes_left_after(embly_home, 5) == []
