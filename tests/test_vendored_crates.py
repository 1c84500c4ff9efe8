"""A `cargo vendor` project of real crates builds under embly as cargo builds it in place.

serde (with derive), serde_json and regex, vendored by `cargo vendor` from Debian's packaged
sources with no network (tests/debian_crates.py), laid out as `cargo vendor` run at the
project root leaves it: `.cargo/config.toml` and `vendor/` there, the crate below, `vendor/`
in the function's `sources`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import wasmtime

from tests.debian_crates import DEBIAN_REGISTRY, PACKAGES, RUSTC, source_replacement, vendor
from tests.example_project import EXAMPLE, VENDORED_FUNCTION
from tests.helpers import embly, finished_by_function

pytestmark = pytest.mark.slow

FUNCTION_BLOCK = f"""\
function "{VENDORED_FUNCTION}" {{
  runtime = "rust"
  path    = "./functions/{VENDORED_FUNCTION}"
  sources = ["./vendor"]
}}
"""
ARGS = ("Ada", "Lovelace", "(1815)")
EXPECTED = '{"name":"Ada Lovelace","initials":"AL","born":1815}\n'


@pytest.fixture
def vendored_project(tmp_path: Path) -> Path:
    crates = {path.name.rsplit("-", 1)[0] for path in DEBIAN_REGISTRY.glob("*")}
    missing = {"serde", "serde_derive", "serde_json", "regex"} - crates
    assert not missing, f"no sources of {missing}: apt-get install {' '.join(PACKAGES)}"
    project = tmp_path / "project"
    crate = project / "functions" / VENDORED_FUNCTION
    shutil.copytree(EXAMPLE / VENDORED_FUNCTION, crate, ignore=shutil.ignore_patterns("*.lock"))
    (project / "embly.hcl").write_text(FUNCTION_BLOCK)
    vendor(crate, project / "vendor")
    (project / ".cargo").mkdir()
    (project / ".cargo" / "config.toml").write_text(source_replacement("vendor"))
    return project


def test_a_cargo_vendor_layout_builds_and_runs_as_cargo_builds_it_in_place(
    vendored_project: Path, embly_home: Path, tmp_path: Path
) -> None:
    built = embly("build", "--json", VENDORED_FUNCTION, cwd=vendored_project, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr
    assert finished_by_function(built.stdout)[VENDORED_FUNCTION]["status"] == "ok"
    ran = embly("run", VENDORED_FUNCTION, "--", *ARGS, cwd=vendored_project)
    assert (ran.returncode, ran.stdout) == (0, EXPECTED), ran.stderr

    # In place: cargo finds the project's config above the crate, with no user config.
    target = tmp_path / "cargo-target"
    in_place = subprocess.run(
        ["/usr/bin/cargo", "build", "--release", "--target", "wasm32-wasi"],
        cwd=vendored_project / "functions" / VENDORED_FUNCTION,
        env={
            **os.environ,
            "CARGO_HOME": str(tmp_path / "empty-cargo-home"),
            "CARGO_TARGET_DIR": str(target),
            "RUSTC": RUSTC,
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert in_place.returncode == 0, in_place.stderr
    wasm = target / "wasm32-wasi" / "release" / f"{VENDORED_FUNCTION}-fn.wasm"
    assert run_with_wasmtime(wasm, ARGS, tmp_path / "stdout") == ran.stdout


def run_with_wasmtime(wasm: Path, args: tuple[str, ...], stdout: Path) -> str:
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    wasi = wasmtime.WasiConfig()
    wasi.argv = [wasm.stem, *args]
    wasi.stdout_file = str(stdout)
    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, wasmtime.Module.from_file(engine, str(wasm)))
    start = instance.exports(store)["_start"]
    assert isinstance(start, wasmtime.Func)
    start(store)
    return stdout.read_text()


def test_without_vendor_in_sources_the_build_names_the_config_and_the_fix(
    vendored_project: Path, embly_home: Path
) -> None:
    config = vendored_project / "embly.hcl"
    config.write_text(config.read_text().replace('  sources = ["./vendor"]\n', ""))

    result = embly("build", VENDORED_FUNCTION, cwd=vendored_project)

    assert result.returncode == 2, result.stderr
    assert f"{vendored_project / '.cargo' / 'config.toml'}: [source.vendored-sources]" in (
        result.stderr
    )
    assert 'add "./vendor" to the function\'s `sources` in embly.hcl' in result.stderr
    assert "Traceback" not in result.stderr
