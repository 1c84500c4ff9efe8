"""A crate inside an enclosing cargo workspace: the root's files and inherited path
dependencies are inputs."""

from __future__ import annotations

from pathlib import Path

from embly_build.client.inputs.cargo_deps import cargo_inputs
from embly_build.client.inputs.index import index_function
from tests.client.files import crate, write

ROOT = """\
[workspace]
members = ["functions/*", "common"]
exclude = ["functions/standalone"]

[workspace.dependencies]
common = { path = "common" }
unused = { path = "unused" }
serde = "1"

[patch.crates-io]
serde = { path = "vendor/serde" }
"""


def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write(repo / "Cargo.toml", ROOT)
    write(repo / "Cargo.lock", "version = 3\n")
    crate(repo / "common")
    crate(repo / "unused")
    crate(repo / "vendor" / "serde")
    return repo


def test_member_gets_the_root_files_and_inherited_path_dependencies(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    hello = crate(
        repo / "functions" / "hello",
        "[dependencies]\ncommon.workspace = true\nserde = { workspace = true }\n",
    )

    found = cargo_inputs(hello)

    assert found.files == (repo / "Cargo.toml", repo / "Cargo.lock")
    assert set(found.crates) == {repo / "common", repo / "vendor" / "serde"}


def test_index_holds_the_root_files_relative_to_the_workspace(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    hello = crate(repo / "functions" / "hello", "[dependencies]\ncommon.workspace = true\n")
    write(repo / "README.md", "not an input")

    inputs = index_function(hello, [], repo / "embly_build")

    assert inputs.root == repo
    assert inputs.crate_dir == "functions/hello"
    assert inputs.input_files == (repo / "Cargo.toml", repo / "Cargo.lock")
    paths = [f.path for f in inputs.files]
    assert "Cargo.toml" in paths and "Cargo.lock" in paths
    assert "README.md" not in paths
    assert "common/src/lib.rs" in paths and not any(p.startswith("unused/") for p in paths)


def test_excluded_crate_and_own_root_have_no_enclosing_workspace(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    standalone = crate(repo / "functions" / "standalone")
    own_root = crate(repo / "functions" / "own", "[workspace]\n")

    assert cargo_inputs(standalone).files == ()
    assert cargo_inputs(own_root).files == ()


def test_a_workspace_that_does_not_list_the_crate_is_not_its_workspace(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    elsewhere = crate(repo / "tools" / "hello")  # members are functions/* and common

    assert cargo_inputs(elsewhere).files == ()


def test_explicit_package_workspace_key(tmp_path: Path) -> None:
    repo = repository(tmp_path)
    nested = tmp_path / "elsewhere" / "fn"
    write(
        nested / "Cargo.toml",
        f'[package]\nname = "fn"\nworkspace = "{repo}"\n'
        "\n[dependencies]\ncommon.workspace = true\n",
    )

    found = cargo_inputs(nested)

    assert found.files[0] == repo / "Cargo.toml"
    assert repo / "common" in found.crates


def test_crate_outside_any_workspace(tmp_path: Path) -> None:
    alone = crate(tmp_path / "alone")

    assert cargo_inputs(alone).files == ()
