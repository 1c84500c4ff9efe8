"""A command in its own process group: output as lines, nothing left running afterwards,
and nothing left in the directory it was given for its temporary files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from embly_build.tasks import shielded

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
    """Run `command` as the leader of a new process group; return its exit code (see
    `ProcessGroup.wait`)."""
    group = await ProcessGroup.start(command, cwd, env)
    return await group.wait(on_stdout, on_stderr)


class ProcessGroup:
    """A command started as the leader of a new process group.

    It may be started before its work is known, waiting on its stdin (`send` gives it the
    work), and before anyone listens to it: output lines are kept until `wait` names where
    they go.

    `temp_dir`, when given, is the group's own directory for temporary files: it is removed
    once the group is gone, however it ended.
    """

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _LineProtocol,
        temp_dir: Path | None = None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._temp_dir = temp_dir
        self.pgid = transport.get_pid()  # the session leader: its pid is the group id

    @classmethod
    async def start(
        cls,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        *,
        stdin: bool = False,
        temp_dir: Path | None = None,
    ) -> ProcessGroup:
        loop = asyncio.get_running_loop()
        protocol = _LineProtocol(loop)
        try:
            transport, _ = await loop.subprocess_exec(
                lambda: protocol,
                *command,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            _remove(temp_dir)
            raise
        return cls(transport, protocol, temp_dir)

    @property
    def running(self) -> bool:
        return self._transport.get_returncode() is None

    def send(self, data: bytes) -> None:
        """Write `data` to the command's stdin. It stays open until the command is done (or
        this process is gone): a command may take its end of file as its owner's death."""
        pipe = self._transport.get_pipe_transport(0)
        assert isinstance(pipe, asyncio.WriteTransport), "started without stdin"
        pipe.write(data)

    async def wait(self, on_stdout: LineSink, on_stderr: LineSink) -> int:
        """Stream the output lines to the sinks until the command exits; return its exit code.

        When it exits, anything it left running in its group is killed; when this is
        cancelled, the group gets SIGTERM, then SIGKILL after a grace.
        """
        protocol = self._protocol
        protocol.attach({1: on_stdout, 2: on_stderr})
        try:
            await protocol.exited
            # Leftovers still holding our pipes would keep us waiting; they must not outlive
            # the step.
            _signal_group(self.pgid, signal.SIGKILL)
            await asyncio.wait([protocol.closed], timeout=DRAIN_SECONDS)
            if protocol.error is not None:
                raise protocol.error
        except BaseException:
            await shielded(_stop_group(self.pgid, protocol))  # even if cancelled again
            raise
        finally:
            self._transport.close()
            _remove(self._temp_dir)
        returncode = self._transport.get_returncode()
        assert returncode is not None
        return returncode

    def kill(self) -> None:
        """Kill the whole group at once, for a command that was never given its work."""
        _signal_group(self.pgid, signal.SIGKILL)

        def exited(_: object) -> None:
            # Closed before asyncio has seen the exit, the transport would reap the child
            # itself and asyncio would then warn, on the user's terminal, that its exit status
            # was lost.
            self._transport.close()
            _remove(self._temp_dir)

        try:
            self._protocol.exited.add_done_callback(exited)
        except RuntimeError:  # its event loop is closed: the killed group is gone or going
            _remove(self._temp_dir)

    async def stop(self) -> None:
        """`kill`, then wait until the command has exited (and is reaped)."""
        self.kill()
        await asyncio.wait([self._protocol.exited], timeout=DRAIN_SECONDS)


def _remove(temp_dir: Path | None) -> None:
    if temp_dir is not None:
        shutil.rmtree(temp_dir, ignore_errors=True)


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


class _LineProtocol(asyncio.SubprocessProtocol):
    """Splits the child's stdout/stderr into lines and hands them to the sinks, keeping the
    lines that come before the sinks are attached."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sinks: Mapping[int, LineSink] | None = None
        self._early: list[tuple[int, bytes]] = []
        self._partial = {1: b"", 2: b""}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.error: BaseException | None = None

    def attach(self, sinks: Mapping[int, LineSink]) -> None:
        self._sinks = sinks
        early, self._early = self._early, []
        for fd, line in early:
            self._emit(fd, line)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        *lines, self._partial[fd] = (self._partial.get(fd, b"") + data).split(b"\n")
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
        if self._sinks is None:
            self._early.append((fd, line))
            return
        sink = self._sinks.get(fd)
        if sink is None:
            return
        try:
            sink(line.decode("utf-8", errors="replace"))
        except Exception as exc:  # a failing consumer ends the step
            if self.error is None:
                self.error = exc
            if not self.exited.done():
                self.exited.set_exception(exc)
