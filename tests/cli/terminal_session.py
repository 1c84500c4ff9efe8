"""A command run on a real pseudo-terminal, as a user at a terminal runs it: its output read
from the terminal's screen (pyte), its input typed, Ctrl-C and Ctrl-D as the terminal
sends them (the pseudo-terminal is the command's controlling terminal)."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pyte

CTRL_C = "\x03"
CTRL_D = "\x04"


class TerminalSession:
    def __init__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str],
        columns: int = 200,
        lines: int = 200,
    ) -> None:
        self._master, follower = os.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        environment = {key: value for key, value in env.items() if key not in ("COLUMNS", "LINES")}
        self.process = subprocess.Popen(
            argv,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            cwd=cwd,
            env={**environment, "TERM": "xterm-256color"},
            preexec_fn=_controlling_terminal,
        )
        os.close(follower)
        self._screen = pyte.Screen(columns, lines)
        self._stream = pyte.ByteStream(self._screen)
        self._closed = False

    @property
    def screen(self) -> str:
        """What the terminal shows, one line each, trailing blanks removed."""
        return "\n".join(line.rstrip() for line in self._screen.display).rstrip("\n")

    def wait_for(self, text: str, *, timeout: float = 30) -> str:
        """The screen once it shows `text`; AssertionError with the screen if it does not
        within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                raise AssertionError(f"{text!r} not shown; the screen:\n{self.screen}")
            self._read(remaining)
        return self.screen

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def finish(self, *, timeout: float = 60) -> int:
        """The command's exit code, once it exits and all its output is on the screen."""
        deadline = time.monotonic() + timeout
        while not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.process.kill()
                raise AssertionError(f"still running after {timeout} s; the screen:\n{self.screen}")
            self._read(remaining)
        return self.process.wait(timeout=max(deadline - time.monotonic(), 1))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self._master)

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self._master], [], [], min(timeout, 0.5))
        if not ready:
            return
        try:
            data = os.read(self._master, 65536)
        except OSError:  # EIO: every copy of the terminal's other end is closed
            data = b""
        if not data:
            self._closed = True
            return
        self._stream.feed(data)


def _controlling_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is its stdin."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
