"""The long-lived container `embly serve --executor docker` runs build steps in.

One per server state directory (EMBLY_HOME), made from the build server's image (found or
built as the client's is) with `sleep infinity` as its command, and found again by its
labels: started if stopped, replaced when the image or its mounts changed. The server's
build spaces, cargo homes and temporary files are bind-mounted at the same paths inside,
so a step's argv and environment need no translation.

Steps run as this server's own uid:gid (as container root with a rootless engine, whose
root is this user), so everything they write in the mounts is the server's to delete.
A probe proves that, once per container: a file the server wrote is read inside and one
written inside is the server's; an engine that cannot see this machine's files (a remote
DOCKER_HOST) or maps users elsewhere is named instead of failing builds obscurely.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiodocker
from aiodocker.containers import DockerContainer

from embly_build.client.docker.engine import (
    docker_engine,
    docker_host,
    engine_problem,
    find_labelled,
)
from embly_build.client.docker.image import find_or_build_image
from embly_build.errors import EnvironmentProblem
from embly_build.file_locks import wait_for_lock
from embly_build.server.build_log import LOGGER_NAME
from embly_build.server.settings import ServerSettings

LABEL_CONTAINER = "dev.embly.steps"  # its value: the container's name
LABEL_USER = "dev.embly.user"
LABEL_HOME = "dev.embly.home"  # the server's EMBLY_HOME, for people and clean-ups
LABEL_IMAGE = "dev.embly.image"  # the image id it was made from
LABEL_SETTINGS = "dev.embly.settings"  # a digest of its mounts and command
COMMAND = ("sleep", "infinity")
# Paths the image's own tools live under: a mount there would hide them.
_IMAGE_PATHS = ("/nix", "/usr", "/opt/embly", "/bin", "/sbin", "/lib", "/etc", "/proc", "/sys")
_LOCK_POLL_SECONDS = 0.1
PROBE_PREFIX = "docker-probe-"  # the probe's files, in EMBLY_HOME/tmp
_log = logging.getLogger(LOGGER_NAME)

LogSink = Callable[[str], None]


@dataclass(frozen=True)
class Captured:
    code: int
    stdout: str
    stderr: str


def container_name(home: Path) -> str:
    """`embly-steps-<uid>-<digest of EMBLY_HOME>`: its own for each state directory, and
    never the client's `embly-server-<uid>`."""
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:12]
    return f"embly-steps-{os.getuid()}-{digest}"


class StepContainer:
    def __init__(self, settings: ServerSettings) -> None:
        self.name = container_name(settings.home)
        self._mounted = (settings.spaces_dir, settings.cargo_homes_dir, settings.tmp_dir)
        self._tmp_dir = settings.tmp_dir
        self._lock_file = settings.tmp_dir / "docker-steps.lock"
        self._engine: AsyncExitStack | None = None
        self._docker: aiodocker.Docker | None = None
        self._image_id: str | None = None
        self._current: DockerContainer | None = None
        self._step_user: str | None = None
        self._lock = asyncio.Lock()
        for path in self._mounted:
            _check_mount_target(path)

    @property
    def step_user(self) -> str:
        assert self._step_user is not None, "running() first"
        return self._step_user

    async def running(
        self, on_log: LogSink | None = None, *, verify: bool = False
    ) -> DockerContainer:
        """The container, running and proven to share the mounts; with `verify`, the
        engine is asked whether the one known still runs (else it is made again)."""
        async with self._lock:
            current = self._current
            if current is not None and verify and not await self.runs(current):
                self._current = current = None
            if current is None:
                current = await self._ensure(_also_logged(on_log))
                self._current = current
            return current

    def forget(self, container: DockerContainer) -> None:
        """The container failed a step (removed, stopped): the next `running` looks again."""
        if self._current is container:
            self._current = None

    async def docker(self) -> aiodocker.Docker:
        if self._docker is None:
            stack = AsyncExitStack()
            self._docker = await stack.enter_async_context(docker_engine())
            self._engine = stack
        return self._docker

    async def close(self) -> None:
        """Let go of the engine; the container stays, for the next server on this state."""
        engine, self._engine, self._docker, self._current = self._engine, None, None, None
        if engine is not None:
            await engine.aclose()

    async def capture(
        self,
        container: DockerContainer,
        argv: Sequence[str],
        *,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Captured:
        """Run argv in the container (as the image's user unless `user`) to its end."""
        try:
            execution = await container.exec(
                cmd=list(argv),
                stdout=True,
                stderr=True,
                user=user or "",
                environment=dict(env or {}),
            )
            output: dict[int, list[bytes]] = {1: [], 2: []}
            async with execution.start(detach=False) as stream:
                while (message := await stream.read_out()) is not None:
                    output.setdefault(message.stream, []).append(message.data)
            code = (await execution.inspect())["ExitCode"]
        except aiodocker.DockerError as error:
            raise self.engine_error(error) from error
        text = {fd: b"".join(parts).decode("utf-8", "replace") for fd, parts in output.items()}
        return Captured(-1 if code is None else int(code), text[1], text[2])

    def engine_error(self, error: aiodocker.DockerError) -> EnvironmentProblem:
        if error.status == 404:
            return self.removed()
        if error.status == 409:
            self._current = None
            return EnvironmentProblem(
                f"the build container {self.name} is not running (stopped or paused by hand?): "
                "build again to start it"
            )
        return engine_problem(error, docker_host())

    def removed(self) -> EnvironmentProblem:
        self._current = None
        return EnvironmentProblem(
            f"the build container {self.name} was stopped or removed (docker stop, docker rm -f) "
            "while a step ran in it: build again, and it is started or made again"
        )

    async def runs(self, container: DockerContainer) -> bool:
        """Whether the engine says `container` is running (False once it is gone)."""
        try:
            return bool((await container.show())["State"]["Running"])
        except aiodocker.DockerError as error:
            if error.status == 404:
                return False
            raise self.engine_error(error) from error

    async def _ensure(self, on_log: LogSink) -> DockerContainer:
        for path in self._mounted:
            path.mkdir(parents=True, exist_ok=True)
        docker = await self.docker()
        try:
            with self._lock_file.open("a") as lock:
                await wait_for_lock(lock, fcntl.LOCK_EX, None, _LOCK_POLL_SECONDS)
                container = await self._find_or_make(docker, on_log)
            self._step_user = await _step_user(docker)
            await self._probe(container)
        except aiodocker.DockerError as error:
            raise engine_problem(error, docker_host()) from error
        return container

    async def _find_or_make(self, docker: aiodocker.Docker, on_log: LogSink) -> DockerContainer:
        if self._image_id is None or not await _image_exists(docker, self._image_id):
            image = await find_or_build_image(docker, on_progress=_image_progress(on_log))
            self._image_id = image.id
        wanted = {LABEL_IMAGE: self._image_id, LABEL_SETTINGS: self._settings_digest()}
        container = await self._find(docker)
        if container is not None:
            labels = container["Config"]["Labels"] or {}
            if any(labels.get(key) != value for key, value in wanted.items()):
                on_log(f"replacing the build container {self.name}: its image or mounts changed")
                await container.delete(force=True)
                container = None
        if container is None:
            on_log(f"making the build container {self.name}")
            container = await self._create(docker, wanted)
        if not (await container.show())["State"]["Running"]:
            on_log(f"starting the build container {self.name}")
            await container.start()
        return container

    async def _find(self, docker: aiodocker.Docker) -> DockerContainer | None:
        return await find_labelled(docker, [f"{LABEL_CONTAINER}={self.name}"])

    async def _create(self, docker: aiodocker.Docker, wanted: Mapping[str, str]) -> DockerContainer:
        labels = {
            LABEL_CONTAINER: self.name,
            LABEL_USER: str(os.getuid()),
            LABEL_HOME: str(self._mounted[0].parent),
            **wanted,
        }
        config: dict[str, Any] = {
            "Image": self._image_id,
            "Cmd": list(COMMAND),
            "Labels": labels,
            "Healthcheck": {"Test": ["NONE"]},  # the image's checks a server this one lacks
            "HostConfig": {
                "Init": True,  # reaps what steps leave behind; a stop takes no timeout
                "RestartPolicy": {"Name": "unless-stopped"},  # back after the engine restarts
                "Mounts": self._mounts(),
            },
        }
        try:
            return await docker.containers.create(config, name=self.name)
        except aiodocker.DockerError as error:
            if error.status != 409:
                raise
            raise EnvironmentProblem(
                f"a Docker container named {self.name} exists but is not this server's build "
                f"container: remove it (docker rm -f {self.name})"
            ) from error

    def _mounts(self) -> list[dict[str, str]]:
        return [
            {"Type": "bind", "Source": str(path.resolve()), "Target": str(path)}
            for path in self._mounted
        ]

    def _settings_digest(self) -> str:
        described = json.dumps({"mounts": self._mounts(), "command": COMMAND}, sort_keys=True)
        return hashlib.sha256(described.encode()).hexdigest()[:16]

    async def _probe(self, container: DockerContainer) -> None:
        """Check that a step sees the server's files, and that what it writes is the
        server's: a file written here is read inside, and one written inside is looked at."""
        token = secrets.token_hex(8)
        sent = self._tmp_dir / f"{PROBE_PREFIX}{os.getpid()}-{token}"
        answer = sent.with_name(sent.name + ".answer")
        sent.write_text(token)
        sent.chmod(0o644)
        try:
            script = 'cat -- "$1" && : > "$2"'
            argv = ["/bin/bash", "-c", script, "probe", str(sent), str(answer)]
            result = await self.capture(container, argv, user=self.step_user)
            if result.stdout != token:
                raise EnvironmentProblem(
                    f"the Docker engine at {docker_host()} does not see this machine's "
                    f"{self._tmp_dir} ({result.stderr.strip() or 'nothing read'}): "
                    "`embly serve --executor docker` needs an engine on the machine it runs "
                    "on, not a remote DOCKER_HOST"
                )
            if result.code != 0 or not answer.exists():
                raise EnvironmentProblem(
                    f"the build container {self.name} cannot write {self._tmp_dir} as "
                    f"{self.step_user} ({result.stderr.strip()}): an engine that remaps users "
                    "(userns-remap) cannot share this server's files; use --executor nix"
                )
            owner = answer.stat().st_uid
            if owner != os.getuid():
                raise EnvironmentProblem(
                    f"files the build container {self.name} writes are owned by uid {owner}, "
                    f"not by this server's uid {os.getuid()}, so they could not be cleaned up: "
                    "an engine that remaps users (userns-remap) cannot share this server's "
                    "files; use --executor nix"
                )
        finally:
            sent.unlink(missing_ok=True)
            answer.unlink(missing_ok=True)


def _check_mount_target(path: Path) -> None:
    if not path.is_absolute() or any(
        path == Path(top) or Path(top) in path.parents for top in _IMAGE_PATHS
    ):
        raise EnvironmentProblem(
            f"{path} cannot be mounted into the build container (it would hide the image's "
            "own files): keep the server's state elsewhere (EMBLY_HOME or --store)"
        )


async def _image_exists(docker: aiodocker.Docker, image_id: str) -> bool:
    try:
        await docker.images.inspect(image_id)
    except aiodocker.DockerError as error:
        if error.status == 404:
            return False
        raise
    return True


async def _step_user(docker: aiodocker.Docker) -> str:
    """Who steps run as: this server's uid:gid, or root where root is this user (a
    rootless engine)."""
    info = await docker.system.info()
    security = " ".join(str(option) for option in info.get("SecurityOptions") or [])
    if "name=rootless" in security:
        return "0:0"
    return f"{os.getuid()}:{os.getgid()}"


def _also_logged(on_log: LogSink | None) -> LogSink:
    """`on_log` (a build's log), and the server's own log: what is done to the container."""

    def both(line: str) -> None:
        _log.info("%s", line)
        if on_log is not None:
            on_log(line)

    return both


def _image_progress(on_log: LogSink) -> LogSink:
    """The image build's headlines (its steps), not every line apt prints."""

    def progress(line: str) -> None:
        if line.startswith(("Step ", "building the image", "preparing")):
            on_log(line)

    return progress
