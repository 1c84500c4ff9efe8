"""Fixtures of the input tests that compare with git."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def git_config_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration (a global excludes file) in the way."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def warned(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The warnings said so far about the inputs."""
    caplog.set_level(logging.WARNING, logger="embly.inputs")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "embly.inputs"]
