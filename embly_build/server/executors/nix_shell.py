"""Run build steps inside `nix-shell --pure` with only the toolchain's tools on PATH.

The command line handed to nix-shell is constant: the step's argv travels in a file of
NUL-terminated entries that bash reads into an array and execs, so no user data is ever
parsed by a shell. Environment variables become leading `env K=V` entries.

The step runs in its own process group. When it ends, anything it left running is killed;
when it is cancelled, the whole group gets SIGTERM, then SIGKILL after a short grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.base import NIX_MISSING, OFFLINE_OPTIONS, Toolchain

RUN_ARGV = 'mapfile -d "" -t argv < "$EMBLY_ARGV_FILE" && exec "${argv[@]}"'
TERM_GRACE_SECONDS = 3.0
DRAIN_SECONDS = 5.0
_POLL_SECONDS = 0.05
# What nix-shell itself needs from our environment; --pure drops the rest anyway.
_PASSED_ENV = ("PATH", "HOME", "USER", "TMPDIR")

LineSink = Callable[[str], None]


class NixShellExecutor:
    def __init__(self, nixexprs_dir: Path, temp_dir: Path) -> None:
        self._shell_nix = nixexprs_dir / "shell.nix"
        self._temp_dir = temp_dir
        self._nix_shell = shutil.which("nix-shell")

    async def run(
        self,
        toolchain: Toolchain,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_stdout: LineSink,
        on_stderr: LineSink,
    ) -> int:
        nix_shell = self._preflight(toolchain)
        argv_file = self._write_argv_file(_env_argv(env, argv))
        try:
            command = [
                nix_shell,
                "--pure",
                *OFFLINE_OPTIONS,
                str(self._shell_nix),
                "--argstr",
                "toolchain",
                str(toolchain.store_path),
                "--keep",
                "EMBLY_ARGV_FILE",
                "--run",
                RUN_ARGV,
            ]
            shell_env = _shell_env(toolchain, argv_file)
            return await _run_group(command, cwd, shell_env, on_stdout, on_stderr)
        finally:
            argv_file.unlink(missing_ok=True)

    def _preflight(self, toolchain: Toolchain) -> str:
        """The nix-shell to run, once everything it needs is known to be there."""
        if self._nix_shell is None:
            raise EnvironmentProblem(NIX_MISSING)
        if not self._shell_nix.is_file():
            raise EnvironmentProblem(
                f"{self._shell_nix} is missing: set EMBLY_NIXEXPRS to the `nixexprs` directory "
                "of an embly-build source checkout"
            )
        if (
            not (toolchain.store_path / "setup").is_file()
            or not (toolchain.bin_dir / "bash").exists()
        ):
            raise EnvironmentProblem(
                f"toolchain {toolchain.store_path} is gone or has no bash (garbage-collected?): "
                "provision the toolchain again"
            )
        return self._nix_shell

    def _write_argv_file(self, argv: Sequence[str]) -> Path:
        self._temp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="argv-", dir=self._temp_dir)
        with os.fdopen(fd, "wb") as file:
            file.write(b"".join(os.fsencode(arg) + b"\0" for arg in argv))
        return Path(name)


def _env_argv(env: Mapping[str, str], argv: Sequence[str]) -> list[str]:
    if not argv:
        raise ValueError("argv is empty")
    if "=" in argv[0]:
        raise ValueError(f"argv[0] {argv[0]!r} contains '=': env would read it as a variable")
    for key in env:
        if not key or "=" in key:
            raise ValueError(f"invalid environment variable name {key!r}")
    entries = ["env", *(f"{key}={value}" for key, value in env.items()), *argv]
    if any("\0" in entry for entry in entries):
        raise ValueError("argv and env cannot contain NUL characters")
    return entries


def _shell_env(toolchain: Toolchain, argv_file: Path) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASSED_ENV if key in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("NIX_")})
    env["NIX_BUILD_SHELL"] = str(toolchain.bin_dir / "bash")
    env["EMBLY_ARGV_FILE"] = str(argv_file)
    return env


async def _run_group(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    on_stdout: LineSink,
    on_stderr: LineSink,
) -> int:
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
