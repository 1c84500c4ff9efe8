"""Toolchain providers: where a runtime's pinned build tools come from.

`host` wraps tools installed on this machine (offline); `nixpkgs` fetches pinned ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.base import Toolchain, ToolchainProvider
from embly_build.server.toolchains.host import HostToolchainProvider
from embly_build.server.toolchains.nixpkgs import NixpkgsToolchainProvider

__all__ = [
    "NIXEXPRS_DIR",
    "PROVIDER_KINDS",
    "Toolchain",
    "ToolchainProvider",
    "find_nixexprs_dir",
    "toolchain_provider",
]

NIXEXPRS_ENV = "EMBLY_NIXEXPRS"
PROVIDER_KINDS = ("host", "nixpkgs")


def find_nixexprs_dir() -> Path:
    """$EMBLY_NIXEXPRS, else the `nixexprs/` directory next to the `embly_build` package."""
    override = os.environ.get(NIXEXPRS_ENV)
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[3] / "nixexprs"


NIXEXPRS_DIR = find_nixexprs_dir()


def toolchain_provider(
    kind: str, embly_home: Path, nixexprs_dir: Path | None = None
) -> ToolchainProvider:
    """The provider named by `kind` ("host" or "nixpkgs"), e.g. from $EMBLY_TOOLCHAINS."""
    if kind not in PROVIDER_KINDS:
        raise EnvironmentProblem(
            f"unknown toolchain provider {kind!r}: use one of {', '.join(PROVIDER_KINDS)} "
            "(EMBLY_TOOLCHAINS=host works offline; EMBLY_TOOLCHAINS=nixpkgs is pinned)"
        )
    nixexprs = nixexprs_dir or find_nixexprs_dir()
    if not (nixexprs / "shell.nix").is_file():
        raise EnvironmentProblem(
            f"the Nix expressions are not at {nixexprs}: set {NIXEXPRS_ENV} to the `nixexprs` "
            "directory of an embly-build source checkout"
        )
    if kind == "host":
        return HostToolchainProvider(embly_home, nixexprs)
    return NixpkgsToolchainProvider(embly_home, nixexprs)
