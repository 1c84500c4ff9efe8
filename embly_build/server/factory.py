"""Assemble a BuildService from settings: store, toolchain provider, executor, runtimes."""

from __future__ import annotations

from embly_build.errors import EnvironmentProblem, UsageError
from embly_build.server.executors.nix_shell import NixShellExecutor
from embly_build.server.service import BuildService
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains import find_nixexprs_dir, toolchain_provider

EXECUTORS = ("nix",)


def create_service(settings: ServerSettings) -> BuildService:
    if settings.executor not in EXECUTORS:
        raise UsageError(
            f"unknown executor {settings.executor!r}; available: {', '.join(EXECUTORS)}"
        )
    try:
        settings.tmp_dir.mkdir(parents=True, exist_ok=True)
        nixexprs = find_nixexprs_dir()
        executor = NixShellExecutor(nixexprs, settings.tmp_dir)
        toolchains = toolchain_provider(settings.toolchains, settings.home, nixexprs)
        return BuildService(settings, toolchains, executor)
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot keep the build server's state in {exc.filename or settings.home}: "
            f"{exc.strerror or exc}; set EMBLY_HOME (or `embly serve --store DIR` for the "
            "store) to a directory you can write"
        ) from exc
