"""A command in its own process group: output as lines, nothing left running afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

TERM_GRACE_SECONDS = 3.0
DRAIN_SECONDS = 5.0
_POLL_SECONDS = 0.05

LineSink = Callable[[str], None]


async def run_in_process_group(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    on_stdout: LineSink,
    on_stderr: LineSink,
) -> int:
    """Run `command` as the leader of a new process group; return its exit code.

    Its output lines go to the sinks. When it exits, anything it left running in its group
    is killed; when this is cancelled, the group gets SIGTERM, then SIGKILL after a grace.
    """
    loop = asyncio.get_running_loop()
    protocol = _LineProtocol(loop, {1: on_stdout, 2: on_stderr})
    transport, _ = await loop.subprocess_exec(
        lambda: protocol,
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    pgid = transport.get_pid()  # the session leader: its pid is the group id
    try:
        await protocol.exited
        # Leftovers still holding our pipes would keep us waiting; they must not outlive the step.
        _signal_group(pgid, signal.SIGKILL)
        await asyncio.wait([protocol.closed], timeout=DRAIN_SECONDS)
        if protocol.error is not None:
            raise protocol.error
    except BaseException:
        await _uninterrupted(_stop_group(pgid, protocol))
        raise
    finally:
        transport.close()
    returncode = transport.get_returncode()
    assert returncode is not None
    return returncode


async def _stop_group(pgid: int, protocol: _LineProtocol) -> None:
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_group_gone(pgid), TERM_GRACE_SECONDS)
    _signal_group(pgid, signal.SIGKILL)
    await asyncio.wait([protocol.exited], timeout=DRAIN_SECONDS)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_group_gone(pgid), DRAIN_SECONDS)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


async def _group_gone(pgid: int) -> None:
    while _group_alive(pgid):
        await asyncio.sleep(_POLL_SECONDS)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs.

    Zombies do not count: orphans are reaped by init, which in containers may take seconds
    or never happen, and would otherwise stretch every cancellation to the full grace period.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    return any(_runs_in_group(entry, pgid) for entry in proc.iterdir() if entry.name.isdigit())


def _runs_in_group(proc_entry: Path, pgid: int) -> bool:
    try:
        stat = proc_entry.joinpath("stat").read_text()
    except OSError:
        return False
    state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
    return int(group) == pgid and state not in ("Z", "X")


async def _uninterrupted(cleanup: Awaitable[None]) -> None:
    """Await cleanup to the end even if we are cancelled again meanwhile."""
    task = asyncio.ensure_future(cleanup)
    while True:
        try:
            await asyncio.shield(task)
            return
        except asyncio.CancelledError:
            if task.cancelled():
                raise


class _LineProtocol(asyncio.SubprocessProtocol):
    """Splits the child's stdout/stderr into lines and hands them to the sinks."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sinks: Mapping[int, LineSink]) -> None:
        self._sinks = sinks
        self._partial = {fd: b"" for fd in sinks}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.error: BaseException | None = None

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        *lines, self._partial[fd] = (self._partial[fd] + data).split(b"\n")
        for line in lines:
            self._emit(fd, line)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        rest, self._partial[fd] = self._partial.get(fd, b""), b""
        if rest:
            self._emit(fd, rest)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def _emit(self, fd: int, line: bytes) -> None:
        try:
            self._sinks[fd](line.decode("utf-8", errors="replace"))
        except Exception as exc:  # a failing consumer ends the step
            if self.error is None:
                self.error = exc
            if not self.exited.done():
                self.exited.set_exception(exc)
