"""Which build server `--executor` (or the user config's `executor`) asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from embly_build.cli.connect import resolve
from embly_build.cli.options import ClientOptions
from embly_build.errors import UsageError
from embly_build.server.executors import DEFAULT_EXECUTOR


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBLY_CONFIG", str(tmp_path / "config.toml"))


def test_the_default_is_an_in_process_server_with_the_default_executor() -> None:
    resolved = resolve(ClientOptions())
    assert resolved.address == "inproc"
    assert resolved.settings is not None and resolved.settings.executor == DEFAULT_EXECUTOR


def test_an_unknown_executor_lists_the_choices() -> None:
    with pytest.raises(UsageError, match="unknown executor 'podman'; choose one of nix, docker"):
        resolve(ClientOptions(executor="podman"))


def test_docker_says_it_is_not_in_this_version() -> None:
    with pytest.raises(UsageError, match="docker executor is not available in this version"):
        resolve(ClientOptions(executor="docker"))
