"""`embly gc` for the Docker executor: the store to trim is in this user's build server
container (its volume), so `embly gc` runs there, its output passed through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import aiodocker

from embly_build.client.docker.container import LABEL_SERVER
from embly_build.client.docker.engine import docker_engine, docker_host, engine_problem
from embly_build.client.docker.local_server import container_name


async def gc_in_container(
    gc_arguments: Sequence[str], state_dir: Path, on_line: Callable[[str], None]
) -> int:
    """Run `embly gc ARGUMENTS` in the container; its exit code. Nothing to do (0) when the
    container does not exist; a stopped one is started (the server starts with it)."""
    name = container_name(state_dir)
    async with docker_engine() as docker:
        try:
            try:
                container = await docker.containers.get(name)
            except aiodocker.DockerError as error:
                if error.status != 404:
                    raise
                on_line(f"no build server container {name}: nothing to trim")
                if await _volume_exists(docker, f"{name}-home"):
                    on_line(
                        f"its volume {name}-home remains (the next build's container uses it): "
                        f"`docker volume rm {name}-home` removes it"
                    )
                return 0
            details = await container.show()
            if (details["Config"]["Labels"] or {}).get(LABEL_SERVER) != name:
                on_line(f"the container {name} is not an embly build server: left alone")
                return 2
            if not details["State"]["Running"]:
                on_line(f"starting the build server container {name}")
                await container.start()
            on_line(f"in the build server container {name}:")
            execution = await container.exec(["embly", "gc", *gc_arguments])
            async with execution.start(detach=False) as stream:
                partial = b""
                while (message := await stream.read_out()) is not None:
                    *lines, partial = (partial + message.data).split(b"\n")
                    for line in lines:
                        on_line(line.decode(errors="replace"))
                if partial:
                    on_line(partial.decode(errors="replace"))
            return int((await execution.inspect())["ExitCode"])
        except aiodocker.DockerError as error:
            raise engine_problem(error, docker_host()) from error


async def _volume_exists(docker: aiodocker.Docker, name: str) -> bool:
    try:
        await docker.volumes.get(name)  # type: ignore[no-untyped-call]
    except aiodocker.DockerError as error:
        if error.status == 404:
            return False
        raise
    return True
