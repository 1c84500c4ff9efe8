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
    "PROVIDER_KINDS",
    "Toolchain",
    "ToolchainProvider",
    "find_nixexprs_dir",
    "toolchain_provider",
]

NIXEXPRS_ENV = "EMBLY_NIXEXPRS"
PROVIDER_KINDS = ("host", "nixpkgs")


def find_nixexprs_dir() -> Path:
    """$EMBLY_NIXEXPRS, else the `nixexprs/` directory shipped inside the package."""
    override = os.environ.get(NIXEXPRS_ENV)
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2] / "nixexprs"


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
            f"the Nix expressions are not at {nixexprs}: reinstall embly-build (they ship "
            f"inside the package), or set {NIXEXPRS_ENV} to a `nixexprs` directory"
        )
    if kind == "host":
        return HostToolchainProvider(embly_home, nixexprs)
    return NixpkgsToolchainProvider(embly_home, nixexprs)
