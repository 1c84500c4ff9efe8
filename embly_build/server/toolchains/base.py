"""Toolchains: the exact set of build tools a runtime needs, held in one Nix store path.

A toolchain's store path has a `bin/` holding only its tools and a `setup` file that sets
PATH to that `bin/`; `nix-shell --pure` sources it, so a build sees nothing else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from embly_build.errors import EnvironmentProblem

LogSink = Callable[[str], None]

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
