"""The user's long-lived build server container on a real Docker engine: made once and
answering with its token on loopback, kept while nothing changed, replaced when its
settings change, made again after `docker rm -f`, started again when stopped, and made
once by two callers at the same time."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiodocker
import pytest
from grpclib.client import Channel
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from embly_build.client.docker.container import (
    LABEL_SERVER,
    SERVER_PORT,
    ContainerSettings,
    ServerEndpoint,
    ensure_server,
)
from embly_build.client.docker.engine import docker_engine as connect_engine
from embly_build.errors import EnvironmentProblem
from tests.docker.conftest import BuiltImage

pytestmark = pytest.mark.slow

SETTINGS = ContainerSettings(jobs=2, environment={"EMBLY_TOOLCHAINS": "host"})


@pytest.fixture
async def name() -> AsyncIterator[str]:
    """A name of its own for the test's container; its containers and volume removed after."""
    chosen = f"embly-test-server-{uuid.uuid4().hex[:10]}"
    yield chosen
    async with connect_engine() as docker:
        for container in await _containers(docker, chosen):
            await container.delete(force=True)
        try:
            volume = await docker.volumes.get(f"{chosen}-home")  # type: ignore[no-untyped-call]
            await volume.delete()
        except aiodocker.DockerError as error:
            if error.status != 404:
                raise


async def _containers(
    docker: aiodocker.Docker, name: str
) -> list[aiodocker.containers.DockerContainer]:
    filters = json.dumps({"label": [f"{LABEL_SERVER}={name}"]})
    return list(await docker.containers.list(all=True, filters=filters))


async def _answers(endpoint: ServerEndpoint, token: str | None = None) -> bool:
    host, port = endpoint.address.rsplit(":", 1)
    token = token if token is not None else endpoint.token_file.read_text().strip()
    channel = Channel(host, int(port))
    try:
        reply = await HealthStub(channel).Check(
            HealthCheckRequest(), timeout=5, metadata={"authorization": f"Bearer {token}"}
        )
    except Exception:
        return False
    finally:
        channel.close()
    return reply is not None and reply.status == HealthCheckResponse.SERVING


async def test_the_first_call_makes_a_container_that_answers_and_the_second_keeps_it(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    first = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    print(f"container made, started and serving in {time.monotonic() - started:.2f} s")
    assert first.started
    assert first.address.startswith("127.0.0.1:")
    assert await _answers(first)
    assert not await _answers(first, token="not-the-token")
    assert first.token_file.stat().st_mode & 0o777 == 0o600
    assert len(first.token_file.read_text().strip()) == 64

    async with connect_engine() as docker:
        details = await (await docker.containers.get(first.container_id)).show()
    assert details["HostConfig"]["Init"] is True
    bindings = details["NetworkSettings"]["Ports"][SERVER_PORT]
    assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}
    assert details["Config"]["Labels"]["dev.embly.image"] == server_image.image.id

    started = time.monotonic()
    second = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    print(f"running container found serving in {time.monotonic() - started:.2f} s")
    assert second == ServerEndpoint(first.address, first.token_file, first.container_id, False)
    async with connect_engine() as docker:
        again = await (await docker.containers.get(first.container_id)).show()
    assert again["State"]["StartedAt"] == details["State"]["StartedAt"]


async def test_changed_settings_replace_the_container(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    first = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    changed = ContainerSettings(jobs=3, environment=SETTINGS.environment)
    second = await ensure_server(server_image.image, changed, tmp_path, name=name)
    assert second.container_id != first.container_id
    assert await _answers(second)
    async with connect_engine() as docker:
        assert [c.id for c in await _containers(docker, name)] == [second.container_id]


async def test_two_callers_at_once_make_one_container(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    one, other = await asyncio.gather(
        ensure_server(server_image.image, SETTINGS, tmp_path, name=name),
        ensure_server(server_image.image, SETTINGS, tmp_path, name=name),
    )
    assert one.container_id == other.container_id
    assert [one.started, other.started].count(True) == 1
    async with connect_engine() as docker:
        assert len(await _containers(docker, name)) == 1


async def test_a_removed_container_is_made_again(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    first = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    async with connect_engine() as docker:
        await (await docker.containers.get(first.container_id)).delete(force=True)
    second = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    assert second.container_id != first.container_id
    assert await _answers(second)


async def test_a_token_file_the_container_refuses_gets_a_new_container(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    first = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    first.token_file.write_text("edited-by-hand\n")
    progress: list[str] = []
    second = await ensure_server(
        server_image.image, SETTINGS, tmp_path, progress.append, name=name, ready_within=20
    )
    assert second.container_id != first.container_id
    assert any("it refuses the token in" in line for line in progress), progress
    assert await _answers(second)
    assert second.token_file.read_text().strip() != "edited-by-hand"


async def test_a_token_path_that_cannot_be_read_is_named(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    (tmp_path / f"{name}.token").mkdir()
    with pytest.raises(EnvironmentProblem, match=r"cannot read the build server container's token"):
        await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)


async def test_a_stopped_container_is_started_again(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    first = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    async with connect_engine() as docker:
        await (await docker.containers.get(first.container_id)).stop()
    started = time.monotonic()
    second = await ensure_server(server_image.image, SETTINGS, tmp_path, name=name)
    print(f"stopped container started and serving in {time.monotonic() - started:.2f} s")
    assert second.container_id == first.container_id
    assert second.started
    assert await _answers(second)


async def test_a_server_that_exits_at_start_is_reported_with_its_logs(
    server_image: BuiltImage, name: str, tmp_path: Path
) -> None:
    # jobs=0 is refused by `embly serve`, which then exits before it listens.
    broken = ContainerSettings(jobs=0)
    with pytest.raises(EnvironmentProblem) as raised:
        await ensure_server(server_image.image, broken, tmp_path, name=name)
    message = str(raised.value)
    assert name in message
    assert "exited with status" in message
    assert "--jobs" in message  # the server's own words, from its logs
