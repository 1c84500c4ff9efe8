"""`embly setup` on a machine without Nix: on a terminal Docker is the default, and Enter
builds (or finds) the image and starts this user's build server container, with progress;
run again without a terminal it keeps Docker, says why, and reuses the container."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from embly_build.client.docker.engine import docker_engine as connect_engine
from embly_build.client.docker.local_server import container_name
from tests.cli.terminal_session import TerminalSession
from tests.docker.conftest import BuiltImage, remove_server_container
from tests.docker.hidden_tools import hiding_argv
from tests.helpers import EMBLY

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class DockerUser:
    """A user whose config directory, so whose container, is their own."""

    config: Path
    env: dict[str, str]

    @property
    def container(self) -> str:
        return container_name(self.config.parent / "docker")


@pytest.fixture
def docker_user(server_image: BuiltImage, tmp_path: Path) -> Iterator[DockerUser]:
    hiding_argv()  # skips where Nix cannot be hidden
    config = tmp_path / "config" / "config.toml"
    env = {**os.environ, "EMBLY_HOME": str(tmp_path / "home"), "EMBLY_CONFIG": str(config)}
    user = DockerUser(config, env)
    yield user
    asyncio.run(remove_server_container(user.container))


async def _container(name: str) -> tuple[str, bool]:
    """The container's id and whether it runs."""
    async with connect_engine() as docker:
        shown = await (await docker.containers.get(name)).show()
        return str(shown["Id"]), bool(shown["State"]["Running"])


def _without_nix() -> list[str]:
    return [
        *hiding_argv(),
        *(str(EMBLY), "setup"),
    ]


def test_without_nix_enter_takes_docker_and_a_second_run_reuses_the_container(
    docker_user: DockerUser, tmp_path: Path
) -> None:
    session = TerminalSession(_without_nix(), cwd=tmp_path, env=docker_user.env)
    try:
        screen = session.wait_for("Build with (nix, docker, remote) [docker]:")
        assert "Not here: Nix is not installed" in screen
        assert "Docker   Docker Engine" in screen
        session.type("\r")
        code = session.finish(timeout=900)
    finally:
        session.close()
    screen = session.screen
    assert code == 0, screen
    assert f"docker container: starting the build server container {docker_user.container}" in (
        screen
    )
    assert "the build server in the container answers: embly-build" in screen
    assert tomllib.loads(docker_user.config.read_text()) == {"executor": "docker"}
    first_id, running = asyncio.run(_container(docker_user.container))
    assert running

    again = subprocess.run(
        _without_nix(),
        cwd=tmp_path,
        env=docker_user.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr + again.stdout
    assert (
        "no terminal to ask on: chose docker, since it is the configured executor, and Docker "
        "works here" in again.stdout
    )
    assert "starting the build server container" not in again.stdout
    assert asyncio.run(_container(docker_user.container)) == (first_id, True), "reused"
