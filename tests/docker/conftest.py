"""What the Docker tests stand on: a real Docker engine (this machine's, else a dockerd
started for the session and stopped after it) and the base image debian:bookworm-slim,
made without a registry by .ci/fresh_machine/base_image.sh."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import pytest

from embly_build.client.docker.engine import docker_engine as connect_engine
from embly_build.client.docker.image import ServerImage, find_or_build_image
from tests.helpers import background_daemon

REPO = Path(__file__).resolve().parents[2]
DOCKER = "/usr/bin/docker"  # the CLI of the engine's version (see ENVIRONMENT: Docker)
HOST_PACKAGES = ("docker.io", "debootstrap")
# What dockerd says when it starts where it lacks the privileges an engine needs.
_UNPRIVILEGED = ("operation not permitted", "Permission denied (you must be root)")


def _engine_answers() -> bool:
    if not Path(DOCKER).exists():
        return False
    return subprocess.run([DOCKER, "info"], capture_output=True).returncode == 0


def _installed(package: str) -> bool:
    status = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return status.stdout.endswith("install ok installed")


def _install_host_packages() -> None:
    missing = [package for package in HOST_PACKAGES if not _installed(package)]
    if not missing:
        return
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ("-o", "DPkg::Lock::Timeout=600")
    subprocess.run(["apt-get", "update", "-q", *lock], check=True, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *lock, *missing],
        check=True,
        capture_output=True,
        env=environment,
    )


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    """A Docker engine that answers, with debian:bookworm-slim in it."""
    with contextlib.ExitStack() as stack:
        if not _engine_answers():
            if os.geteuid() != 0:
                pytest.skip("no Docker engine answers, and starting one needs root")
            _install_host_packages()
            directory = Path(tempfile.mkdtemp(prefix="embly-test-dockerd-"))
            stack.callback(shutil.rmtree, directory, ignore_errors=True)
            log = directory / "dockerd.log"
            try:
                stack.enter_context(background_daemon(["dockerd"], log, _engine_answers, within=60))
            except AssertionError:
                if any(refusal in log.read_text() for refusal in _UNPRIVILEGED):
                    pytest.skip(
                        "dockerd cannot run here: this is a container without the privileges "
                        "an engine needs (mounts, iptables); run the Docker tests on a machine "
                        "or in a privileged container"
                    )
                raise
        if not shutil.which("debootstrap") and os.geteuid() == 0:
            _install_host_packages()
        subprocess.run(
            [str(REPO / ".ci" / "fresh_machine" / "base_image.sh")],
            env={**os.environ, "DOCKER": DOCKER},
            check=True,
            capture_output=True,
        )
        yield


@dataclass(frozen=True)
class BuiltImage:
    image: ServerImage
    progress: list[str]
    seconds: float


@pytest.fixture(scope="session")
def server_image(docker_engine: None) -> Iterator[BuiltImage]:
    """The image as embly builds it (found when an earlier run left it: it is a cache)."""
    progress: list[str] = []

    async def build() -> ServerImage:
        async with connect_engine() as docker:
            return await find_or_build_image(docker, on_progress=progress.append)

    started = time.monotonic()
    image = asyncio.run(build())
    yield BuiltImage(image, progress, time.monotonic() - started)


async def remove_server_container(name: str) -> None:
    """A build server container and its volume, whichever exist."""
    async with connect_engine() as docker:
        try:
            await (await docker.containers.get(name)).delete(force=True)
        except aiodocker.DockerError as error:
            if error.status != 404:
                raise
        try:
            volume = await docker.volumes.get(f"{name}-home")  # type: ignore[no-untyped-call]
            await volume.delete()
        except aiodocker.DockerError as error:
            if error.status != 404:
                raise
