"""A crate's own [profile] applies, as it does for `cargo build` in the crate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import embly, json_events

pytestmark = pytest.mark.slow

REPORTS_ASSERTIONS = """\
fn main() {
    let name = common::first_arg("world");
    let checks = if cfg!(debug_assertions) { "on" } else { "off" };
    println!("{} (debug assertions {checks})", common::greeting(&name));
}
"""


def test_the_crates_release_profile_applies(project: Path) -> None:
    crate = project / "greeter"
    (crate / "src" / "main.rs").write_text(REPORTS_ASSERTIONS)
    assert embly("build", "greeter", cwd=project).returncode == 0
    assert "debug assertions off" in embly("run", "greeter", cwd=project).stdout

    manifest = crate / "Cargo.toml"
    manifest.write_text(manifest.read_text() + "\n[profile.release]\ndebug-assertions = true\n")
    result = embly("build", "greeter", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "debug assertions on" in embly("run", "greeter", cwd=project).stdout
    logs = [e["text"] for e in json_events(result.stdout) if e["event"] == "log"]
    assert not any("will be ignored" in text for text in logs), logs
