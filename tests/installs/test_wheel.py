"""embly-build as users install it: a wheel, with pip, into a virtualenv outside the
checkout. Everything it needs (the Nix expressions included) ships inside the package."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.example_project import copy_example
from tests.installs.conftest import REPO, InstalledWheel, isolated_environment

pytestmark = pytest.mark.slow


def test_installed_wheel_imports_nothing_from_the_checkout(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    found = subprocess.run(
        [
            str(installed_wheel.venv / "bin" / "python"),
            "-c",
            "import embly_build.server.toolchains as t; print(t.__file__); "
            "print(t.find_nixexprs_dir())",
        ],
        cwd=tmp_path,
        env=isolated_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    module, nixexprs = (Path(line) for line in found.stdout.splitlines())
    assert module.is_relative_to(installed_wheel.venv)
    assert nixexprs.is_relative_to(installed_wheel.venv)
    assert (nixexprs / "shell.nix").is_file()
    assert not nixexprs.is_relative_to(REPO)


def test_installed_wheel_builds_and_runs_the_example(
    installed_wheel: InstalledWheel, tmp_path: Path
) -> None:
    project = tmp_path / "hello-project"
    copy_example(project)
    env = isolated_environment(EMBLY_HOME=str(tmp_path / "embly-home"))

    built = subprocess.run(
        [str(installed_wheel.embly), "build"], cwd=project, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "3 ok" in built.stderr
    ran = subprocess.run(
        [str(installed_wheel.embly), "run", "shout", "--", "Ada"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.stdout == "*** embly ***\nHELLO, ADA!\n", ran.stderr


def test_wheel_holds_the_nix_expressions_and_the_type_marker(
    installed_wheel: InstalledWheel,
) -> None:
    names = set(zipfile.ZipFile(installed_wheel.wheel).namelist())
    nixexprs = REPO / "embly_build" / "nixexprs"
    shipped = {p.relative_to(REPO).as_posix() for p in nixexprs.rglob("*") if p.is_file()}
    assert shipped <= names
    assert "embly_build/nixexprs/shell.nix" in shipped
    assert "embly_build/py.typed" in names
