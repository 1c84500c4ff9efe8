"""A function crate that is a member of an enclosing cargo workspace builds as with cargo:
inherited package fields and dependencies, the root's profile, members left out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import embly, finished_by_function
from tests.watching import finished, is_event, watch_running

pytestmark = pytest.mark.slow

FILES = {
    "Cargo.toml": """\
[workspace]
members = ["functions/*", "common", "tools/cli"]
resolver = "2"

[workspace.package]
version = "0.3.0"
edition = "2021"

[workspace.dependencies]
common = { path = "common" }

[profile.release]
debug-assertions = true
""",
    "embly.hcl": 'function "hello" {\n  runtime = "rust"\n  path    = "./functions/hello"\n}\n',
    "functions/hello/Cargo.toml": """\
[package]
name = "hello"
version.workspace = true
edition.workspace = true

[dependencies]
common.workspace = true
""",
    "functions/hello/src/main.rs": """\
fn main() {
    let checks = if cfg!(debug_assertions) { "on" } else { "off" };
    println!("{} {} (assertions {checks})", common::GREETING, env!("CARGO_PKG_VERSION"));
}
""",
    "common/Cargo.toml": (
        '[package]\nname = "common"\nversion.workspace = true\nedition.workspace = true\n'
    ),
    "common/src/lib.rs": 'pub const GREETING: &str = "hello from common";\n',
    "tools/cli/Cargo.toml": '[package]\nname = "cli"\nversion = "0.1.0"\nedition = "2021"\n',
    "tools/cli/src/main.rs": "fn main() {}\n",
}


ROOT_PACKAGE = {
    "Cargo.toml": FILES["Cargo.toml"].replace(
        "[workspace]\n",
        '[package]\nname = "app"\nversion = "1.0.0"\nedition = "2021"\n\n'
        "[dependencies]\ncommon.workspace = true\n\n[workspace]\n",
    ),
    "src/main.rs": "fn main() {}\n",
}


@pytest.fixture(params=["virtual root", "root package"])
def workspace(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A repository laid out as a cargo workspace; its root is also a package, or not."""
    repo = tmp_path / "repo"
    files = {**FILES, **(ROOT_PACKAGE if request.param == "root package" else {})}
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    return repo


def test_member_builds_with_what_it_inherits(workspace: Path) -> None:
    result = embly("build", "--json", cwd=workspace)
    assert result.returncode == 0, result.stderr
    run = embly("run", "hello", cwd=workspace)
    assert run.stdout == "hello from common 0.3.0 (assertions on)\n"

    # Another member is not an input: editing it changes nothing.
    (workspace / "tools" / "cli" / "src" / "main.rs").write_text("fn main() { todo!() }\n")
    again = embly("build", "--json", cwd=workspace)
    assert finished_by_function(again.stdout)["hello"]["cache_hit"] is True

    # The workspace's root manifest is: a new version is built in.
    root = workspace / "Cargo.toml"
    root.write_text(root.read_text().replace('version = "0.3.0"', 'version = "0.4.0"'))
    bumped = embly("build", "--json", cwd=workspace)
    assert finished_by_function(bumped.stdout)["hello"]["cache_hit"] is False
    assert "0.4.0" in embly("run", "hello", cwd=workspace).stdout


def test_watch_rebuilds_when_the_workspace_root_changes(workspace: Path) -> None:
    with watch_running(workspace) as watch:
        watch.wait_for(is_event("watching"))
        root = workspace / "Cargo.toml"
        root.write_text(root.read_text().replace('version = "0.3.0"', 'version = "0.5.0"'))
        started = watch.wait_for(is_event("round_started"))
        assert started["triggers"] == ["Cargo.toml"]
        assert watch.wait_for(finished("hello"))["status"] == "ok"
        assert "0.5.0" in embly("run", "hello", cwd=workspace).stdout


def test_member_builds_are_identical_wherever_the_workspace_is(
    workspace: Path, tmp_path: Path, embly_home: Path
) -> None:
    elsewhere = tmp_path / "elsewhere" / "deeper" / "repo"
    shutil.copytree(workspace, elsewhere)
    first = embly("build", cwd=workspace)
    second = embly("build", cwd=elsewhere, env={"EMBLY_HOME": str(tmp_path / "other-home")})
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    wasm = Path("embly_build") / "hello.wasm"
    assert (workspace / wasm).read_bytes() == (elsewhere / wasm).read_bytes()
