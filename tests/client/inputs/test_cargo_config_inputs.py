"""The cargo config files a crate is built with in place are inputs, and the directories
they name as registry replacements must be too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from embly_build.client.inputs.cargo_deps import cargo_inputs
from embly_build.client.inputs.index import index_function
from embly_build.errors import InputError
from tests.client.files import crate, write

VENDORED = '[source.crates-io]\nreplace-with = "vendored-sources"\n\n'
VENDORED += '[source.vendored-sources]\ndirectory = "vendor"\n'
FROM_CRATES_IO = '[dependencies]\nserde = "1"\n'


def vendored_project(project: Path) -> Path:
    """`cargo vendor` run at the project root: its config there, beside vendor/."""
    write(project / ".cargo" / "config.toml", VENDORED)
    crate(project / "vendor" / "serde")
    return crate(project / "functions" / "hello", FROM_CRATES_IO)


def paths(project: Path, *sources: Path) -> list[str]:
    inputs = index_function(project / "functions" / "hello", sources, project / "embly_build")
    return [f.path for f in inputs.files]


def test_configs_from_the_crate_up_to_the_project_are_inputs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    hello = crate(project / "functions" / "hello")
    write(tmp_path / ".cargo" / "config.toml", "# above the project: the user's own\n")
    write(project / ".cargo" / "config.toml", "# the project's\n")
    write(project / "functions" / ".cargo" / "config", "# read, not config.toml beside it\n")
    write(project / "functions" / ".cargo" / "config.toml", "# not read\n")

    found = cargo_inputs(hello, project)

    assert found.files == (
        project / ".cargo" / "config.toml",
        project / "functions" / ".cargo" / "config",
    )
    inputs = index_function(hello, [], project / "embly_build")
    assert inputs.root == project
    assert [f.path for f in inputs.files] == [
        ".cargo/config.toml",
        "functions/.cargo/config",
        "functions/hello/Cargo.toml",
        "functions/hello/src/lib.rs",
    ]


def test_in_git_the_repository_root_above_the_project_bounds_them(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    write(repository / ".cargo" / "config.toml", "# the monorepo's\n")
    write(tmp_path / ".cargo" / "config.toml", "# above the repository\n")
    project = repository / "services" / "project"
    hello = crate(project / "hello")

    assert cargo_inputs(hello, project).files == (repository / ".cargo" / "config.toml",)


def test_the_config_in_cargo_home_is_never_an_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"  # a home directory kept in git, the project inside it
    subprocess.run(["git", "init", "-q", str(home)], check=True)
    write(home / ".cargo" / "config.toml", '[build]\nrustflags = ["-Ctarget-cpu=native"]\n')
    hello = crate(home / "project" / "hello")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CARGO_HOME", raising=False)

    assert cargo_inputs(hello, home / "project").files == ()

    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "elsewhere"))
    assert cargo_inputs(hello, home / "project").files == (home / ".cargo" / "config.toml",)


def test_a_vendor_directory_in_sources_is_indexed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    vendored_project(project)

    assert paths(project, project / "vendor") == [
        ".cargo/config.toml",
        "functions/hello/Cargo.toml",
        "functions/hello/src/lib.rs",
        "vendor/serde/Cargo.toml",
        "vendor/serde/src/lib.rs",
    ]


def test_a_vendor_directory_left_out_of_sources_is_named_with_the_fix(tmp_path: Path) -> None:
    project = tmp_path / "project"
    vendored_project(project)

    with pytest.raises(InputError) as raised:
        paths(project)

    message = str(raised.value)
    assert message.startswith(f"{project / '.cargo' / 'config.toml'}: [source.vendored-sources]")
    assert f'directory = "vendor" names {project / "vendor"}' in message
    assert 'add "./vendor" to the function\'s `sources` in embly.hcl' in message


def test_a_missing_vendor_directory_says_to_run_cargo_vendor(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project / ".cargo" / "config.toml", VENDORED)
    crate(project / "functions" / "hello", FROM_CRATES_IO)

    with pytest.raises(InputError, match=r"which is not a directory.*run `cargo vendor`"):
        paths(project)


def test_a_vendor_directory_whose_files_are_all_ignored_is_named(tmp_path: Path) -> None:
    project = tmp_path / "project"
    vendored_project(project)
    write(project / "vendor" / ".gitignore", "*\n")

    with pytest.raises(InputError, match=r"none of its files is an input: an ignore rule"):
        paths(project, project / "vendor")


def test_a_crate_without_registry_dependencies_needs_no_vendor_directory(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    write(project / ".cargo" / "config.toml", VENDORED)
    crate(project / "common")
    crate(project / "functions" / "hello", '[dependencies]\ncommon = { path = "../../common" }\n')

    assert ".cargo/config.toml" in paths(project)


def test_a_registry_dependency_of_a_path_dependency_needs_it_too(tmp_path: Path) -> None:
    project = tmp_path / "project"
    vendored_project(project)
    crate(project / "common", FROM_CRATES_IO)
    crate(project / "functions" / "hello", '[dependencies]\ncommon = { path = "../../common" }\n')

    with pytest.raises(InputError, match="not among the inputs"):
        paths(project)


def test_the_nearest_config_decides_which_directory_replaces_the_registry(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    vendored_project(project)  # vendor/ at the root, not in sources: no longer used
    write(
        project / "functions" / ".cargo" / "config.toml",
        '[source.crates-io]\nreplace-with = "local"\n\n[source.local]\ndirectory = "crates"\n',
    )
    crate(project / "functions" / "crates" / "serde")

    with pytest.raises(InputError) as raised:
        paths(project, project / "vendor")
    assert f"{project / 'functions' / '.cargo' / 'config.toml'}: [source.local]" in str(
        raised.value
    )
    assert 'add "./functions/crates"' in str(raised.value)

    assert "functions/crates/serde/Cargo.toml" in paths(project, project / "functions" / "crates")


def test_a_configs_patch_crates_are_inputs(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(
        project / ".cargo" / "config.toml",
        '[patch.crates-io]\nserde = { path = "patched/serde" }\n',
    )
    patched = crate(project / "patched" / "serde")
    hello = crate(project / "functions" / "hello", FROM_CRATES_IO)

    assert cargo_inputs(hello, project).crates == (patched,)


def test_a_config_that_is_not_toml_is_named(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project / ".cargo" / "config.toml", "[source\n")
    crate(project / "functions" / "hello")

    with pytest.raises(InputError, match=r"config\.toml is not valid TOML"):
        paths(project)
