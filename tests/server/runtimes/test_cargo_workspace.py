"""The generated workspace manifest keeps what cargo reads only from the root."""

from __future__ import annotations

import tomllib
from pathlib import Path

from embly_build.server.runtimes.cargo_workspace import (
    CarriedTableWarnings,
    is_generated_root,
    prepare_workspace,
)

CRATE = """\
[package]
name = "hello"
version = "0.1.0"

[dependencies]
common = { path = "../../common" }

[profile.release]
opt-level = "z"
lto = true

[profile.release.package."*"]
opt-level = 2

[patch.crates-io]
serde = { path = "../vendor/serde" }

[replace]
"log:0.4.0" = { path = "../vendor/log" }
"""


def test_root_only_tables_move_to_the_generated_root(tmp_path: Path) -> None:
    (tmp_path / "fns" / "hello").mkdir(parents=True)
    (tmp_path / "fns" / "hello" / "Cargo.toml").write_text(CRATE)

    assert prepare_workspace(tmp_path, "fns/hello") == "."
    assert is_generated_root(tmp_path)
    root = tomllib.loads((tmp_path / "Cargo.toml").read_text())

    assert root["workspace"] == {"members": ["fns/hello"], "resolver": "2"}
    assert root["profile"] == {
        "release": {"opt-level": "z", "lto": True, "package": {"*": {"opt-level": 2}}}
    }
    assert root["patch"] == {"crates-io": {"serde": {"path": "fns/vendor/serde"}}}
    assert root["replace"] == {"log:0.4.0": {"path": "fns/vendor/log"}}
    assert "dependencies" not in root


def test_a_crate_without_root_tables_gets_a_bare_workspace(tmp_path: Path) -> None:
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "Cargo.toml").write_text('[package]\nname = "hello"\n')

    prepare_workspace(tmp_path, "hello")

    root = tomllib.loads((tmp_path / "Cargo.toml").read_text())
    assert root == {"workspace": {"members": ["hello"], "resolver": "2"}}


def test_a_declared_workspace_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "hello").mkdir()
    (tmp_path / "hello" / "Cargo.toml").write_text('[package]\nname = "hello"\n')
    declared = '[workspace]\nmembers = ["hello"]\n\n[profile.release]\nlto = true\n'
    (tmp_path / "Cargo.toml").write_text(declared)

    assert prepare_workspace(tmp_path, "hello") == "."
    assert not is_generated_root(tmp_path)
    assert (tmp_path / "Cargo.toml").read_text() == declared


def test_only_the_carried_tables_warnings_are_dropped() -> None:
    lines = [
        "warning: profiles for the non root package will be ignored, specify profiles at the"
        " workspace root:",
        "package:   /embly-src/hello/Cargo.toml",
        "workspace: /embly-src/Cargo.toml",
        "   Compiling hello v0.1.0 (hello)",
        "warning: unused variable: `x`",
        "package: not part of a carried-table warning",
    ]
    carried = CarriedTableWarnings()
    assert [line for line in lines if carried.keep(line)] == lines[3:]


def test_an_enclosing_workspace_keeps_only_what_the_tree_holds(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "app"\n\n[dependencies]\ncommon = { path = "common" }\n\n'
        '[workspace]\nmembers = ["fns/*", "common", "tools/cli"]\n'
        'default-members = ["tools/cli"]\n\n[workspace.package]\nversion = "0.3.0"\n\n'
        "[profile.release]\nlto = true\n"
    )
    for crate in ("fns/hello", "common"):
        (tmp_path / crate).mkdir(parents=True)
        (tmp_path / crate / "Cargo.toml").write_text('[package]\nname = "x"\n')

    assert prepare_workspace(tmp_path, "fns/hello") == "."
    assert not is_generated_root(tmp_path)
    root = tomllib.loads((tmp_path / "Cargo.toml").read_text())

    assert root == {
        "workspace": {
            "members": ["fns/*", "common"],
            "default-members": [],
            "package": {"version": "0.3.0"},
        },
        "profile": {"release": {"lto": True}},
    }


def test_the_crates_lock_file_moves_to_the_generated_root(tmp_path: Path) -> None:
    (tmp_path / "fns" / "hello").mkdir(parents=True)
    (tmp_path / "fns" / "hello" / "Cargo.toml").write_text('[package]\nname = "hello"\n')
    lock = 'version = 3\n\n[[package]]\nname = "serde"\nversion = "1.0.190"\n'
    (tmp_path / "fns" / "hello" / "Cargo.lock").write_text(lock)

    prepare_workspace(tmp_path, "fns/hello")

    assert (tmp_path / "Cargo.lock").read_text() == lock
