"""Shared fixtures: a private EMBLY_HOME for every test and a fresh copy of the example project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.example_project import copy_example

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "hello-project"


@pytest.fixture(autouse=True)
def embly_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "embly-home"
    monkeypatch.setenv("EMBLY_HOME", str(home))
    monkeypatch.setenv("EMBLY_CONFIG", str(tmp_path / "no-user-config.toml"))
    monkeypatch.setenv("EMBLY_TOOLCHAINS", "host")
    # Output buffered as users have it, so a missing flush shows here too.
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    return home


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A copy of examples/hello-project's small functions (outputs and targets left behind)."""
    yield copy_example(tmp_path / "hello-project")
