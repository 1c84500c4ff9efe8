"""Cargo sees the config files in a build's inputs and none from the server's directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import embly
from tests.watching import finished, is_event, watch_running

pytestmark = pytest.mark.slow

# Stable rustc refuses -Z flags: a build that picks this file up fails.
POISON = '[build]\nrustflags = ["-Zembly-must-not-see-this"]\n'


def test_config_above_embly_home_does_not_reach_the_build(
    project: Path, embly_home: Path, tmp_path: Path
) -> None:
    clean = embly("build", "greeter", cwd=project)
    assert clean.returncode == 0, clean.stderr
    clean_wasm = (project / "embly_build" / "greeter.wasm").read_bytes()

    # Where a user's ~/.cargo/config.toml sits when EMBLY_HOME is ~/.cache/embly.
    assert embly_home.is_relative_to(tmp_path)
    (tmp_path / ".cargo").mkdir()
    (tmp_path / ".cargo" / "config.toml").write_text(POISON)
    (project / "greeter" / "src" / "main.rs").write_text(
        (project / "greeter" / "src" / "main.rs").read_text() + "\n"
    )
    result = embly("build", "greeter", cwd=project)
    assert result.returncode == 0, result.stderr

    (project / "greeter" / "src" / "main.rs").write_text(
        (project / "greeter" / "src" / "main.rs").read_text()[:-1]
    )
    reverted = embly("build", "greeter", "--json", cwd=project)
    assert reverted.returncode == 0, reverted.stderr
    assert (project / "embly_build" / "greeter.wasm").read_bytes() == clean_wasm


def test_a_crates_own_cargo_config_applies(project: Path, embly_home: Path) -> None:
    crate = project / "greeter"
    (crate / ".cargo").mkdir()
    (crate / ".cargo" / "config.toml").write_text(
        '[env]\nEMBLY_GREETING = "configured by the crate"\n'
    )
    (crate / "src" / "main.rs").write_text(
        'fn main() {\n    println!("{}", env!("EMBLY_GREETING"));\n}\n'
    )
    result = embly("build", "greeter", cwd=project)
    assert result.returncode == 0, result.stderr
    run = embly("run", "greeter", cwd=project)
    assert run.stdout == "configured by the crate\n"


def test_configs_above_the_crate_in_the_tree_apply_the_nearest_winning(
    project: Path, embly_home: Path
) -> None:
    functions = project / "functions"
    functions.mkdir()
    (project / "greeter").rename(functions / "greeter")
    config = project / "embly.hcl"
    config.write_text(
        config.read_text().replace(
            'path    = "./greeter"', 'path    = "./functions/greeter"\n  sources = ["./functions"]'
        )
    )
    manifest = functions / "greeter" / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace('"../common"', '"../../common"'))
    (functions / ".cargo").mkdir()
    (functions / ".cargo" / "config.toml").write_text(
        '[env]\nEMBLY_GREETING = "outer"\nEMBLY_PLACE = "from the outer config"\n'
    )
    (functions / "greeter" / ".cargo").mkdir()
    (functions / "greeter" / ".cargo" / "config.toml").write_text(
        '[env]\nEMBLY_GREETING = "nearest"\n'
    )
    (functions / "greeter" / "src" / "main.rs").write_text(
        'fn main() {\n    println!("{} {}", env!("EMBLY_GREETING"), env!("EMBLY_PLACE"));\n}\n'
    )
    (project / "common" / ".cargo").mkdir()  # a sibling, not an ancestor: never read
    (project / "common" / ".cargo" / "config.toml").write_text(POISON)
    result = embly("build", "greeter", cwd=project)
    assert result.returncode == 0, result.stderr
    assert embly("run", "greeter", cwd=project).stdout == "nearest from the outer config\n"


# Prints whether the build saw `--cfg embly_configured`: a change of rustflags rebuilds.
CONFIGURED_MAIN = """\
fn main() {
    println!("{}", if cfg!(embly_configured) { "configured" } else { "plain" });
}
"""
CONFIGURED = '[build]\nrustflags = ["--cfg", "embly_configured"]\n'


def test_a_config_at_the_project_root_applies_to_a_crate_below(
    project: Path, embly_home: Path
) -> None:
    """As `cargo build` run in the crate reads it, though neither the crate nor `sources`
    holds it."""
    (project / "greeter" / "src" / "main.rs").write_text(CONFIGURED_MAIN)
    (project / ".cargo").mkdir()
    (project / ".cargo" / "config.toml").write_text(CONFIGURED)

    result = embly("build", "greeter", cwd=project)

    assert result.returncode == 0, result.stderr
    assert embly("run", "greeter", cwd=project).stdout == "configured\n"


def test_watch_rebuilds_when_a_config_appears_above_the_crate(
    project: Path, embly_home: Path
) -> None:
    (project / "greeter" / "src" / "main.rs").write_text(CONFIGURED_MAIN)
    with watch_running(project, "greeter") as watch:
        watch.wait_for(is_event("watching"))
        assert embly("run", "greeter", cwd=project).stdout == "plain\n"

        (project / ".cargo").mkdir()  # on its own first: then it is watched too
        watch.wait_for(is_event("watching"))
        (project / ".cargo" / "config.toml").write_text(CONFIGURED)

        started = watch.wait_for(is_event("round_started"))
        assert started["triggers"] == [".cargo/config.toml"]
        built = watch.wait_for(finished("greeter"))
        assert built["status"] == "ok", watch.seen
        assert embly("run", "greeter", cwd=project).stdout == "configured\n"
