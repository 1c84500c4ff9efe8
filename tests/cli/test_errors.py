"""What a user sees when something is wrong: a clear message and exit code 2 (3 for a build
server that cannot be reached)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.example_project import copy_example
from tests.helpers import EMBLY, embly, small_disk


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_no_embly_hcl(tmp_path: Path, embly_home: Path) -> None:
    result = embly("build", cwd=tmp_path)
    assert result.returncode == 2
    assert f"no embly.hcl found in {tmp_path}" in result.stderr
    assert "--project DIR" in result.stderr


def test_malformed_embly_hcl_names_line_and_column(tmp_path: Path, embly_home: Path) -> None:
    (tmp_path / "embly.hcl").write_text('function "a" {\n  runtime = "rust"\n  path = \n}\n')
    result = embly("build", cwd=tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path / 'embly.hcl'}:3:" in result.stderr
    assert "syntax error" in result.stderr


def test_unknown_runtime_lists_the_known_ones(project: Path, embly_home: Path) -> None:
    replace_in(project / "embly.hcl", 'runtime = "rust"', 'runtime = "go"')
    result = embly("build", cwd=project)
    assert result.returncode == 2
    assert "embly.hcl:4:3: unknown runtime 'go'" in result.stderr
    assert "known runtimes: rust" in result.stderr


def test_missing_function_path(project: Path, embly_home: Path) -> None:
    replace_in(project / "embly.hcl", '"./greeter"', '"./nowhere"')
    result = embly("build", cwd=project)
    assert result.returncode == 2
    assert "embly.hcl:5:3: path './nowhere' of function 'greeter' does not exist" in result.stderr


def test_unknown_function_on_the_command_line(project: Path, embly_home: Path) -> None:
    result = embly("build", "greeter", "nosuch", cwd=project)
    assert result.returncode == 2
    assert "unknown function 'nosuch'; known functions: greeter, counter, shout" in result.stderr
    assert not (project / "embly_build").exists(), "nothing is built on a usage error"


@pytest.mark.parametrize("command", ["build", "watch"])
def test_unknown_function_is_said_before_a_server_is_reached(
    project: Path, embly_home: Path, command: str
) -> None:
    """The Docker executor with no engine at DOCKER_HOST: a mistyped name is the error
    shown, not the engine (nor, with an engine, a container started for nothing)."""
    no_engine = {"DOCKER_HOST": f"unix://{project / 'no-engine.sock'}"}
    args = (command, "nosuch", "--executor", "docker")
    result = embly(*args, cwd=project, env=no_engine, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "unknown function 'nosuch'" in result.stderr


def test_reference_to_an_undeclared_function(project: Path, embly_home: Path) -> None:
    replace_in(project / "embly.hcl", "${function.counter}", "${function.missing}")
    result = embly("build", cwd=project)
    assert result.returncode == 2
    assert "unknown function 'missing'" in result.stderr


@pytest.mark.parametrize("command", ["build", "watch"])
def test_nix_not_installed_says_how_to_get_it(
    project: Path, embly_home: Path, tmp_path: Path, command: str
) -> None:
    # Every tool the build needs stays reachable; only nix is gone from PATH.
    tools = tmp_path / "tools-without-nix"
    tools.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        for tool in Path(directory).glob("*") if Path(directory).is_dir() else []:
            # lexists: a dangling link (Debian's rustc ships /usr/bin/rust-clang) still
            # takes its name, and the same name in a later PATH directory is shadowed.
            if not tool.name.startswith("nix") and not os.path.lexists(tools / tool.name):
                (tools / tool.name).symlink_to(tool)
    # Asked for by name: with nothing configured, a machine without nix builds in Docker
    # (tests/docker/test_docker_executor.py).
    result = embly(command, "--executor", "nix", cwd=project, env={"PATH": str(tools)}, timeout=60)
    assert result.returncode == 2, "fails before watching"
    assert "nix is not installed" in result.stderr
    assert "apt-get install nix-bin" in result.stderr


def test_run_before_build_says_to_build(project: Path, embly_home: Path) -> None:
    result = embly("run", "greeter", cwd=project)
    assert result.returncode == 2
    assert "run `embly build greeter` first" in result.stderr


def test_help_explains_the_commands(tmp_path: Path) -> None:
    result = embly("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("build", "run", "serve", "toolchains", "info"):
        assert command in result.stdout
    assert EMBLY.exists()


@pytest.mark.parametrize("address", ["unix:/nonexistent/embly.sock", "127.0.0.1:1"])
def test_dead_server_is_a_clear_error(project: Path, embly_home: Path, address: str) -> None:
    result = embly("build", "--remote", address, cwd=project)
    assert result.returncode == 3, "a server that cannot be reached has its own exit code"
    assert f"cannot reach the build server at {address}" in result.stderr
    assert "is `embly serve` running there?" in result.stderr


@pytest.mark.parametrize("command", ["build", "watch"])
def test_unknown_opt_level_lists_the_levels(project: Path, command: str) -> None:
    result = embly(command, "--opt-level", "O7", cwd=project)
    assert result.returncode == 2
    assert "unknown wasm-opt level 'O7'; choose one of O0, O1, O2, O3, O4, Os, Oz, none" in (
        result.stderr
    )
    assert not (project / "embly_build").exists(), "nothing is built on a usage error"


def test_unknown_opt_level_in_the_user_config_names_the_file(project: Path, tmp_path: Path) -> None:
    user_config = tmp_path / "config.toml"
    user_config.write_text('opt_level = "fast"\n')
    result = embly("build", cwd=project, env={"EMBLY_CONFIG": str(user_config)})
    assert result.returncode == 2
    assert f"{user_config}: opt_level: unknown wasm-opt level 'fast'" in result.stderr


@pytest.mark.slow
def test_a_build_failing_on_a_full_disk_says_so(project: Path, tmp_path: Path) -> None:
    """The linker or cargo fail in their own words (SIGBUS, broken files) when the disk is
    full; the result says what to do about the disk."""
    with small_disk(tmp_path / "small", "4m") as small:
        result = embly("build", "greeter", cwd=project, env={"EMBLY_HOME": str(small / "home")})

    assert result.returncode == 1, result.stdout + result.stderr
    assert "greeter  failed" in result.stderr
    assert f"the disk holding {small / 'home'}" in result.stderr
    assert "free disk space there or run `embly gc --max-size SIZE`" in result.stderr


@pytest.mark.slow
def test_a_full_disk_in_post_processing_fails_that_build_alone(
    project: Path, embly_home: Path
) -> None:
    """Post-processing copies the compiled module within the function's build space; a full
    disk there fails that function's build with what to do, and the others are built."""
    assert embly("build", cwd=project).returncode == 0
    (space,) = (embly_home / "spaces").glob("*/greeter")
    for function in ("greeter", "counter"):
        main_rs = project / function / "src" / "main.rs"
        main_rs.write_text(main_rs.read_text() + "\n// edited\n")

    with small_disk(space / "out", "16k") as full:
        result = embly("build", cwd=project)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "greeter  failed" in result.stderr
    assert f"no space left on the device holding {full}: free disk space" in result.stderr
    assert "counter  built" in result.stderr


@pytest.mark.slow
def test_a_full_project_disk_leaves_no_temporary_or_partial_artifact(
    tmp_path: Path, embly_home: Path
) -> None:
    """Three functions' artifacts (about 850 KiB) on a disk with room for a few of them: the
    writes that fail, and those of the other functions still staged, are all removed."""
    with small_disk(tmp_path / "small", "200k") as small:
        project = small / "hello-project"
        copy_example(project)

        result = embly("build", cwd=project)

        assert result.returncode == 2, result.stdout + result.stderr
        assert "no space left on its disk; free disk space, then build again" in result.stderr
        output = project / "embly_build"
        left = sorted(p.name for p in output.iterdir()) if output.exists() else []
        assert not [name for name in left if name.startswith(".")], left
        for name in left:  # whatever was published is whole
            built = embly("run", name.split(".")[0], cwd=project)
            assert built.returncode == 0, built.stderr


@pytest.mark.slow
def test_a_directory_where_an_artifact_goes_is_named_not_a_traceback(
    project: Path, embly_home: Path
) -> None:
    (project / "embly_build" / "greeter.wasm").mkdir(parents=True)

    result = embly("build", cwd=project)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{project / 'embly_build' / 'greeter.wasm'} is a directory" in result.stderr
    assert "move it away, then build again" in result.stderr
    assert not [p for p in (project / "embly_build").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_a_file_where_the_output_directory_goes_is_named(project: Path, embly_home: Path) -> None:
    (project / "embly_build").write_text("not a directory")

    result = embly("build", "greeter", cwd=project)

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{project / 'embly_build'} is a file, where the build puts its artifacts" in (
        result.stderr
    )
    assert (project / "embly_build").read_text() == "not a directory"


def test_an_embly_home_that_is_a_file_is_named_not_a_traceback(
    project: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home-file"
    home.write_text("")

    result = embly("build", "greeter", cwd=project, env={"EMBLY_HOME": str(home)})

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot keep the build server's state in {home}" in result.stderr
    assert "set EMBLY_HOME" in result.stderr


def test_events_that_cannot_be_written_are_an_error_not_a_traceback(project: Path) -> None:
    with open("/dev/full", "w") as full:  # every write fails with ENOSPC
        result = subprocess.run(
            [str(EMBLY), "build", "--json"], cwd=project, stdout=full, stderr=subprocess.PIPE
        )
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "cannot write the events to standard output: No space left on device" in message
    assert "Traceback" not in message
    assert not (project / "embly_build").exists(), "the build stopped with its output"


def test_running_a_module_with_an_import_outside_wasi_is_an_error(project: Path) -> None:
    import wasmtime

    (project / "embly_build").mkdir()
    (project / "embly_build" / "greeter.wasm").write_bytes(
        wasmtime.wat2wasm(
            '(module (import "env" "missing_symbol" (func)) (func (export "_start")))'
        )
    )
    result = embly("run", "greeter", cwd=project)
    assert result.returncode == 2
    assert "unknown import: `env::missing_symbol`" in result.stderr
    assert "provides WASI only" in result.stderr and "Traceback" not in result.stderr


def test_an_embly_hcl_with_no_function_is_an_error(tmp_path: Path, embly_home: Path) -> None:
    (tmp_path / "embly.hcl").write_text('gateway {\n  type = "http"\n  port = 8080\n}\n')
    result = embly("build", cwd=tmp_path)
    assert result.returncode == 2, "nothing was built: not a success"
    assert "embly.hcl declares no function, so there is nothing to build" in result.stderr
    assert not (tmp_path / "embly_build").exists()


@pytest.mark.parametrize("command", ["build", "info"])
def test_quiet_and_verbose_together_is_a_usage_error(project: Path, command: str) -> None:
    """As in cargo: which of the two was meant cannot be known."""
    result = embly(command, "-q", "-v", cwd=project)
    assert result.returncode == 2, result.stderr
    assert "error: -v/--verbose and -q/--quiet contradict each other; give one" in result.stderr
    assert not (project / "embly_build").exists(), "nothing is built on a usage error"


@pytest.mark.parametrize("target", ["bogus-triple", "x86-64-linux", "x86_64--linux"])
def test_a_target_no_wasmtime_compiles_for_is_refused(
    project: Path, embly_home: Path, target: str
) -> None:
    result = embly("build", "--target", target, cwd=project)
    assert result.returncode == 2, result.stderr
    assert f"target {target!r} is not one a .cwasm can be compiled for" in result.stderr
    assert "such as x86_64-unknown-linux-gnu" in result.stderr
    assert not (project / "embly_build").exists(), "nothing is built for a typo"


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_project_option_that_is_no_directory_says_so(tmp_path: Path, kind: str) -> None:
    given = tmp_path / "elsewhere"
    if kind == "file":
        given.write_text("not a directory")
    result = embly("build", "--project", str(given), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    what = "does not exist" if kind == "missing" else "is not a directory"
    assert f"error: {given} {what}: give --project the directory" in result.stderr


def test_executor_nix_and_remote_together_contradict(project: Path, tmp_path: Path) -> None:
    address = f"unix:{tmp_path / 'embly.sock'}"
    result = embly("build", "--executor", "nix", "--remote", address, cwd=project)
    assert result.returncode == 2, result.stderr
    assert "--executor nix and --remote contradict each other" in result.stderr
    assert not (project / "embly_build").exists()


def test_a_remote_executor_in_the_user_config_without_an_address_names_the_file(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('executor = "remote"\n')
    monkeypatch.setenv("EMBLY_CONFIG", str(config))
    result = embly("build", cwd=project)
    assert result.returncode == 2, result.stderr
    assert f'error: {config}: executor = "remote" needs the server\'s address' in result.stderr


def test_serve_refuses_a_docker_state_dir_the_image_owns_before_writing_anything(
    tmp_path: Path,
) -> None:
    """A store under /usr would be mounted over the image's own files: refused, with the
    fix, and nothing made there first."""
    store = Path("/usr/local") / f"embly-test-store-{os.getpid()}"
    try:
        args = ("serve", "--executor", "docker", "--store", str(store))
        result = embly(*args, "--listen", f"unix:{tmp_path / 's.sock'}", cwd=tmp_path, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "would hide the image's own files" in result.stderr
        assert "--store" in result.stderr
        assert not store.exists()
    finally:
        shutil.rmtree(store, ignore_errors=True)
