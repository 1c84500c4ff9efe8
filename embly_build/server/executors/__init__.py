"""Executors: how a build step runs (the interface is in base.py).

EXECUTORS is the one list of them, for the server and the CLI (`--executor`); each
executor is a module of its own, imported only when one is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from embly_build.errors import UsageError

if TYPE_CHECKING:
    from embly_build.server.executors.base import Executor
    from embly_build.server.settings import ServerSettings

__all__ = ["DEFAULT_EXECUTOR", "EXECUTORS", "ExecutorFactory", "executor_factory"]

ExecutorFactory = Callable[["ServerSettings"], "Executor"]


def _nix_shell(settings: ServerSettings) -> Executor:
    from embly_build.server.executors.nix_shell import NixShellExecutor
    from embly_build.server.toolchains import find_nixexprs_dir

    return NixShellExecutor(find_nixexprs_dir(), settings.tmp_dir)


def _docker_exec(settings: ServerSettings) -> Executor:
    from embly_build.server.executors.docker_exec import DockerExecExecutor

    return DockerExecExecutor(settings)


EXECUTORS: Mapping[str, ExecutorFactory] = {"nix": _nix_shell, "docker": _docker_exec}
DEFAULT_EXECUTOR = "nix"


def executor_factory(name: str) -> ExecutorFactory:
    """How to make the executor called `name`; a UsageError naming the others if none is."""
    make = EXECUTORS.get(name)
    if make is None:
        raise UsageError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}")
    return make
