"""Run build steps inside `nix-shell --pure` with only the toolchain's tools on PATH.

The command line handed to nix-shell is constant: the step's argv travels in a file of
NUL-terminated entries that bash reads into an array and execs, so no user data is ever
parsed by a shell. The shell reads that file's name from its stdin; the file starts with
the step's working directory, and environment variables become leading `env K=V` entries.

Starting nix-shell takes longer than many steps (it evaluates the shell expression and
sources the toolchain's setup). `prepare()` starts shells ahead of the next build's steps
(compile, then post-processing), to wait, idle, for their file names; a build asks for them
when it ends, so the next build (the next save in `embly watch`) runs both steps without
waiting for a shell. Starting a shell keeps a core busy for about 20 ms, so they are not
started while anything else runs: not during cargo (on two cores that build would slow down
by as much as it saves), nor right as a build ends, while its client fetches and writes the
artifacts (that took 10 ms longer). When no shell is ready (a fresh process, or a save right
after a build), the compile starts the post-processing's shell beside its own. A waiting
shell exits when its stdin closes, so none outlives this process; `close()` stops them
sooner, and calls off those not started yet. A running step's process group is killed when
this process is gone, however it died (see RUN_ARGV).

Each step runs in its own process group (process_group.py), with a temporary directory of
its own as TMPDIR: nix-shell's files and the step's (rustc's) go there, and it is removed
when the group is gone, so a shell killed while it starts or a step cancelled midway leaves
nothing behind. Those of a process that died without cleaning up are removed by the next
executor on the same directory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from embly_build.errors import BuildFailed, EnvironmentProblem
from embly_build.server.executors.process_group import LineSink, ProcessGroup
from embly_build.server.owned_temp_files import remove_orphaned
from embly_build.server.toolchains.base import Toolchain
from embly_build.server.toolchains.nix.commands import NIX_MISSING
from embly_build.server.toolchains.nix.failures import nix_hint
from embly_build.server.toolchains.nix.options import nix_options
from embly_build.tasks import TaskOwner

# The file holds the step's directory, then `env K=V... argv`. Stdin stays open while this
# process waits for the step: a watchdog in the step's process group waits for its end of
# file, which comes when this process is gone however it died (SIGKILL, out of memory), and
# then kills the group, so no cargo or rustc outlives it. (A background command's stdin is
# /dev/null, hence the copy on fd 3.)
# Before anything else, the shell marks that it started (`: >` needs no coreutils), so a
# failure of nix-shell itself (no daemon, a broken expression) is told from the step's.
RUN_ARGV = (
    'IFS= read -r -d "" argv_file || exit 0; : > "$argv_file.started"; '
    'mapfile -d "" -t argv < "$argv_file" '
    '&& cd -- "${argv[0]}" || exit; '
    "exec 3<&0; { IFS= read -r -n 1 _ <&3; kill -KILL 0; } & "
    'exec "${argv[@]:1}" 3<&- </dev/null'
)
# A build's steps that each run in a shell: the compile, then post-processing (a build
# with a quick result has one more: wasm-strip, then wasm-opt).
SHELLS_PER_BUILD = 2
# Of a nix-shell that failed to start, the last lines of its errors to show.
_SHELL_ERROR_LINES = 10
# The name of the tasks that start shells for a next build: the server's, not a build's.
SHELL_START_TASK = "embly: start a nix-shell for the next build"
# What nix-shell itself needs from our environment (with NIX_*: where its settings are, as
# for our other nix commands); --pure drops the rest anyway.
_PASSED_ENV = ("PATH", "HOME", "USER", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS")
# A shell's temporary directory: shell-<pid of the process that started it>-<random>; a
# step's argv file: argv-<pid>-<random>.
_SHELL_TEMP_PREFIX = "shell-"
_ARGV_FILE_PREFIX = "argv-"
_OWNED_PREFIXES = (_SHELL_TEMP_PREFIX, _ARGV_FILE_PREFIX)


class NixShellExecutor:
    def __init__(self, nixexprs_dir: Path, temp_dir: Path) -> None:
        self._shell_nix = nixexprs_dir / "shell.nix"
        self._temp_dir = temp_dir
        self._nix_shell = shutil.which("nix-shell")
        self._starting = TaskOwner()  # every shell start, until it ends or close() ends it
        self._waiting: dict[Path, list[asyncio.Task[ProcessGroup]]] = {}  # by toolchain
        self._planned: set[asyncio.TimerHandle] = set()  # prepare() calls yet to come
        remove_orphaned_temp_dirs(temp_dir)

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
        argv_file = self._write_argv_file(_env_argv(cwd, env, argv))
        started = argv_file.with_name(argv_file.name + ".started")
        last_lines: collections.deque[str] = collections.deque(maxlen=_SHELL_ERROR_LINES)

        def stderr_line(line: str) -> None:
            last_lines.append(line)
            on_stderr(line)

        try:
            shell = await self._shell(nix_shell, toolchain)
            try:
                shell.send(os.fsencode(argv_file) + b"\0")
            except BaseException:
                shell.kill()
                raise
            returncode = await shell.wait(on_stdout, stderr_line)
            if returncode != 0 and not started.exists():
                raise _shell_failed("\n".join(last_lines))
            return returncode
        finally:
            argv_file.unlink(missing_ok=True)
            started.unlink(missing_ok=True)

    def prepare(
        self, toolchain: Toolchain, *, after: float = 0.0, steps: int = SHELLS_PER_BUILD
    ) -> None:
        """Have shells wait for the `steps` steps of the next build with `toolchain`, started
        `after` seconds from now."""
        if self._nix_shell is None:
            return
        if after > 0:
            self._plan(after, toolchain, steps)
            return
        waiting = self._waiting.setdefault(toolchain.store_path, [])
        while len(waiting) < steps:
            start = self._start_shell(self._nix_shell, toolchain)
            waiting.append(self._starting.start(start, name=SHELL_START_TASK))

    def _plan(self, delay: float, toolchain: Toolchain, steps: int) -> None:
        def start() -> None:
            self._planned.discard(handle)
            self.prepare(toolchain, steps=steps)

        handle = asyncio.get_running_loop().call_later(delay, start)
        self._planned.add(handle)

    async def close(self) -> None:
        """Stop the shells waiting for a step, and wait until they have exited; start no more."""
        for handle in self._planned:
            handle.cancel()
        self._planned.clear()
        waiting, self._waiting = self._waiting, {}
        await self._starting.close()  # asyncio kills a process that was being started
        for task in itertools.chain.from_iterable(waiting.values()):
            if task.get_loop() is not asyncio.get_running_loop():
                _discard(task)  # started by an event loop that has ended
            elif not task.cancelled() and task.exception() is None:
                await task.result().stop()

    async def _shell(self, nix_shell: str, toolchain: Toolchain) -> ProcessGroup:
        """A shell for `toolchain` waiting for its step: a started one, else a new one."""
        shell = await self._waiting_shell(toolchain)
        if shell is None:
            self.prepare(toolchain)  # this step's shell and the next one's, side by side
            shell = await self._waiting_shell(toolchain)
        return shell or await self._start_shell(nix_shell, toolchain)

    async def _waiting_shell(self, toolchain: Toolchain) -> ProcessGroup | None:
        waiting = self._waiting.get(toolchain.store_path, [])
        while waiting:
            task = waiting.pop(0)
            if task.get_loop() is not asyncio.get_running_loop():
                _discard(task)  # started by an event loop that has ended
                continue
            with contextlib.suppress(Exception):
                shell = await task
                if shell.running:
                    return shell
                shell.kill()
        return None

    async def _start_shell(self, nix_shell: str, toolchain: Toolchain) -> ProcessGroup:
        command = [
            nix_shell,
            "--pure",
            *await nix_options(),
            str(self._shell_nix),
            "--argstr",
            "toolchain",
            str(toolchain.store_path),
            "--run",
            RUN_ARGV,
        ]
        # Waiting in our own directory, a shell is easy to tell as ours (and to find).
        try:
            self._temp_dir.mkdir(parents=True, exist_ok=True)
            shell_temp = Path(
                tempfile.mkdtemp(prefix=f"{_SHELL_TEMP_PREFIX}{os.getpid()}-", dir=self._temp_dir)
            )
        except OSError as exc:
            raise self._cannot_write(exc) from exc
        env = {**_shell_env(toolchain), "TMPDIR": str(shell_temp)}
        return await ProcessGroup.start(
            command, self._temp_dir, env, stdin=True, temp_dir=shell_temp
        )

    def _preflight(self, toolchain: Toolchain) -> str:
        """The nix-shell to run, once everything it needs is known to be there."""
        if self._nix_shell is None:
            raise EnvironmentProblem(NIX_MISSING)
        if not self._shell_nix.is_file():
            raise EnvironmentProblem(
                f"{self._shell_nix} is missing: reinstall embly-build (the Nix expressions "
                "ship inside the package), or set EMBLY_NIXEXPRS to a `nixexprs` directory"
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
        data = b"".join(os.fsencode(arg) + b"\0" for arg in argv)
        try:
            self._temp_dir.mkdir(parents=True, exist_ok=True)
            prefix = f"{_ARGV_FILE_PREFIX}{os.getpid()}-"
            fd, name = tempfile.mkstemp(prefix=prefix, dir=self._temp_dir)
        except OSError as exc:
            raise self._cannot_write(exc) from exc
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        except OSError as exc:
            os.unlink(name)
            raise self._cannot_write(exc) from exc
        return Path(name)

    def _cannot_write(self, exc: OSError) -> BuildFailed:
        return BuildFailed(
            f"cannot write a build step's files in {self._temp_dir}: {exc.strerror or exc}"
        )


def remove_orphaned_temp_dirs(temp_dir: Path) -> None:
    """Remove the shells' temporary directories and the steps' argv files left by processes
    that are gone (killed before they could clean up). Their shells died with them (see
    RUN_ARGV)."""
    remove_orphaned(temp_dir, _OWNED_PREFIXES)


def _discard(waiting: asyncio.Task[ProcessGroup]) -> None:
    if not waiting.done():
        with contextlib.suppress(RuntimeError):  # its event loop may be closed already
            waiting.cancel()  # asyncio kills the process if it was started meanwhile
    elif not waiting.cancelled() and waiting.exception() is None:
        waiting.result().kill()


def _env_argv(cwd: Path, env: Mapping[str, str], argv: Sequence[str]) -> list[str]:
    if not argv:
        raise ValueError("argv is empty")
    if "=" in argv[0]:
        raise ValueError(f"argv[0] {argv[0]!r} contains '=': env would read it as a variable")
    for key in env:
        if not key or "=" in key:
            raise ValueError(f"invalid environment variable name {key!r}")
    entries = [str(cwd), "env", *(f"{key}={value}" for key, value in env.items()), *argv]
    if any("\0" in entry for entry in entries):
        raise ValueError("argv and env cannot contain NUL characters")
    return entries


def _shell_env(toolchain: Toolchain) -> dict[str, str]:
    env = {key: os.environ[key] for key in _PASSED_ENV if key in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("NIX_")})
    env["NIX_BUILD_SHELL"] = str(toolchain.bin_dir / "bash")
    return env


def _shell_failed(output: str) -> EnvironmentProblem:
    hint = nix_hint(output)
    return EnvironmentProblem(
        "nix-shell could not start the build's shell:\n"
        + output.replace("\n(use '--show-trace' to show detailed location information)", "")
        + (f"\n{hint}" if hint else "")
    )
