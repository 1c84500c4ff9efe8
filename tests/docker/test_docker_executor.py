"""The Docker use case end to end: `embly build` on a machine whose Nix is hidden builds the
example in this user's build server container, with the same bytes as a local Nix build;
the next run reuses the container and is all cache hits. With nothing configured and no
Nix, Docker is chosen and the user told once; with neither, the command that fixes it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from embly_build.client.docker.local_server import container_name
from tests.docker.conftest import BuiltImage, remove_server_container
from tests.docker.hidden_tools import hiding_argv
from tests.example_project import copy_example
from tests.helpers import EMBLY

pytestmark = pytest.mark.slow

FUNCTIONS = ("greeter", "counter", "shout")


@dataclass(frozen=True)
class DockerUser:
    """A user of this machine with a config directory (so a container) of their own."""

    home: Path  # EMBLY_HOME
    config: Path  # EMBLY_CONFIG

    @property
    def env(self) -> dict[str, str]:
        return {"EMBLY_HOME": str(self.home), "EMBLY_CONFIG": str(self.config)}

    @property
    def state_dir(self) -> Path:
        return self.config.parent / "docker"


@pytest.fixture
def docker_user(server_image: BuiltImage, tmp_path: Path) -> Iterator[DockerUser]:
    hiding_argv()  # skips where Nix cannot be hidden
    user = DockerUser(tmp_path / "embly-home", tmp_path / "config" / "config.toml")
    user.config.parent.mkdir()
    yield user
    asyncio.run(remove_server_container(container_name(user.state_dir)))


def _project(directory: Path, *, vendored: bool = False) -> Path:
    return copy_example(directory, vendored=vendored)


def _without(
    argv: list[str], user: DockerUser, cwd: Path, *, docker: bool = True
) -> subprocess.CompletedProcess[str]:
    """`argv` run where Nix (and unless `docker`, Docker) cannot be seen."""
    command = [*hiding_argv(docker=docker), *argv]
    environment = {**_environment(), **user.env}
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=900
    )


def _environment() -> dict[str, str]:
    return dict(os.environ)


def _events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def _finished(events: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(e["function"]): e for e in events if e["event"] == "build_finished"}


def test_a_machine_without_nix_builds_in_the_container_as_nix_does_here(
    docker_user: DockerUser, tmp_path: Path
) -> None:
    project = _project(tmp_path / "project", vendored=True)  # real crates.io dependencies too
    nix_probe = _without(["nix-shell", "--version"], docker_user, project)
    assert nix_probe.returncode != 0, "Nix must be out of sight in the namespace"

    first = _without([str(EMBLY), "build", "--executor", "docker", "--json"], docker_user, project)
    assert first.returncode == 0, first.stderr + first.stdout
    events = _events(first.stdout)
    setup = [e["text"] for e in events if e["event"] == "server_setup"]
    assert any("starting the build server container" in str(text) for text in setup), setup
    statuses = {name: e["status"] for name, e in _finished(events).items()}
    assert set(statuses) >= set(FUNCTIONS) and set(statuses.values()) == {"ok"}, statuses

    ran = _without([str(EMBLY), "run", "greeter", "--", "Ada"], docker_user, project)
    assert ran.returncode == 0, ran.stderr
    assert "Ada" in ran.stdout

    # The same sources built here with Nix, in this process: the same bytes.
    local = _project(tmp_path / "local", vendored=True)
    built_here = subprocess.run(
        [str(EMBLY), "build", "--executor", "nix"],
        cwd=local,
        env={**_environment(), "EMBLY_HOME": str(tmp_path / "local-home")},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built_here.returncode == 0, built_here.stderr
    for function in statuses:
        in_container = (project / "embly_build" / f"{function}.wasm").read_bytes()
        assert in_container == (local / "embly_build" / f"{function}.wasm").read_bytes(), function

    second = _without([str(EMBLY), "build", "--executor", "docker", "--json"], docker_user, project)
    assert second.returncode == 0, second.stderr
    events = _events(second.stdout)
    assert [e for e in events if e["event"] == "server_setup"] == [], "the container is reused"
    assert all(e["cache_hit"] for e in _finished(events).values()), second.stdout


def test_with_nothing_configured_and_no_nix_docker_is_chosen_and_said_once(
    docker_user: DockerUser, tmp_path: Path
) -> None:
    project = _project(tmp_path / "project")
    first = _without([str(EMBLY), "build", "greeter"], docker_user, project)
    assert first.returncode == 0, first.stderr
    assert "Nix is not installed here, so this builds in a Docker container" in first.stderr
    assert "embly setup" in first.stderr

    again = _without([str(EMBLY), "build", "greeter"], docker_user, project)
    assert again.returncode == 0, again.stderr
    assert "Nix is not installed" not in again.stderr
    assert "cached" in again.stderr


def test_with_neither_nix_nor_docker_the_error_names_what_to_install(
    docker_user: DockerUser, tmp_path: Path
) -> None:
    project = _project(tmp_path / "project")
    result = _without([str(EMBLY), "build"], docker_user, project, docker=False)
    assert result.returncode == 2, result.stderr
    assert "neither Nix nor Docker is installed" in result.stderr
    assert "embly setup" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "embly_build").exists()


def test_a_container_removed_mid_build_is_named_and_the_next_build_recovers(
    docker_user: DockerUser, tmp_path: Path
) -> None:
    project = _project(tmp_path / "project")
    build = subprocess.Popen(
        [str(EMBLY), "build", "greeter", "--executor", "docker", "--json"],
        cwd=project,
        env={**_environment(), **docker_user.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert build.stdout is not None
        for line in build.stdout:
            event = json.loads(line)
            if event["event"] == "log" and event.get("step") == "compile":
                break
        else:
            pytest.fail(f"the build never compiled: {build.stderr.read() if build.stderr else ''}")
        asyncio.run(remove_server_container(container_name(docker_user.state_dir)))
        _, stderr = build.communicate(timeout=120)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert build.returncode == 3, stderr
    assert "was removed (docker rm?) while it was building" in stderr, stderr
    assert "run the command again" in stderr
    assert "Traceback" not in stderr

    again = subprocess.run(
        [str(EMBLY), "build", "greeter", "--executor", "docker"],
        cwd=project,
        env={**_environment(), **docker_user.env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert again.returncode == 0, again.stderr
    assert "making the build server container" in again.stderr
    assert (project / "embly_build" / "greeter.wasm").exists()


def test_info_and_gc_reach_the_containers_store(docker_user: DockerUser, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    run = {"cwd": project, "env": {**_environment(), **docker_user.env}}

    def embly_docker(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EMBLY), *args], **run, capture_output=True, text=True, timeout=900
        )

    built = embly_docker("build", "greeter", "--executor", "docker")
    assert built.returncode == 0, built.stderr
    before = embly_docker("info", "--executor", "docker", "--json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["store"]["blob_count"] > 0

    trimmed = embly_docker("gc", "--executor", "docker", "--max-size", "0")
    assert trimmed.returncode == 0, trimmed.stderr
    assert "in the build server container" in trimmed.stdout
    after = embly_docker("info", "--executor", "docker", "--json")
    assert json.loads(after.stdout)["store"]["blob_count"] == 0, trimmed.stdout

    rebuilt = embly_docker("build", "greeter", "--executor", "docker", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert not _finished(_events(rebuilt.stdout))["greeter"]["cache_hit"]
