"""`embly run` passes streams and exit codes through; a foreign target gets no .cwasm."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import embly, finished_by_function

pytestmark = pytest.mark.slow


@pytest.fixture
def exiting_project(tmp_path: Path) -> Path:
    root = tmp_path / "exits"
    (root / "fails" / "src").mkdir(parents=True)
    (root / "embly.hcl").write_text(
        'function "fails" {\n  runtime = "rust"\n  path = "./fails"\n}\n'
    )
    (root / "fails" / "Cargo.toml").write_text(
        '[package]\nname = "any-package-name"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (root / "fails" / "src" / "main.rs").write_text(
        "fn main() {\n"
        "    let args: Vec<String> = std::env::args().skip(1).collect();\n"
        '    println!("out: {}", args.join(","));\n'
        '    eprintln!("err: going to exit 3");\n'
        "    std::process::exit(3);\n"
        "}\n"
    )
    return root


def test_run_passes_stdout_stderr_and_exit_code(exiting_project: Path, embly_home: Path) -> None:
    built = embly("build", cwd=exiting_project)
    assert built.returncode == 0, built.stderr
    assert (exiting_project / "embly_build" / "fails.wasm").exists(), "named after the function"
    ran = embly("run", "fails", "--", "a b", "--flag", cwd=exiting_project)
    assert ran.returncode == 3
    assert ran.stdout == "out: a b,--flag\n"
    assert ran.stderr == "err: going to exit 3\n"

    (exiting_project / "embly_build" / "fails.cwasm").unlink()
    from_wasm = embly("run", "fails", cwd=exiting_project)
    assert (from_wasm.returncode, from_wasm.stdout) == (3, "out: \n"), "falls back to the .wasm"


def test_foreign_target_gives_wasm_and_says_why_there_is_no_cwasm(
    project: Path, embly_home: Path
) -> None:
    assert embly("build", "greeter", cwd=project).returncode == 0
    result = embly(
        "build", "greeter", "--target", "aarch64-unknown-linux-gnu", "--json", cwd=project
    )
    assert result.returncode == 0, result.stderr
    finished = finished_by_function(result.stdout)["greeter"]
    assert set(finished["artifacts"]) == {"wasm"}
    assert "no .cwasm for aarch64-unknown-linux-gnu" in result.stdout
    output = project / "embly_build"
    assert not (output / "greeter.cwasm").exists(), "no stale .cwasm beside the new .wasm"
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada!\n"
