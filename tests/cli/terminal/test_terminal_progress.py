"""`embly build` in a real terminal (a pseudo-terminal read through a VT100 emulator):
while it builds, status lines say what each function is doing; when it is done, only the
result lines and the summary are left on the screen."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte
import pytest

from tests.helpers import EMBLY, processes_left_after

pytestmark = pytest.mark.slow

COLUMNS, ROWS = 100, 30


def start_in_terminal(argv: list[str], cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`argv` running in a new pseudo-terminal of COLUMNS x ROWS; and its master end."""
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
    return process, master


def read_for(master: int, seconds: float) -> bytes:
    """What the terminal shows within `seconds` (less if its other end closes)."""
    output = bytearray()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([master], [], [], left)[0]:
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not data:
            break
        output += data
    return bytes(output)


def run_in_terminal(argv: list[str], cwd: Path, timeout: float = 300) -> bytes:
    """Everything `argv` wrote to its terminal, once it has exited with code 0."""
    process, master = start_in_terminal(argv, cwd)
    try:
        output = read_for(master, timeout)
        assert process.wait(timeout=30) == 0, output.decode(errors="replace")
    finally:
        stop(process)
        os.close(master)
    return output


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
    running, master = start_in_terminal([str(EMBLY), *command], project)
    try:
        shown = read_until(master, lambda shown: shown_when_running in shown, 120)
        assert shown_when_running in shown, shown.decode(errors="replace")
        os.close(master)  # the window closes
        main_rs = project / "greeter" / "src" / "main.rs"
        main_rs.write_text(main_rs.read_text() + "\n// saved as the window closed\n")
        time.sleep(1)  # the view has written to the closed terminal by now
        running.send_signal(signal.SIGHUP)
        assert running.wait(timeout=30) == 129
    finally:
        stop(running)
    assert processes_left_after(embly_home, 5) == []


def read_until(master: int, done: Callable[[bytes], bool], timeout: float) -> bytes:
    """What the terminal shows until `done` says so of all of it, or `timeout` passes."""
    shown = b""
    deadline = time.monotonic() + timeout
    while not done(shown) and (left := deadline - time.monotonic()) > 0:
        shown += read_for(master, min(left, 0.5))
    return shown


_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_watch_redraws_while_it_builds_and_writes_nothing_while_it_waits(
    project: Path, embly_home: Path
) -> None:
    """A function's time runs on screen while it builds; once every build is done, the
    view stands still until the next save: an idle watch writes nothing to its terminal."""
    # A build script that takes a while: the time shown must move on without any event.
    (project / "greeter" / "build.rs").write_text(
        "fn main() { std::thread::sleep(std::time::Duration::from_secs(2)); }\n"
    )
    watching, master = start_in_terminal([str(EMBLY), "watch", "greeter"], project)
    try:
        shown = read_until(master, _built_and_optimised, 300)
        assert _built_and_optimised(shown), final_screen(shown)
        plain = _ANSI.sub(b"", shown)
        assert re.search(rb"greeter +building[^\r\n]*? 1\.[0-9]s", plain), (
            "the time shown moved on while the build script ran"
        )
        assert read_for(master, 2.0) == b"", "a watch with nothing to do redrew its view"

        main_rs = project / "greeter" / "src" / "main.rs"
        main_rs.write_text(main_rs.read_text().replace('"{}"', '"{} (saved)"'))
        saved = read_until(master, lambda more: b"1 ok in" in more, 120)
        shown += saved + read_until(
            master, lambda more: _built_and_optimised(shown + saved + more), 60
        )
        assert _built_and_optimised(shown), final_screen(shown)
        assert read_for(master, 2.0) == b"", "idle again after the save's build"
    finally:
        stop(watching)
        os.close(master)


def _built_and_optimised(shown: bytes) -> bool:
    """The screen says the watch is on and greeter's line is final: ok, optimised."""
    screen = final_screen(shown)
    return any("Ctrl-C stops" in line for line in screen) and any(
        line.split()[:2] == ["greeter", "ok"] for line in screen
    )
