"""A cargo config file made above a function's crate, or the `.cargo` directory that will
hold it, decides the function's inputs, for `embly watch`."""

from __future__ import annotations

from pathlib import Path

from embly_build.client.inputs.deciding_files import deciding_files
from embly_build.client.inputs.index import FunctionInputs


def inputs_of(root: Path, crate_dir: str) -> FunctionInputs:
    (root / crate_dir).mkdir(parents=True, exist_ok=True)
    return FunctionInputs(
        root=root, crate_dir=crate_dir, input_dirs=(root / crate_dir,), files=(), directories=()
    )


def test_config_files_above_the_crate_decide_up_to_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    deciding = deciding_files({"hello": inputs_of(project, "functions/hello")}, project)

    for directory in (project, project / "functions"):
        assert deciding.functions_of(directory / ".cargo") == {"hello"}
        assert deciding.functions_of(directory / ".cargo" / "config.toml") == {"hello"}
        assert deciding.functions_of(directory / ".cargo" / "config") == {"hello"}
    assert deciding.functions_of(project / ".cargo" / "credentials.toml") == set()
    assert deciding.functions_of(tmp_path / ".cargo" / "config.toml") == set(), "above"


def test_a_cargo_directory_is_watched_once_it_exists(tmp_path: Path) -> None:
    project = tmp_path / "project"
    deciding = deciding_files({"hello": inputs_of(project, "hello")}, project)
    assert project / ".cargo" not in deciding.directories()
    assert not deciding.watch_more([project / ".cargo"])

    (project / ".cargo").mkdir()

    assert deciding.watch_more([project / ".cargo"]), "watching must start again"
    again = deciding_files({"hello": inputs_of(project, "hello")}, project)
    assert project / ".cargo" in again.directories()
    assert not again.watch_more([project / "hello" / ".cargo"]), "the walk finds that one"
