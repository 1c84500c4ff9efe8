from __future__ import annotations

from pathlib import Path

import pytest

from embly_build.client.inputs.cargo_deps import local_path_dependencies
from embly_build.errors import InputError
from tests.client.files import crate


def test_transitive_with_cycle_rename_target_and_outside_dep(tmp_path: Path) -> None:
    project = tmp_path / "project"
    a = crate(
        project / "a",
        """
[dependencies]
serde = "1"
b = { path = "../b" }
renamed = { package = "real-name", path = "../renamed" }

[target.'cfg(target_arch = "wasm32")'.dependencies]
wasm-only = { path = "../wasm-only" }
""",
    )
    crate(
        project / "b",
        """
[dependencies]
a = { path = "../a" }
c = { path = "../c", version = "0.1" }
""",
    )
    crate(project / "c", "")
    crate(project / "renamed", "[dependencies]\nshared = { path = '../../shared' }\n")
    crate(project / "wasm-only", "")
    crate(tmp_path / "shared", "")

    assert local_path_dependencies(a) == [
        project / "b",
        project / "renamed",
        project / "wasm-only",
        project / "c",
        tmp_path / "shared",
    ]


def test_dev_build_patch_and_replace_entries(tmp_path: Path) -> None:
    a = crate(
        tmp_path / "a",
        """
[dev-dependencies]
testing = { path = "../testing" }

[build-dependencies]
codegen = { path = "../codegen" }

[target.'cfg(unix)'.dev-dependencies]
unix-testing = { path = "../unix-testing" }

[patch.crates-io]
log = { path = "../forks/log" }

[replace]
"time:0.1.0" = { path = "../forks/time" }
""",
    )
    for name in ["testing", "codegen", "unix-testing", "forks/log", "forks/time"]:
        crate(tmp_path / name, "")

    assert local_path_dependencies(a) == [
        tmp_path / "testing",
        tmp_path / "codegen",
        tmp_path / "unix-testing",
        tmp_path / "forks" / "log",
        tmp_path / "forks" / "time",
    ]


def test_no_path_dependencies(tmp_path: Path) -> None:
    a = crate(tmp_path / "a", '[dependencies]\nserde = { version = "1", features = ["derive"] }\n')

    assert local_path_dependencies(a) == []


def test_relative_crate_dir_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crate(tmp_path / "a", '[dependencies]\nb = { path = "../b" }\n')
    crate(tmp_path / "b", "")
    monkeypatch.chdir(tmp_path)

    assert local_path_dependencies(Path("a")) == [tmp_path / "b"]


def test_malformed_manifest_names_file_and_position(tmp_path: Path) -> None:
    a = crate(tmp_path / "a", '[dependencies]\nb = { path = "../b" }\n')
    b = tmp_path / "b"
    b.mkdir()
    (b / "Cargo.toml").write_text('[package]\nname = "b"\nversion = \n')

    with pytest.raises(InputError) as caught:
        local_path_dependencies(a)

    assert str(b / "Cargo.toml") in str(caught.value)
    assert "line 3, column" in str(caught.value)


def test_missing_dependency_names_the_declaring_manifest(tmp_path: Path) -> None:
    a = crate(tmp_path / "a", '[dependencies]\ngone = { path = "../gone" }\n')

    with pytest.raises(InputError) as caught:
        local_path_dependencies(a)

    message = str(caught.value)
    assert message.startswith(f"{a / 'Cargo.toml'}: path dependency '../gone' has no Cargo.toml")
    assert str(tmp_path / "gone") in message


def test_crate_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        local_path_dependencies(tmp_path)

    assert str(caught.value).startswith(f"{tmp_path / 'Cargo.toml'} does not exist")
