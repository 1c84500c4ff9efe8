"""Run build steps inside `nix-shell --pure` with only the toolchain's tools on PATH.

The command line handed to nix-shell is constant: the step's argv travels in a file of
NUL-terminated entries that bash reads into an array and execs, so no user data is ever
parsed by a shell. Environment variables become leading `env K=V` entries.

The step runs in its own process group (process_group.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.executors.process_group import LineSink, run_in_process_group
from embly_build.server.toolchains.base import NIX_MISSING, OFFLINE_OPTIONS, Toolchain

RUN_ARGV = 'mapfile -d "" -t argv < "$EMBLY_ARGV_FILE" && exec "${argv[@]}"'
# What nix-shell itself needs from our environment; --pure drops the rest anyway.
_PASSED_ENV = ("PATH", "HOME", "USER", "TMPDIR")


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
            return await run_in_process_group(command, cwd, shell_env, on_stdout, on_stderr)
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
