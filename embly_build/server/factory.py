"""Assemble a BuildService from settings: store, toolchain provider, executor, runtimes."""

from __future__ import annotations

from embly_build.errors import EnvironmentProblem
from embly_build.server.executors import executor_factory
from embly_build.server.executors.base import BringsToolchains
from embly_build.server.runtimes import make_runtimes
from embly_build.server.service import BuildService
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains import toolchain_provider


def create_service(settings: ServerSettings) -> BuildService:
    make_executor = executor_factory(settings.executor)
    try:
        executor = make_executor(settings)  # first: it refuses settings it cannot use
        settings.tmp_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(executor, BringsToolchains):
            toolchains = executor.toolchain_provider()
        else:
            toolchains = toolchain_provider(settings.toolchains, settings.home)
        return BuildService(settings, toolchains, executor, make_runtimes())
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot keep the build server's state in {exc.filename or settings.home}: "
            f"{exc.strerror or exc}; set EMBLY_HOME (or `embly serve --store DIR` for the "
            "store) to a directory you can write"
        ) from exc
