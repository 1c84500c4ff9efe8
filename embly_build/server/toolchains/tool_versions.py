"""What each tool of a toolchain says its version is: part of the toolchain's identity."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.nix.commands import run_command

_VERSION_ARGS: Mapping[str, tuple[str, ...]] = {
    "rustc": ("-vV",),
    "cargo": ("-vV",),
    "rust-lld": ("-flavor", "wasm", "--version"),
}
_VERSION_TIMEOUT_SECONDS = 30.0


async def tool_versions(tools: Mapping[str, Path]) -> dict[str, str]:
    """Tool name -> full version output; runs all `--version` calls at once."""
    outputs = await asyncio.gather(*(_version_output(name, path) for name, path in tools.items()))
    return dict(zip(tools, outputs, strict=True))


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


async def _version_output(name: str, path: Path) -> str:
    argv = [str(path), *_VERSION_ARGS.get(name, ("--version",))]
    try:
        result = await run_command(argv, timeout=_VERSION_TIMEOUT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise EnvironmentProblem(f"cannot run {' '.join(argv)}: {exc}") from exc
    # Some tools answer on stderr or exit non-zero; the text still identifies the build.
    return f"{result.stdout}{result.stderr}".strip() or f"exit status {result.returncode}"
