"""Toolchains: the exact set of build tools a runtime needs, held in one Nix store path.

A toolchain's store path has a `bin/` holding only its tools and a `setup` file that sets
PATH to that `bin/`; `nix-shell --pure` sources it, so a build sees nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.nix_options import nix_options

LogSink = Callable[[str], None]

NIX_MISSING = (
    "nix is not installed: install it (Debian/Ubuntu: apt-get install nix-bin; other systems: "
    "see the Nix manual's installation chapter), or build on a machine that has it: "
    "`embly serve` there, `--executor remote --remote ADDR` here"
)

# The tools each runtime's toolchain holds. cc needs ld and as to link build scripts.
RUNTIME_TOOLS: Mapping[str, tuple[str, ...]] = {
    "rust": (
        "bash",
        "env",
        "cargo",
        "rustc",
        "rust-lld",
        "cc",
        "ld",
        "as",
        "wasm-strip",
        "wasm-opt",
    ),
}

_VERSION_ARGS: Mapping[str, tuple[str, ...]] = {
    "rustc": ("-vV",),
    "cargo": ("-vV",),
    "rust-lld": ("-flavor", "wasm", "--version"),
}
_VERSION_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Toolchain:
    runtime: str
    provider: str
    store_path: Path
    identity: str
    """sha256 hex over the store path and the tools' versions: part of every action key."""
    wasm_target: str
    versions: Mapping[str, str] = field(hash=False)
    """Tool name -> first line of its version output (read-only)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))

    @property
    def bin_dir(self) -> Path:
        return self.store_path / "bin"


class ToolchainProvider(Protocol):
    async def provision(self, runtime: str, *, on_log: LogSink | None = None) -> Toolchain:
        """Make the runtime's toolchain available in the Nix store (idempotent)."""
        ...

    def describe(self) -> str:
        """One line saying where this provider's tools come from."""
        ...


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


def runtime_tools(runtime: str) -> tuple[str, ...]:
    tools = RUNTIME_TOOLS.get(runtime)
    if tools is None:
        known = ", ".join(sorted(RUNTIME_TOOLS))
        raise EnvironmentProblem(f"no toolchain is known for runtime {runtime!r} (known: {known})")
    return tools


def toolchain_identity(store_path: Path, versions: Mapping[str, str]) -> str:
    canonical = json.dumps(
        {"store_path": str(store_path), "versions": dict(versions)}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


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


async def tool_versions(tools: Mapping[str, Path]) -> dict[str, str]:
    """Tool name -> full version output; runs all `--version` calls at once."""
    outputs = await asyncio.gather(*(_version_output(name, path) for name, path in tools.items()))
    return dict(zip(tools, outputs, strict=True))


async def _version_output(name: str, path: Path) -> str:
    argv = [str(path), *_VERSION_ARGS.get(name, ("--version",))]
    try:
        result = await run_command(argv, timeout=_VERSION_TIMEOUT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise EnvironmentProblem(f"cannot run {' '.join(argv)}: {exc}") from exc
    # Some tools answer on stderr or exit non-zero; the text still identifies the build.
    return f"{result.stdout}{result.stderr}".strip() or f"exit status {result.returncode}"


async def nix_build(
    expr: Path,
    args: Mapping[str, str],
    *,
    gcroot: Path,
    on_log: LogSink | None,
    offline: bool = True,
) -> CommandResult:
    """nix-build `expr` with `--argstr` args, keeping the result alive with a GC root."""
    argv = [find_nix_tool("nix-build"), str(expr), "-o", str(gcroot)]
    argv += await nix_options(offline=offline)
    for name, value in args.items():
        argv += ["--argstr", name, value]
    gcroot.parent.mkdir(parents=True, exist_ok=True)
    return await run_command(argv, on_stderr_line=on_log)


def built_path(result: CommandResult) -> Path:
    """The store path nix-build printed last."""
    lines = [line for line in result.stdout.splitlines() if line.startswith("/")]
    if not lines:
        raise EnvironmentProblem(
            f"nix-build printed no store path; its output was:\n{result.stderr}"
        )
    return Path(lines[-1])


def stderr_tail(result: CommandResult, lines: int = 15) -> str:
    return "\n".join(result.stderr.splitlines()[-lines:])


class ProvisionCache:
    """One provisioning per runtime per process: concurrent callers share the first result."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._done: dict[str, Toolchain] = {}

    async def get(self, runtime: str, make: Callable[[], Awaitable[Toolchain]]) -> Toolchain:
        async with self._locks.setdefault(runtime, asyncio.Lock()):
            toolchain = self._done.get(runtime)
            if toolchain is None:
                toolchain = await make()
                self._done[runtime] = toolchain
            return toolchain
