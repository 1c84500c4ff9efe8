"""Which files outside a function's inputs decide what they are, for `embly watch`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from embly_build.client.inputs.deciding_files import deciding_files
from embly_build.client.inputs.index import FunctionInputs


def inputs_of(*directories: Path) -> FunctionInputs:
    for directory in directories:
        directory.mkdir(parents=True, exist_ok=True)
    return FunctionInputs(
        root=directories[0], crate_dir=".", input_dirs=directories, files=(), directories=()
    )


def test_outside_git_the_directories_up_to_the_project_decide(tmp_path: Path) -> None:
    project = tmp_path / "project"
    deciding = deciding_files({"greeter": inputs_of(project / "fns" / "greeter")}, project)

    assert deciding.directories() == {project, project / "fns"}
    for name in (".gitignore", "Cargo.toml", ".git"):
        assert deciding.functions_of(project / name) == {"greeter"}
        assert deciding.functions_of(project / "fns" / name) == {"greeter"}
    assert deciding.functions_of(project / "notes.txt") == set()
    assert deciding.functions_of(tmp_path / ".gitignore") == set(), "above the project"


def test_in_git_the_directories_up_to_the_repository_and_its_exclude_decide(
    tmp_path: Path,
) -> None:
    repository = tmp_path / "repo"
    project = repository / "project"
    shared = repository / "shared"
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    deciding = deciding_files(
        {"greeter": inputs_of(project / "greeter", shared), "shout": inputs_of(shared)}, project
    )

    assert {repository, project, repository / ".git" / "info"} <= deciding.directories()
    assert deciding.functions_of(repository / ".gitignore") == {"greeter", "shout"}
    assert deciding.functions_of(project / "Cargo.toml") == {"greeter"}
    exclude = repository / ".git" / "info" / "exclude"
    assert deciding.affected([exclude]) == {"greeter", "shout"}
    assert deciding.functions_of(tmp_path / ".gitignore") == set(), "above the repository"


def test_outside_the_project_and_git_only_the_parent_decides(tmp_path: Path) -> None:
    project = tmp_path / "project"
    elsewhere = tmp_path / "elsewhere" / "words"
    deciding = deciding_files({"shout": inputs_of(elsewhere)}, project)

    assert deciding.directories() == {elsewhere.parent}
