"""The build server image, built by embly itself on a real Docker engine, runs `embly
serve`: a client on this machine builds the example through it over loopback TCP with a
token, and gets the same .wasm a local build with the same toolchain makes."""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import socket
import tarfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiodocker
import pytest

from embly_build.client.docker.container import server_answers, server_tokens_archive
from embly_build.client.docker.engine import docker_engine as connect_engine
from embly_build.client.docker.image import (
    LABEL,
    ServerImage,
    _remove_unused_older,
    find_or_build_image,
)
from embly_build.errors import ImageBuildFailed
from tests.docker.conftest import BuiltImage
from tests.example_project import copy_example
from tests.helpers import embly

pytestmark = pytest.mark.slow

FUNCTIONS = ("greeter", "counter", "shout")
SERVER_PORT = "9276/tcp"
EMBLY_HOME_IN_IMAGE = "/var/lib/embly"
BUILD_USER_ID = 10000  # the Dockerfile's UID
# The host's own Debian packages: the toolchain the image has, in the same versions.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class RunningServer:
    port: int
    token_file: Path
    container: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _logs(container: aiodocker.containers.DockerContainer) -> str:
    lines = await container.log(stdout=True, stderr=True, tail=40)
    return "".join(lines)


@pytest.fixture
async def running_server(server_image: BuiltImage, tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A container of the image, its port on this machine's loopback only, its EMBLY_HOME
    on a named volume; removed afterwards with the volume."""
    token = secrets.token_urlsafe(24)
    token_file = tmp_path / "token"
    token_file.write_text(f"{token}\n")
    token_file.chmod(0o600)
    name = f"embly-test-{uuid.uuid4().hex[:12]}"
    port = _free_port()
    async with connect_engine() as docker:
        volume = await docker.volumes.create({"Name": name})
        container = None
        try:
            container = await docker.containers.create(
                {
                    "Image": server_image.image.tag,
                    "ExposedPorts": {SERVER_PORT: {}},
                    "HostConfig": {
                        "Init": True,
                        "PortBindings": {
                            SERVER_PORT: [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
                        },
                        "Mounts": [
                            {"Type": "volume", "Source": name, "Target": EMBLY_HOME_IN_IMAGE}
                        ],
                    },
                },
                name=name,
            )
            await container.put_archive(EMBLY_HOME_IN_IMAGE, server_tokens_archive(token))
            started = time.monotonic()
            await container.start()
            delay = 0.05
            while not await server_answers(port, token):
                state = (await container.show())["State"]
                if not state["Running"]:
                    pytest.fail(f"the container exited ({state}):\n{await _logs(container)}")
                if time.monotonic() - started > 60:
                    pytest.fail(f"no answer on port {port} in 60 s:\n{await _logs(container)}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            print(f"container serving {time.monotonic() - started:.1f} s after its start")
            yield RunningServer(port, token_file, name)
        finally:
            if container is not None:
                await container.delete(force=True, v=True)
            await volume.delete()


def _copy_example(directory: Path) -> Path:
    copy_example(directory)
    return directory


async def test_a_second_look_finds_the_image_instead_of_building_it(
    server_image: BuiltImage,
) -> None:
    async with connect_engine() as docker:
        again = await find_or_build_image(docker)
        labels = (await docker.images.inspect(again.tag))["Config"]["Labels"]
    assert again == ServerImage(server_image.image.tag, server_image.image.id, built=False)
    assert labels[LABEL] == again.tag
    if server_image.image.built:
        assert any(line.startswith("Step ") for line in server_image.progress)
        print(f"image built in {server_image.seconds:.1f} s")


async def test_the_server_in_the_image_builds_the_example_like_a_local_build(
    running_server: RunningServer, tmp_path: Path
) -> None:
    remote = _copy_example(tmp_path / "remote")
    address = f"127.0.0.1:{running_server.port}"
    started = time.monotonic()
    built = await asyncio.to_thread(
        embly,
        *("build", "--remote", address, "--token-file", str(running_server.token_file)),
        cwd=remote,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    print(f"first build in the container: {time.monotonic() - started:.1f} s")
    ran = await asyncio.to_thread(embly, "run", "greeter", "--", "Ada", cwd=remote)
    assert ran.stdout == "Hello, Ada!\n", ran.stderr

    local = _copy_example(tmp_path / "local")
    env = {"PATH": f"{SYSTEM_PATH}", "EMBLY_HOME": str(tmp_path / "local-home")}
    built_here = await asyncio.to_thread(embly, "build", cwd=local, env=env, timeout=600)
    assert built_here.returncode == 0, built_here.stdout + built_here.stderr
    for function in FUNCTIONS:
        in_container = (remote / "embly_build" / f"{function}.wasm").read_bytes()
        assert in_container == (local / "embly_build" / f"{function}.wasm").read_bytes(), function

    async with connect_engine() as docker:
        container = await docker.containers.get(running_server.container)
        deadline = time.monotonic() + 40  # the image's HEALTHCHECK runs every 10 s
        while (health := (await container.show())["State"]["Health"])["Status"] != "healthy":
            assert time.monotonic() < deadline, health
            await asyncio.sleep(1)


def test_the_server_in_the_image_runs_as_its_build_user(server_image: BuiltImage) -> None:
    config = asyncio.run(_image_config(server_image.image.tag))
    assert config["User"] == "embly"
    assert config["Cmd"][:2] == ["embly", "serve"]
    assert "EMBLY_TOOLCHAINS=host" in config["Env"]
    assert os.path.basename(config["Healthcheck"]["Test"][-1]) == "healthcheck.py"


async def _image_config(tag: str) -> dict[str, object]:
    async with connect_engine() as docker:
        return dict((await docker.images.inspect(tag))["Config"])


# A base image on which the Dockerfile's apt-get step fails as on a machine whose mirror is
# unreachable: the sources are gone.
BROKEN_BASE_DOCKERFILE = (
    "FROM debian:bookworm-slim\nRUN rm -rf /etc/apt/sources.list /etc/apt/sources.list.d\n"
)


async def test_a_failing_image_build_names_its_step_and_shows_its_output(
    docker_engine: None, tmp_path: Path
) -> None:
    base = f"embly-test-broken-base:{uuid.uuid4().hex[:8]}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        content = BROKEN_BASE_DOCKERFILE.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    progress: list[str] = []
    async with connect_engine() as docker:
        context.seek(0)
        await docker.images.build(fileobj=context, encoding="identity", tag=base, forcerm=True)
        try:
            with pytest.raises(ImageBuildFailed) as failure:
                await find_or_build_image(docker, base=base, on_progress=progress.append)
        finally:
            await docker.images.delete(base, force=True)
    message = str(failure.value)
    assert "failed at Step 4/" in message and "apt-get install" in message, message
    assert "Unable to locate package nix-bin" in message, "the step's own output is shown"
    assert any("Unable to locate package" in line for line in progress), "streamed as it came"


async def test_a_new_image_replaces_earlier_ones_no_container_uses(
    server_image: BuiltImage,
) -> None:
    def labelled(tag: str) -> io.BytesIO:
        content = f"FROM debian:bookworm-slim\nLABEL {LABEL}={tag}\n".encode()
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        context.seek(0)
        return context

    oldest, used, newest = (f"embly-build:0.0.0-test-{uuid.uuid4().hex[:8]}" for _ in range(3))
    progress: list[str] = []
    async with connect_engine() as docker:
        for tag in (oldest, used, newest):
            await docker.images.build(fileobj=labelled(tag), encoding="identity", tag=tag)
            await asyncio.sleep(1.1)  # creation times are in seconds
        holder = await docker.containers.create({"Image": used, "Cmd": ["true"]})
        try:
            await _remove_unused_older(docker, server_image.image.tag, progress.append)
            tags = {t for image in await docker.images.list() for t in image["RepoTags"] or []}
        finally:
            await holder.delete(force=True)
            for tag in (used, newest):
                await docker.images.delete(tag, force=True)
    assert oldest not in tags, "an earlier image no container uses is removed"
    assert used in tags, "one a container uses stays"
    assert newest in tags, "the newest earlier one stays (another installed version's)"
    assert server_image.image.tag in tags, "the current one stays"
    assert any(oldest in line for line in progress), progress
