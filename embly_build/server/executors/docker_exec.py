"""Run build steps with `docker exec` in the server's long-lived build container
(step_container.py), with the container's toolchain and nothing else on PATH.

The exec'd command is constant: a bash script that gets the step's directory and argv as
positional arguments (no user data is parsed by a shell) and the step's environment as the
exec's own, with a marker of the step (EMBLY_STEP) that all its processes inherit. It
starts the step as the leader of a new session, and keeps a watchdog in the container
reading the exec's stdin: stdin reaches end of file when this process closes its
connection to the engine (a cancel, an output callback that raised) or is gone however it
died, and the watchdog then kills the step's group and every process with its marker. When
the step ends, the same is done to whatever it left running, so the exec's output ends
with it.

A cancelled step is awaited until the engine says its exec has ended; should the watchdog
not have done it, a second exec kills the marked processes. A step killed by signal N ends
with status 128 + N, as in a shell. Each step has a temporary directory of its own (TMPDIR,
HOME) in the mounted EMBLY_HOME/tmp, removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiodocker
import aiohttp
from aiodocker.containers import DockerContainer
from aiodocker.execs import Exec
from aiodocker.stream import Stream

from embly_build.errors import BuildFailed, EnvironmentProblem
from embly_build.server.executors.process_group import LineSink
from embly_build.server.executors.step_container import PROBE_PREFIX, StepContainer
from embly_build.server.owned_temp_files import remove_orphaned
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains.base import Toolchain, ToolchainProvider
from embly_build.tasks import shielded

# `kill_marked VALUE` kills every other process of the container whose environment holds
# EMBLY_STEP=VALUE: everything a step starts inherits it, even outside its process group
# (setsid, a daemon). Pure bash, so looking at a process starts none.
_KILL_MARKED = (
    "kill_marked() { local p e; for p in /proc/[0-9]*; do "
    '{ [ "${p#/proc/}" = "$$" ] || [ "${p#/proc/}" = "$BASHPID" ]; } && continue; '
    'while IFS= read -r -d "" e; do '
    'if [ "$e" = "EMBLY_STEP=$1" ]; then kill -KILL "${p#/proc/}"; break; fi; '
    'done <"$p/environ"; done; } 2>/dev/null; '
)
# $1: the step's directory; the rest: its argv. fd 3 keeps the exec's stdin for the
# watchdog (a background command's stdin is /dev/null). setsid, run from a background job
# that leads no group, makes the step a session and group leader in place, so $! is the
# group. `disown` and the silenced `wait` keep bash's job reports out of the step's output.
RUNNER = _KILL_MARKED + (
    'cd -- "$1" || exit; shift; '
    "exec 3<&0; "
    '/usr/bin/setsid "$@" 3<&- </dev/null & step=$!; '
    '{ IFS= read -r -n 1 _ <&3; kill -KILL -- "-$step"; kill_marked "$EMBLY_STEP"; } '
    ">/dev/null 2>&1 & watchdog=$!; "
    'disown "$watchdog"; exec 3<&-; '
    'wait "$step" 2>/dev/null; status=$?; '
    'kill -KILL -- "-$step" "$watchdog" 2>/dev/null; kill_marked "$EMBLY_STEP"; '
    'exit "$status"'
)
# The same from outside, for a step whose runner could not do it: $1 is the marker.
KILL_MARKED = _KILL_MARKED + 'kill_marked "$1"'
STEP_MARKER = "EMBLY_STEP"
BASH = "/usr/bin/bash"  # the image's, to run RUNNER; the step's PATH has only the toolchain
# step-<pid of the server>-<random>: a step's TMPDIR and HOME, in EMBLY_HOME/tmp.
_STEP_TEMP_PREFIX = "docker-step-"
_WATCHDOG_SECONDS = 3.0  # for the exec to end once its stdin is closed
_KILLED_SECONDS = 5.0  # for it to end once its processes are killed by marker
_STOPPING_SECONDS = 1.0  # for the engine to mark stopped a container whose steps were killed
_POLL_SECONDS = 0.05
_KILLED = 128 + 9  # the status of a step SIGKILLed (bash's wait reports 128 + signal)


class DockerExecExecutor:
    def __init__(self, settings: ServerSettings) -> None:
        self.container = StepContainer(settings)
        self._temp_dir = settings.tmp_dir
        self._toolchains = settings.toolchains
        remove_orphaned(self._temp_dir, (_STEP_TEMP_PREFIX, PROBE_PREFIX))

    def toolchain_provider(self) -> ToolchainProvider:
        """The toolchains of the build container, which steps run with."""
        from embly_build.server.toolchains.in_container import ContainerToolchainProvider

        return ContainerToolchainProvider(self.container, self._toolchains)

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
        _check(argv, env)
        container = await self.container.running()
        marker = secrets.token_hex(12)
        temp = self._step_temp_dir()
        try:
            step_env = {
                **env,
                "PATH": str(toolchain.bin_dir),
                "HOME": str(temp),
                "TMPDIR": str(temp),
                STEP_MARKER: marker,
            }
            try:
                execution = await container.exec(
                    cmd=[BASH, "-c", RUNNER, "embly-step", str(cwd), *argv],
                    stdin=True,
                    stdout=True,
                    stderr=True,
                    user=self.container.step_user,
                    environment=step_env,
                )
            except aiodocker.DockerError as error:
                raise self.container.engine_error(error) from error
            return await self._follow(container, execution, marker, on_stdout, on_stderr)
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def prepare(self, toolchain: Toolchain, *, after: float = 0.0, steps: int = 2) -> None:
        """Nothing to start ahead: the container is up, and an exec starts in milliseconds."""

    async def close(self) -> None:
        await self.container.close()

    async def _follow(
        self,
        container: DockerContainer,
        execution: Exec,
        marker: str,
        on_stdout: LineSink,
        on_stderr: LineSink,
    ) -> int:
        """Stream the step's output lines until it ends; its exit status."""
        lines = _Lines({1: on_stdout, 2: on_stderr})
        stream = execution.start(detach=False)
        try:
            try:
                while (message := await stream.read_out()) is not None:
                    lines.feed(message.stream, message.data)
                lines.flush()
            except (aiodocker.DockerError, aiohttp.ClientError) as error:
                raise await self._lost(container, error) from error
        except BaseException:
            await shielded(self._stop(container, execution, stream, marker))
            raise
        await stream.close()
        return await self._exit_status(container, execution)

    async def _exit_status(self, container: DockerContainer, execution: Exec) -> int:
        deadline = time.monotonic() + _WATCHDOG_SECONDS
        while True:
            try:
                state = await execution.inspect()
            except aiodocker.DockerError as error:
                raise await self._lost(container, error) from error
            if not state["Running"] and state["ExitCode"] is not None:
                code = int(state["ExitCode"])
                if code == _KILLED and await self._container_going(container):
                    raise self.container.removed()
                return code
            if time.monotonic() > deadline:
                raise await self._lost(container, None)
            await asyncio.sleep(_POLL_SECONDS)

    async def _lost(
        self, container: DockerContainer, error: BaseException | None
    ) -> EnvironmentProblem:
        """Why a step's exec could not be followed to its end."""
        if not await self.container.runs(container):
            return self.container.removed()
        if isinstance(error, aiodocker.DockerError):
            return self.container.engine_error(error)
        self.container.forget(container)
        return EnvironmentProblem(
            f"lost a build step's output from the build container {self.container.name}"
            + (f" ({error})" if error is not None else "")
            + ": build again"
        )

    async def _container_going(self, container: DockerContainer) -> bool:
        """Whether the container stops within a moment: a step SIGKILLed with it (docker
        rm -f, docker kill) ends before the engine marks the container stopped."""
        deadline = time.monotonic() + _STOPPING_SECONDS
        while await self.container.runs(container):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(_POLL_SECONDS)
        return True

    async def _stop(
        self, container: DockerContainer, execution: Exec, stream: Stream, marker: str
    ) -> None:
        """Make sure nothing of the step runs on: close its stdin (the watchdog kills its
        group), wait until the exec ends, and failing that kill its processes by marker."""
        with contextlib.suppress(Exception):
            await stream.close()
        if await self._ended(execution, _WATCHDOG_SECONDS):
            return
        with contextlib.suppress(Exception):
            argv = [BASH, "-c", KILL_MARKED, "embly-kill", marker]
            await self.container.capture(container, argv, user=self.container.step_user)
        await self._ended(execution, _KILLED_SECONDS)

    async def _ended(self, execution: Exec, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                if not (await execution.inspect())["Running"]:
                    return True
            except aiodocker.DockerError:
                return True  # the exec, or the whole container, is gone
            except Exception:
                return False  # the engine does not answer: nothing more can be done
            await asyncio.sleep(_POLL_SECONDS)
        return False

    def _step_temp_dir(self) -> Path:
        try:
            self._temp_dir.mkdir(parents=True, exist_ok=True)
            prefix = f"{_STEP_TEMP_PREFIX}{os.getpid()}-"
            return Path(tempfile.mkdtemp(prefix=prefix, dir=self._temp_dir))
        except OSError as exc:
            raise BuildFailed(
                f"cannot write a build step's files in {self._temp_dir}: {exc.strerror or exc}"
            ) from exc


class _Lines:
    """Output chunks of each stream split into lines (without their newline)."""

    def __init__(self, sinks: Mapping[int, LineSink]) -> None:
        self._sinks = sinks
        self._partial: dict[int, bytes] = {}

    def feed(self, fd: int, data: bytes) -> None:
        *lines, self._partial[fd] = (self._partial.get(fd, b"") + data).split(b"\n")
        for line in lines:
            self._emit(fd, line)

    def flush(self) -> None:
        partial, self._partial = self._partial, {}
        for fd, rest in partial.items():
            if rest:
                self._emit(fd, rest)

    def _emit(self, fd: int, line: bytes) -> None:
        sink = self._sinks.get(fd)
        if sink is not None:
            sink(line.decode("utf-8", errors="replace"))


def _check(argv: Sequence[str], env: Mapping[str, str]) -> None:
    if not argv:
        raise ValueError("argv is empty")
    for key in env:
        if not key or "=" in key:
            raise ValueError(f"invalid environment variable name {key!r}")
    if any("\0" in entry for entry in (*argv, *env, *env.values())):
        raise ValueError("argv and env cannot contain NUL characters")
