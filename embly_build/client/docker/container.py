"""The user's long-lived build server container: found by its labels, started if stopped,
replaced when its image or its settings changed, made (with its named volume and token)
when there is none; then waited for until its server answers.

A file lock in the state directory makes two callers starting at once share one
container. The server's port is published on 127.0.0.1 only, on a port the engine picks;
the client authenticates with a token made at first start and kept 0600 in the state
directory (the token alone), which is also written into the container (not its volume) as
the server's token file before the container first starts. A container that refuses the
token kept here (the file edited or restored) is replaced by one made with a new token.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import io
import json
import os
import secrets
import tarfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiodocker
from aiodocker.containers import DockerContainer
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from embly_build.client.docker.engine import (
    docker_engine,
    docker_host,
    engine_problem,
    find_labelled,
)
from embly_build.client.docker.image import ServerImage
from embly_build.errors import EnvironmentProblem
from embly_build.file_locks import wait_for_lock

SERVER_PORT = "9276/tcp"
EMBLY_HOME = "/var/lib/embly"  # the image's EMBLY_HOME, where the volume goes
SERVER_TOKENS = "server-tokens"  # the server's token file, in TOKEN_DIR
# The build user's home: in the container's own layer, not on the volume, so the token
# file belongs to the container (a new container, a new token) whatever the volume holds.
TOKEN_DIR = "/home/embly"
BUILD_USER_ID = 10000  # the Dockerfile's UID: the server's token file must be its own
TOKEN_NAME = "client"

LABEL_SERVER = "dev.embly.server"  # its value: the container's name
LABEL_USER = "dev.embly.user"
LABEL_IMAGE = "dev.embly.image"  # the image id the container was made from
LABEL_SETTINGS = "dev.embly.settings"  # ContainerSettings.digest()

READY_WITHIN = 60.0
FIRST_DELAY = 0.05
LONGEST_DELAY = 1.0
LOG_LINES = 20
_LOCK_POLL_SECONDS = 0.1

ProgressSink = Callable[[str], None]


@dataclass(frozen=True)
class ContainerSettings:
    """What the container is made with; a change makes another container."""

    jobs: int | None = None
    environment: Mapping[str, str] = field(default_factory=dict)  # e.g. EMBLY_TOOLCHAINS

    def digest(self) -> str:
        described = json.dumps(
            {"jobs": self.jobs, "environment": dict(sorted(self.environment.items()))},
            sort_keys=True,
        )
        return hashlib.sha256(described.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ServerEndpoint:
    address: str  # 127.0.0.1:PORT
    token_file: Path
    container_id: str
    started: bool  # False when the container was running already


def default_name() -> str:
    return f"embly-server-{os.getuid()}"


async def ensure_server(
    image: ServerImage,
    settings: ContainerSettings,
    state_dir: Path,
    on_progress: ProgressSink | None = None,
    *,
    name: str | None = None,
    ready_within: float = READY_WITHIN,
) -> ServerEndpoint:
    """The address and token file of this user's build server, running and answering."""
    name = name or default_name()
    sink = on_progress or (lambda line: None)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EnvironmentProblem(
            f"cannot keep the build server container's token in {state_dir}: "
            f"{error.strerror or error}; make it writable, or set EMBLY_CONFIG to a file in "
            "a directory you can write"
        ) from error
    async with _lock(state_dir / f"{name}.lock", sink), docker_engine() as docker:
        try:
            return await _ensure(docker, image, settings, state_dir, sink, name, ready_within)
        except aiodocker.DockerError as error:
            raise engine_problem(error, docker_host()) from error


@asynccontextmanager
async def _lock(path: Path, sink: ProgressSink) -> AsyncIterator[None]:
    """The container's start-up lock: one `embly` command at a time finds, starts or
    replaces it."""

    def waiting() -> None:
        sink("waiting for another embly command that is starting the build server container")

    with path.open("a") as handle:
        await wait_for_lock(handle, fcntl.LOCK_EX, waiting, _LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def _ensure(
    docker: aiodocker.Docker,
    image: ServerImage,
    settings: ContainerSettings,
    state_dir: Path,
    sink: ProgressSink,
    name: str,
    ready_within: float,
    *,
    replaced: bool = False,
) -> ServerEndpoint:
    token_file = state_dir / f"{name}.token"
    token = _read_token(token_file)
    wanted = {LABEL_IMAGE: image.id, LABEL_SETTINGS: settings.digest()}
    container = await _find(docker, name)
    if container is not None:
        labels = container["Config"]["Labels"] or {}
        stale = [key for key, value in wanted.items() if labels.get(key) != value]
        if stale or token is None:
            why = "its image or settings changed" if stale else "its token is gone"
            sink(f"replacing the build server container {name}: {why}")
            await container.delete(force=True)
            container = None
    if token is None:
        token = secrets.token_hex(32)
        _write_token(token_file, token)
    started = False
    if container is None:
        sink(f"making the build server container {name} from {image.tag}")
        container = await _create(docker, image, settings, name, wanted, token)
    if not (await container.show())["State"]["Running"]:
        sink(f"starting the build server container {name}")
        await container.start()
        started = True
    port = await _published_port(container, name)
    try:
        await _wait_until_serving(container, name, port, token, ready_within)
    except _TokenRefused as refusal:
        if replaced:  # made just now with a new token
            why = "it refuses the token it was made with"
            raise await _not_serving(container, name, why) from refusal
        # The token file here no longer matches the container's (edited, or restored from
        # a backup): a container made with a new token is the only way back in.
        sink(f"replacing the build server container {name}: it refuses the token in {token_file}")
        await container.delete(force=True)
        token_file.unlink()
        return await _ensure(
            docker, image, settings, state_dir, sink, name, ready_within, replaced=True
        )
    return ServerEndpoint(f"127.0.0.1:{port}", token_file, str(container.id), started)


async def _find(docker: aiodocker.Docker, name: str) -> DockerContainer | None:
    return await find_labelled(docker, [f"{LABEL_SERVER}={name}", f"{LABEL_USER}={os.getuid()}"])


async def _create(
    docker: aiodocker.Docker,
    image: ServerImage,
    settings: ContainerSettings,
    name: str,
    wanted: Mapping[str, str],
    token: str,
) -> DockerContainer:
    volume = f"{name}-home"
    user = str(os.getuid())
    labels = {LABEL_SERVER: name, LABEL_USER: user}
    # aiodocker leaves volumes.create and put_archive untyped.
    await docker.volumes.create({"Name": volume, "Labels": labels})  # type: ignore[no-untyped-call]
    command = ["embly", "serve", "--listen", "0.0.0.0:9276", "--insecure"]
    command += ["--token-file", f"{TOKEN_DIR}/{SERVER_TOKENS}"]
    if settings.jobs is not None:
        command += ["--jobs", str(settings.jobs)]
    config: dict[str, Any] = {
        "Image": image.id,
        "Cmd": command,
        "Env": [f"{key}={value}" for key, value in sorted(settings.environment.items())],
        "Labels": {LABEL_SERVER: name, LABEL_USER: user, **wanted},
        "ExposedPorts": {SERVER_PORT: {}},
        "HostConfig": {
            "Init": True,
            "PortBindings": {SERVER_PORT: [{"HostIp": "127.0.0.1", "HostPort": ""}]},
            "Mounts": [{"Type": "volume", "Source": volume, "Target": EMBLY_HOME}],
        },
    }
    try:
        container = await docker.containers.create(config, name=name)
    except aiodocker.DockerError as error:
        if error.status != 409:
            raise
        # A container of that name without our labels (another user's, or made by hand).
        raise EnvironmentProblem(
            f"a Docker container named {name} exists but is not this user's build server: "
            f"remove it (docker rm -f {name})"
        ) from error
    await container.put_archive(TOKEN_DIR, server_tokens_archive(token))  # type: ignore[no-untyped-call]
    return container


def server_tokens_archive(token: str) -> bytes:
    """The server's token file holding `token`, as the build user's own, for the volume."""
    content = f"{TOKEN_NAME} {token}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(SERVER_TOKENS)
        info.size, info.mode = len(content), 0o600
        info.uid = info.gid = BUILD_USER_ID
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _read_token(path: Path) -> str | None:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise EnvironmentProblem(
            f"cannot read the build server container's token {path}: "
            f"{getattr(error, 'strerror', None) or error}; remove it (a new container and "
            "token are made)"
        ) from error
    return token or None


def _write_token(path: Path, token: str) -> None:
    temporary = path.with_name(f"{path.name}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(f"{token}\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


async def _published_port(container: DockerContainer, name: str) -> int:
    details = await container.show()
    bindings = (details["NetworkSettings"]["Ports"] or {}).get(SERVER_PORT) or []
    for binding in bindings:
        if binding.get("HostIp") == "127.0.0.1" and binding.get("HostPort"):
            return int(binding["HostPort"])
    raise await _not_serving(container, name, "its port 9276 is not published on 127.0.0.1")


async def _wait_until_serving(
    container: DockerContainer, name: str, port: int, token: str, within: float
) -> None:
    deadline = time.monotonic() + within
    delay = FIRST_DELAY
    while not await server_answers(port, token, refused=_TokenRefused()):
        try:
            state = (await container.show())["State"]
        except aiodocker.DockerError as error:
            if error.status == 404:
                raise EnvironmentProblem(
                    f"the build server container {name} was removed while it started: "
                    "run the command again"
                ) from error
            raise
        if not state["Running"]:
            why = f"it exited with status {state['ExitCode']}"
            raise await _not_serving(container, name, why)
        if time.monotonic() > deadline:
            raise await _not_serving(container, name, f"its server did not answer in {within:g} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, LONGEST_DELAY)


class _TokenRefused(Exception):
    """The server answers, but not to our token."""


async def server_answers(port: int, token: str, *, refused: Exception | None = None) -> bool:
    """Whether the server on 127.0.0.1:`port` answers grpc.health.v1 as SERVING; `refused`
    is raised, if given, when it refuses the token."""
    channel = Channel("127.0.0.1", port)
    try:
        reply = await HealthStub(channel).Check(
            HealthCheckRequest(), timeout=2, metadata={"authorization": f"Bearer {token}"}
        )
    except GRPCError as error:
        if refused is not None and error.status == Status.UNAUTHENTICATED:
            raise refused from error
        return False
    except (OSError, TimeoutError, StreamTerminatedError):
        return False
    finally:
        channel.close()
    return reply is not None and reply.status == HealthCheckResponse.SERVING


async def _not_serving(container: DockerContainer, name: str, why: str) -> EnvironmentProblem:
    try:
        lines = await container.log(stdout=True, stderr=True, tail=LOG_LINES)
        logs = "".join(lines).rstrip() or "(no output)"
    except aiodocker.DockerError:
        logs = "(its logs cannot be read)"
    shown = "\n".join(f"  {line}" for line in logs.splitlines())
    return EnvironmentProblem(
        f"the build server container {name} is not serving: {why}\n"
        f"its last log lines (docker logs {name}):\n{shown}"
    )
