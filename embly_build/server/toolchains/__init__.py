"""Toolchain providers: where a runtime's pinned build tools come from.

`host` wraps tools installed on this machine (offline); `nixpkgs` fetches pinned ones.
PROVIDERS is the one list of them, for the server and the CLI; each provider is a module
of its own, imported only when one is made (the interface is in base.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from embly_build.errors import EnvironmentProblem

if TYPE_CHECKING:
    from embly_build.server.toolchains.base import ToolchainProvider

__all__ = [
    "DEFAULT_PROVIDER",
    "PROVIDERS",
    "ProviderFactory",
    "find_nixexprs_dir",
    "toolchain_provider",
]

NIXEXPRS_ENV = "EMBLY_NIXEXPRS"

# (EMBLY_HOME, the Nix expressions' directory) -> a provider.
ProviderFactory = Callable[[Path, Path], "ToolchainProvider"]


def _host(embly_home: Path, nixexprs_dir: Path) -> ToolchainProvider:
    from embly_build.server.toolchains.host import HostToolchainProvider

    return HostToolchainProvider(embly_home, nixexprs_dir)


def _nixpkgs(embly_home: Path, nixexprs_dir: Path) -> ToolchainProvider:
    from embly_build.server.toolchains.nixpkgs import NixpkgsToolchainProvider

    return NixpkgsToolchainProvider(embly_home, nixexprs_dir)


PROVIDERS: Mapping[str, ProviderFactory] = {"host": _host, "nixpkgs": _nixpkgs}
DEFAULT_PROVIDER = "host"  # works offline


def find_nixexprs_dir() -> Path:
    """$EMBLY_NIXEXPRS, else the `nixexprs/` directory shipped inside the package.

    The one place that reads $EMBLY_NIXEXPRS, each time it is called."""
    override = os.environ.get(NIXEXPRS_ENV)
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2] / "nixexprs"


def toolchain_provider(
    kind: str, embly_home: Path, nixexprs_dir: Path | None = None
) -> ToolchainProvider:
    """The provider named by `kind` (one of PROVIDERS), e.g. from $EMBLY_TOOLCHAINS."""
    make = PROVIDERS.get(kind)
    if make is None:
        raise EnvironmentProblem(
            f"unknown toolchain provider {kind!r}: use one of {', '.join(PROVIDERS)} "
            "(EMBLY_TOOLCHAINS=host works offline; EMBLY_TOOLCHAINS=nixpkgs is pinned)"
        )
    nixexprs = nixexprs_dir or find_nixexprs_dir()
    if not (nixexprs / "shell.nix").is_file():
        raise EnvironmentProblem(
            f"the Nix expressions are not at {nixexprs}: reinstall embly-build (they ship "
            f"inside the package), or set {NIXEXPRS_ENV} to a `nixexprs` directory"
        )
    return make(embly_home, nixexprs)
