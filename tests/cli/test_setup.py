"""`embly setup`, as users run it: on a real pseudo-terminal (asked, with a default, a wrong
answer asked again, Ctrl-D and Ctrl-C), with --executor (never asked), and with no
terminal (never asked, never waiting: the choice said, or exit 2 naming the flag). The
choice lands in the user config; Nix's toolchains are provisioned for real (the host
provider), a remote server is a real `embly serve`. The Docker branch is in
tests/docker/test_setup_docker.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from embly_build.client.config.project import load_project
from tests.cli.terminal_session import CTRL_C, CTRL_D, TerminalSession
from tests.docker.hidden_tools import hiding_argv
from tests.helpers import EMBLY, embly_serve

MEANINGS = ("nix-shell --pure", "long-lived container", "build server elsewhere")


@dataclass(frozen=True)
class User:
    """A user of this machine: an EMBLY_HOME, a user config and Nix settings of their own."""

    home: Path
    config: Path
    env: dict[str, str]

    def settings(self) -> dict[str, object]:
        return tomllib.loads(self.config.read_text())


@pytest.fixture
def user(tmp_path: Path, embly_home: Path) -> User:
    config = tmp_path / "config" / "config.toml"
    nix_conf = tmp_path / "nix-conf"  # Nix's defaults, whatever this machine's nix.conf says
    nix_conf.mkdir()
    (nix_conf / "nix.conf").write_text("")
    env = {
        key: value for key, value in os.environ.items() if key not in ("NIX_CONFIG", "DOCKER_HOST")
    }
    env |= {
        "EMBLY_HOME": str(embly_home),
        "EMBLY_CONFIG": str(config),
        "EMBLY_TOOLCHAINS": "host",
        "NIX_CONF_DIR": str(nix_conf),
        "NIX_USER_CONF_FILES": str(nix_conf / "no-user-nix.conf"),
    }
    return User(embly_home, config, env)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory whose path is short enough for a unix socket in it."""
    directory = Path(tempfile.mkdtemp(prefix="embly-setup-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _nix_here() -> None:
    if shutil.which("nix-shell") is None:
        pytest.skip("needs Nix")


def _on_terminal(
    user: User, *args: str, cwd: Path, prefix: list[str] | None = None
) -> TerminalSession:
    return TerminalSession([*(prefix or []), str(EMBLY), "setup", *args], cwd=cwd, env=user.env)


def _without_terminal(
    user: User,
    *args: str,
    cwd: Path,
    stdin: int | None = subprocess.DEVNULL,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), str(EMBLY), "setup", *args],
        cwd=cwd,
        env=user.env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _functions_line(project: Path) -> str:
    return f"functions: {', '.join(load_project(project / 'embly.hcl').functions)}"


def _toolchain_provisioned(user: User) -> bool:
    roots = user.home / "gcroots"
    return roots.is_dir() and any(
        root.name.startswith("toolchain-rust") for root in roots.iterdir()
    )


def test_on_a_terminal_it_explains_the_choices_asks_again_after_a_wrong_answer_and_enter_takes_nix(
    user: User, project: Path
) -> None:
    _nix_here()
    session = _on_terminal(user, cwd=project)
    try:
        screen = session.wait_for("Build with (nix, docker, remote) [nix]:")
        assert _functions_line(project) in screen, "the project it was started in"
        assert "Nix      nix-shell (Nix)" in screen
        for meaning in MEANINGS:
            assert meaning in screen
        session.type("podman\r")
        session.wait_for("'podman' is not a choice: type nix, docker or remote")
        session.type("\r")
        code = session.finish()
    finally:
        session.close()
    screen = session.screen
    assert code == 0, screen
    assert screen.count("Build with (nix, docker, remote) [nix]:") == 2, "asked again"
    assert f'wrote executor = "nix" to {user.config}' in screen
    assert "rust toolchain ready: /nix/store/" in screen
    assert user.settings() == {"executor": "nix"}
    assert _toolchain_provisioned(user)


def test_ctrl_d_at_the_question_writes_nothing_and_exits_2_without_a_traceback(
    user: User, tmp_path: Path
) -> None:
    session = _on_terminal(user, cwd=tmp_path)
    try:
        session.wait_for("Build with (nix, docker, remote)")
        session.type(CTRL_D)
        code = session.finish()
    finally:
        session.close()
    assert code == 2, session.screen
    assert "error: no answer (end of input), so nothing was written" in session.screen
    assert "Traceback" not in session.screen
    assert not user.config.exists()


def test_ctrl_c_at_the_question_writes_nothing_and_exits_130_without_a_traceback(
    user: User, tmp_path: Path
) -> None:
    session = _on_terminal(user, cwd=tmp_path)
    try:
        session.wait_for("Build with (nix, docker, remote)")
        session.type(CTRL_C)
        code = session.finish()
    finally:
        session.close()
    assert code == 130, session.screen
    assert "Traceback" not in session.screen
    assert not user.config.exists()


def test_with_executor_it_does_not_ask_even_on_a_terminal_and_keeps_the_other_keys(
    user: User, tmp_path: Path
) -> None:
    _nix_here()
    user.config.parent.mkdir()
    user.config.write_text('# my settings\nexecutor = "docker"  # for now\njobs = 3\n')
    session = _on_terminal(user, "--executor", "nix", cwd=tmp_path)
    try:
        code = session.finish()
    finally:
        session.close()
    assert code == 0, session.screen
    assert "Build with" not in session.screen
    assert "no embly.hcl here or above" in session.screen
    assert user.config.read_text() == '# my settings\nexecutor = "nix"\njobs = 3\n'
    assert _toolchain_provisioned(user)


@pytest.mark.parametrize("stdin", ["/dev/null", "a pipe nobody writes to"])
def test_with_no_terminal_it_chooses_what_works_says_so_and_never_waits(
    user: User, project: Path, stdin: str
) -> None:
    _nix_here()
    if stdin == "/dev/null":
        ran = _without_terminal(user, cwd=project)
    else:
        reader, writer = os.pipe()  # held open: a read would wait for ever (the timeout)
        try:
            ran = _without_terminal(user, cwd=project, stdin=reader)
        finally:
            os.close(reader)
            os.close(writer)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert "Build with" not in ran.stdout + ran.stderr
    assert "no terminal to ask on: chose nix, since Nix works here" in ran.stdout
    assert _functions_line(project) in ran.stdout
    assert user.settings() == {"executor": "nix"}
    assert _toolchain_provisioned(user)


def test_with_no_terminal_and_neither_nix_nor_docker_it_exits_2_naming_the_flag(
    user: User, tmp_path: Path
) -> None:
    ran = _without_terminal(user, cwd=tmp_path, prefix=hiding_argv(docker=False))
    assert ran.returncode == 2, ran.stderr + ran.stdout
    assert "Nix      not installed" in ran.stdout and "Docker   not installed" in ran.stdout
    assert "neither Nix nor Docker works here" in ran.stderr
    assert "--executor remote --remote ADDR" in ran.stderr
    assert not user.config.exists()


def test_executor_nix_without_nix_is_refused_before_anything_is_written(
    user: User, tmp_path: Path
) -> None:
    hidden = hiding_argv(docker=False)
    ran = _without_terminal(user, "--executor", "nix", cwd=tmp_path, prefix=hidden)
    assert ran.returncode == 2, ran.stderr + ran.stdout
    assert "--executor nix: Nix is not installed" in ran.stderr
    assert not user.config.exists()


def test_on_a_terminal_without_nix_a_wrong_choice_is_refused_and_remote_asks_for_the_address(
    user: User, tmp_path: Path, short_dir: Path
) -> None:
    socket = short_dir / "build.sock"
    with embly_serve(socket, tmp_path / "server-store"):
        session = _on_terminal(user, cwd=tmp_path, prefix=hiding_argv(docker=False))
        try:
            screen = session.wait_for("Build with (nix, docker, remote):")
            assert "Not here: Nix is not installed" in screen, "no default: nothing works"
            session.type("\r")
            session.wait_for("there is no default here: type nix, docker or remote")
            session.type("nix\r")
            session.wait_for("Nix is not installed (Debian/Ubuntu: apt-get install nix-bin")
            session.type("3\r")
            session.wait_for("Build server address (HOST:PORT or unix:/path/to/sock):")
            session.type("https://build.example\r")
            session.wait_for("no URL schemes")
            session.type(f"unix:{socket}\r")
            code = session.finish()
        finally:
            session.close()
    screen = session.screen
    assert code == 0, screen
    assert f"the build server at unix:{socket} answers: embly-build" in screen
    assert user.settings() == {"executor": "remote", "remote": f"unix:{socket}"}


def test_executor_remote_with_no_terminal_needs_remote_and_names_it(
    user: User, tmp_path: Path
) -> None:
    ran = _without_terminal(user, "--executor", "remote", cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr + ran.stdout
    assert "give --remote ADDR" in ran.stderr
    assert not user.config.exists()


def test_a_remote_that_does_not_answer_stays_saved_and_exits_3(
    user: User, tmp_path: Path, short_dir: Path
) -> None:
    address = f"unix:{short_dir / 'nobody.sock'}"
    ran = _without_terminal(user, "--remote", address, cwd=tmp_path)
    assert ran.returncode == 3, ran.stderr + ran.stdout
    assert f"cannot reach the build server at {address}" in ran.stderr
    assert 'executor = "remote" stays saved' in ran.stdout
    assert user.settings() == {"executor": "remote", "remote": address}


def test_a_docker_engine_that_is_not_running_is_said_after_the_choice_is_saved(
    user: User, tmp_path: Path, short_dir: Path
) -> None:
    user.env["DOCKER_HOST"] = f"unix://{short_dir / 'no-docker.sock'}"
    # Docker installed (a stand-in for its CLI where the machine has none), its daemon not.
    cli = tmp_path / "docker-cli"
    cli.mkdir()
    (cli / "docker").write_text("#!/bin/sh\nexit 1\n")
    (cli / "docker").chmod(0o755)
    user.env["PATH"] = f"{cli}{os.pathsep}{user.env['PATH']}"
    ran = _without_terminal(user, "--executor", "docker", cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr + ran.stdout
    assert "the Docker daemon is not running" in ran.stderr
    assert 'executor = "docker" stays saved' in ran.stdout
    assert user.settings() == {"executor": "docker"}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--executor", "podman"], "unknown executor 'podman'; choose one of nix, docker, remote"),
        (["--executor", "nix", "--remote", "h:1"], "--executor nix and --remote contradict"),
        (["--executor", "nix", "--tls-ca", "ca.pem"], "--tls-ca connect to a remote server"),
    ],
)
def test_flags_that_cannot_be_right_are_usage_errors(
    user: User, tmp_path: Path, args: list[str], said: str
) -> None:
    ran = _without_terminal(user, *args, cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr + ran.stdout
    assert said in ran.stderr
    assert not user.config.exists()
