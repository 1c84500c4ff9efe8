"""EXECUTORS: the one list of executors, for `embly serve --executor` and the CLI's."""

from __future__ import annotations

from pathlib import Path

import pytest

from embly_build.errors import UsageError
from embly_build.server.executors import DEFAULT_EXECUTOR, EXECUTORS, executor_factory
from embly_build.server.executors.nix_shell import NixShellExecutor
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings


async def test_the_default_executor_is_a_nix_shell(tmp_path: Path) -> None:
    assert DEFAULT_EXECUTOR in EXECUTORS
    executor = executor_factory(DEFAULT_EXECUTOR)(ServerSettings(home=tmp_path))
    try:
        assert isinstance(executor, NixShellExecutor)
    finally:
        await executor.close()


def test_an_unknown_executor_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown executor 'podman'; available: nix"):
        create_service(ServerSettings(home=tmp_path, executor="podman"))
