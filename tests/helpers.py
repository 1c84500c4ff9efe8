"""Running the real `embly` command the way a user does."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The installed entry point, as users run it (`python -m embly_build` run from a project
# directory would import the project's embly_build/ output folder instead of the package).
EMBLY = Path(sys.executable).parent / "embly"


def embly(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EMBLY), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def json_events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def finished_by_function(stdout: str) -> dict[str, dict[str, Any]]:
    return {e["function"]: e for e in json_events(stdout) if e["event"] == "build_finished"}


def leftover_processes(embly_home: Path) -> list[str]:
    """Processes still working in, or pointed at, this test's EMBLY_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(embly_home)) or f"EMBLY_HOME={embly_home}".encode() in environ:
            found.append(f"{proc.name}: {cmdline}")
    return found


def processes_left_after(embly_home: Path, seconds: float) -> list[str]:
    """`leftover_processes`, once they are gone or `seconds` have passed: killed processes
    take a moment to exit."""
    deadline = time.monotonic() + seconds
    while (left := leftover_processes(embly_home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@contextlib.contextmanager
def small_disk(mount_point: Path, size: str, *, inodes: int | None = None) -> Iterator[Path]:
    """A real tmpfs of `size` (mount's syntax: 64k, 4m) at `mount_point`, so writes fail
    with the kernel's own ENOSPC; with `inodes`, room for that many files and directories
    (its root included). The test is skipped where mounting is not allowed."""
    mount_point.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes is not None else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill_inodes(directory: Path) -> list[Path]:
    """Create empty files in `directory` until its disk has room for no more (the kernel's
    ENOSPC); the files made."""
    made: list[Path] = []
    while True:
        filler = directory / f"filler-{len(made)}"
        try:
            filler.touch()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
            return made
        made.append(filler)


@contextlib.contextmanager
def inotify_limit_lowered(name: str, value: int) -> Iterator[Callable[[], None]]:
    """The kernel's real limit `fs.inotify.NAME` set to `value` until the block ends, or the
    function it gives restores it. Skips the test where it cannot be changed (not root)."""
    limit = Path("/proc/sys/fs/inotify") / name
    try:
        original = limit.read_text()
        limit.write_text(f"{value}\n")
    except OSError:
        pytest.skip(f"cannot change fs.inotify.{name} here (needs root)")

    def restore() -> None:
        limit.write_text(original)

    try:
        yield restore
    finally:
        restore()


@contextlib.contextmanager
def embly_serve(socket: Path, store: Path, *options: str) -> Iterator[subprocess.Popen[str]]:
    """A real `embly serve` on `socket` (with `options`, e.g. "--jobs", "1"), listening once
    this yields (its first stderr line read); stopped afterwards (SIGTERM) if still running."""
    server = subprocess.Popen(
        [str(EMBLY), "serve", "--listen", f"unix:{socket}", "--store", str(store), *options],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        assert f"listening on unix:{socket}" in first, first
        yield server
    finally:
        if server.poll() is None:
            server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextlib.contextmanager
def background_daemon(
    argv: list[str],
    log: Path,
    ready: Callable[[], bool],
    *,
    within: float,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` started in a process group of its own, logging to `log`, yielded once `ready()`
    says it serves (within `within` seconds); stopped afterwards: SIGTERM to it, then, once
    it has exited, SIGKILL to whatever of its group is left."""
    with log.open("wb") as log_file:
        daemon = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + within
        while not ready():
            assert daemon.poll() is None, f"{argv[0]} exited at start: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{argv[0]} not ready within {within} s"
            time.sleep(0.05)
        yield daemon
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)
