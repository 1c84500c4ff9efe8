"""Running nix (and other tools) to completion: find the command, run it, read its result."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.base import LogSink

NIX_MISSING = (
    "nix is not installed: install it (Debian/Ubuntu: apt-get install nix-bin; other systems: "
    "see the Nix manual's installation chapter), or build on a machine that has it: "
    "`embly serve` there, `--executor remote --remote ADDR` here"
)


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


def find_nix_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EnvironmentProblem(NIX_MISSING)
    return path


async def run_command(
    argv: Sequence[str], *, on_stderr_line: LogSink | None = None, timeout: float | None = None
) -> CommandResult:
    """Run argv to completion, streaming stderr lines; stops the process if cancelled."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await asyncio.gather(
                proc.stdout.read(), _collect_lines(proc.stderr, on_stderr_line)
            )
            returncode = await proc.wait()
    except BaseException:
        await _stop(proc)
        raise
    return CommandResult(returncode, stdout.decode(errors="replace"), stderr)


async def _collect_lines(stream: asyncio.StreamReader, sink: LogSink | None) -> str:
    lines = []
    async for raw in stream:
        line = raw.decode(errors="replace").rstrip("\n")
        lines.append(line)
        if sink is not None:
            sink(line)
    return "\n".join(lines)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()  # nix-build stops its builders on SIGTERM
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
            return
        except TimeoutError:
            proc.kill()
    await proc.wait()


def printed_path(result: CommandResult) -> Path | None:
    """The store path a nix command printed last on stdout; None when it printed none."""
    lines = [line for line in result.stdout.splitlines() if line.startswith("/")]
    return Path(lines[-1]) if lines else None


def built_path(result: CommandResult) -> Path:
    """The store path nix-build printed last."""
    path = printed_path(result)
    if path is None:
        raise EnvironmentProblem(
            f"nix-build printed no store path; its output was:\n{result.stderr}"
        )
    return path


def stderr_tail(result: CommandResult, lines: int = 15) -> str:
    return "\n".join(result.stderr.splitlines()[-lines:])
