"""The Docker use case from the client's side: this user's build server in a container,
its image built first when the engine lacks it, then the server's address and token.

What comes after is exactly a remote build (uploads, events, paths rewritten). The
container's token and lock live in the user's config directory (`state_dir`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import aiodocker

from embly_build.client.docker.container import (
    LOG_LINES,
    ContainerSettings,
    ServerEndpoint,
    default_name,
    ensure_server,
)
from embly_build.client.docker.engine import docker_engine
from embly_build.client.docker.image import find_or_build_image
from embly_build.errors import DockerUnavailable
from embly_build.home import config_file
from embly_build.home_paths import default_config_file_path

# How long a container whose server was lost may take to show as stopped or removed.
_SETTLE_SECONDS = 3.0
_SETTLE_POLL_SECONDS = 0.1
# A phase ("image" or "container") and a line of what it does.
SetupSink = Callable[[str, str], None]


def docker_state_dir() -> Path:
    """Where the container's token and start-up lock are kept: beside the user config."""
    return config_file().parent / "docker"


def container_name(state_dir: Path) -> str:
    """`embly-server-<uid>`; with a state directory of its own (EMBLY_CONFIG elsewhere, as
    tests and second set-ups have), a container of its own, so neither replaces the other."""
    name = default_name()
    if state_dir.resolve() == default_state_dir().resolve():
        return name
    return f"{name}-{hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]}"


def default_state_dir() -> Path:
    """docker_state_dir() when EMBLY_CONFIG is not set."""
    return Path(default_config_file_path()).parent / "docker"


async def start_local_server(
    settings: ContainerSettings,
    on_progress: SetupSink,
    *,
    state_dir: Path | None = None,
) -> ServerEndpoint:
    """This user's build server container, answering: its image found or built, the
    container reused, started or replaced (see container.py)."""
    async with docker_engine() as docker:
        image = await find_or_build_image(
            docker, on_progress=lambda line: on_progress("image", line)
        )
    state_dir = state_dir or docker_state_dir()
    return await ensure_server(
        image,
        settings,
        state_dir,
        lambda line: on_progress("container", line),
        name=container_name(state_dir),
    )


async def why_lost(endpoint: ServerEndpoint, name: str) -> str | None:
    """Why the container's server stopped answering, when the container is the reason:
    removed, or stopped (with its last log lines); None while it still runs."""
    try:
        async with docker_engine() as docker:
            removed = (
                f"the build server container {name} was removed (docker rm?) while it was "
                "building: run the command again, which makes a new one"
            )
            deadline = time.monotonic() + _SETTLE_SECONDS
            while True:
                try:
                    container = await docker.containers.get(endpoint.container_id)
                    state = (await container.show())["State"]
                except aiodocker.DockerError as error:
                    if error.status == 404:
                        return removed
                    if time.monotonic() > deadline:
                        raise
                    # e.g. 409 while its removal is under way
                    await asyncio.sleep(_SETTLE_POLL_SECONDS)
                    continue
                # The connection drops as the container is killed, before the engine has
                # marked it stopped or removed it.
                if not state["Running"] or time.monotonic() > deadline:
                    break
                await asyncio.sleep(_SETTLE_POLL_SECONDS)
            if state["Running"]:
                return None
            if state.get("Status") == "removing":
                return removed
            try:
                lines = await container.log(stdout=True, stderr=True, tail=LOG_LINES)
            except aiodocker.DockerError:
                lines = ["(its logs cannot be read)"]
    except (aiodocker.DockerError, DockerUnavailable):
        return None  # the engine itself is gone: the connection error says enough
    shown = "\n".join(f"  {line}" for line in "".join(lines).rstrip().splitlines())
    return (
        f"the build server container {name} stopped (exit status {state['ExitCode']}) while it "
        f"was building: run the command again, which starts it again\n"
        f"its last log lines (docker logs {name}):\n{shown or '  (no output)'}"
    )
