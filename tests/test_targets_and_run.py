"""`embly run` passes streams and exit codes through; a foreign target gets no .cwasm."""

from __future__ import annotations

import shutil
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


# A WASI command that writes "pwned" and exits 0: what an attacker's .cwasm could do,
# except that native code could do anything else as well.
_OTHER_PROGRAM = """
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "pwned\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""


def _foreign_cwasm() -> bytes:
    """A valid .cwasm for this machine's wasmtime, made outside any embly build."""
    import wasmtime

    return bytes(wasmtime.Module(wasmtime.Engine(), _OTHER_PROGRAM).serialize())


def test_run_loads_no_cwasm_that_a_build_here_did_not_write(
    project: Path, embly_home: Path
) -> None:
    assert embly("build", "greeter", cwd=project).returncode == 0
    cwasm = project / "embly_build" / "greeter.cwasm"
    cwasm.write_bytes(_foreign_cwasm())  # as if committed to the repository, or copied in

    ran = embly("run", "greeter", "--", "Ada", cwd=project)

    assert (ran.returncode, ran.stdout) == (0, "Hello, Ada!\n"), "the .wasm ran, not the .cwasm"
    assert f"{cwasm} was not written by a build on this machine" in ran.stderr
    assert "running greeter.wasm instead" in ran.stderr

    rebuilt = embly("build", "greeter", cwd=project)
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = embly("run", "greeter", "--", "Ada", cwd=project)
    assert (again.returncode, again.stdout, again.stderr) == (0, "Hello, Ada!\n", "")

    (project / "embly_build" / "greeter.wasm").unlink()
    cwasm.write_bytes(_foreign_cwasm())
    alone = embly("run", "greeter", cwd=project)
    assert alone.returncode == 2
    assert "pwned" not in alone.stdout
    assert "a .cwasm is native code" in alone.stderr
    assert "embly build greeter" in alone.stderr


def test_run_takes_a_cwasm_built_here_in_any_process(project: Path, embly_home: Path) -> None:
    """Written by a build or taken from a cache hit, a .cwasm is recorded; a copy of the
    project elsewhere is not vouched for by the original's record."""
    assert embly("build", cwd=project).returncode == 0
    shutil.rmtree(project / "embly_build")
    assert embly("build", cwd=project).returncode == 0  # every function a cache hit
    for function in ("greeter", "counter", "shout"):
        ran = embly("run", function, "--", "Ada", cwd=project)
        assert (ran.returncode, ran.stderr) == (0, ""), function

    copy = project.parent / "copied-project"
    shutil.copytree(project, copy)
    ran = embly("run", "greeter", "--", "Ada", cwd=copy)
    assert (ran.returncode, ran.stdout) == (0, "Hello, Ada!\n")
    assert "was not written by a build on this machine" in ran.stderr
