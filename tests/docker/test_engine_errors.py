"""When the Docker engine cannot be used, the user reads why and what to do: Docker not
installed, its daemon not running, its socket not theirs to use."""

from __future__ import annotations

import re
import socket
import textwrap
from pathlib import Path

import pytest

from embly_build.client.docker.engine import docker_engine
from embly_build.errors import DockerUnavailable
from tests.installs.conftest import (
    InstalledWheel,
    NonRootUser,
    installed_wheel,
    isolated_environment,
    non_root_user,
    run_as,
)

__all__ = ["installed_wheel", "non_root_user"]  # the fixtures, for the test below


async def _connect() -> None:
    async with docker_engine() as docker:
        await docker.version()


async def test_no_docker_on_the_machine_says_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, no dockerd
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(DockerUnavailable, match=r"Docker is not installed: install .*docker\.io"):
        await _connect()


async def test_a_daemon_that_is_not_running_says_to_start_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docker").write_text("#!/bin/sh\n")
    (tmp_path / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    stale = tmp_path / "docker.sock"  # a socket file left by a daemon that is gone
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(stale))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{stale}")
    with pytest.raises(DockerUnavailable) as raised:
        await _connect()
    assert str(raised.value) == (
        f"the Docker daemon is not running (unix://{stale}): start it (systemctl start "
        "docker, or open Docker Desktop)"
    )


@pytest.mark.parametrize(
    ("docker_host", "said"),
    [
        ("garbage://", "DOCKER_HOST='garbage://' is not an address the Docker engine can be "),
        ("unix:///etc/hostname", "DOCKER_HOST=unix:///etc/hostname names a file that is not a "),
    ],
)
async def test_a_docker_host_that_cannot_be_an_engine_is_named(
    docker_host: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    with pytest.raises(DockerUnavailable, match=re.escape(said)):
        await _connect()


@pytest.mark.usefixtures("docker_engine")  # the fixture: an engine on the usual socket
async def test_an_empty_docker_host_means_unset_as_to_dockers_own_cli(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "")
    await _connect()


@pytest.mark.slow
def test_a_user_outside_the_docker_group_is_told_how_to_get_in(
    docker_engine: None, installed_wheel: InstalledWheel, non_root_user: NonRootUser
) -> None:
    default_socket = Path("/var/run/docker.sock")
    if default_socket.stat().st_mode & 0o006:
        pytest.skip(f"{default_socket} is open to every user here")
    script = textwrap.dedent(
        """
        import asyncio
        from embly_build.client.docker.engine import docker_engine
        async def main():
            async with docker_engine():
                pass
        asyncio.run(main())
        """
    )
    env = {k: v for k, v in isolated_environment().items() if k != "DOCKER_HOST"}
    tried = run_as(
        [str(installed_wheel.venv / "bin" / "python"), "-c", script],
        cwd=non_root_user.home,
        env=env,
        user=non_root_user,
    )
    assert tried.returncode != 0
    last = tried.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "embly_build.errors.DockerUnavailable: permission denied on the Docker engine's socket"
    ), tried.stderr
    assert "usermod -aG docker $USER" in last
    assert "rootless" in last
