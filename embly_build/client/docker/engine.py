"""Reaching the Docker engine, with aiodocker: where it listens (DOCKER_HOST, the current
docker context, else the usual sockets: /run/docker.sock, /var/run/docker.sock, Docker
Desktop's ~/.docker/run/docker.sock) and, when it cannot be used, why, in words that say
what to do."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager

import aiodocker
from aiodocker.containers import DockerContainer

from embly_build.errors import DockerUnavailable

NOT_INSTALLED = (
    "Docker is not installed: install Docker Engine (Debian/Ubuntu: apt-get install "
    "docker.io) or Docker Desktop, or build with Nix instead (--executor nix)"
)
_START_IT = "start it (systemctl start docker, or open Docker Desktop)"
_ACCESS_HINT = (
    "join the group that owns it (sudo usermod -aG docker $USER, then log in again), or run "
    "Docker rootless and point DOCKER_HOST at its socket "
    "(DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock)"
)


@asynccontextmanager
async def docker_engine() -> AsyncIterator[aiodocker.Docker]:
    """A client of the engine that answered a ping; closed on exit."""
    host = os.environ.get("DOCKER_HOST")
    url = None
    if host is not None and not host.strip():
        # Empty means unset to Docker's own CLI; aiodocker would take it for an address.
        url = next((f"unix://{path}" for path in _existing_sockets()), None)
        if url is None:
            raise _no_engine_found()
    elif host and host.startswith("unix://") and _not_a_socket(host[len("unix://") :]):
        raise DockerUnavailable(
            f"DOCKER_HOST={host} names a file that is not a socket: point it at the "
            "Docker engine's socket, or unset it"
        )
    try:
        docker = aiodocker.Docker(url=url)
    except (AssertionError, ValueError) as error:  # aiodocker found no socket to use
        if host and host.strip():
            raise DockerUnavailable(
                f"DOCKER_HOST={host!r} is not an address the Docker engine can be reached "
                "at: give unix:///path/to/docker.sock or tcp://HOST:PORT, or unset it"
            ) from error
        raise _no_engine_found() from error
    except aiodocker.DockerError as error:  # e.g. ssh:// without asyncssh installed
        raise DockerUnavailable(
            f"the Docker engine at {docker_host()} cannot be used from here: {error.message}; "
            "give DOCKER_HOST as unix:///path/to/docker.sock or tcp://HOST:PORT"
        ) from error
    try:
        try:
            await docker.version()
        except aiodocker.DockerError as error:
            raise engine_problem(error, docker_host()) from error
        yield docker
    finally:
        await docker.close()


# Where engines listen when DOCKER_HOST is not set: Linux's, and Docker Desktop's.
_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock", "~/.docker/run/docker.sock")


def engine_socket_exists() -> bool:
    """Whether an engine is named (DOCKER_HOST) or one's socket is in a usual place."""
    if (os.environ.get("DOCKER_HOST") or "").strip():
        return True
    return any(True for _ in _existing_sockets())


def _not_a_socket(path: str) -> bool:
    try:
        return not stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False  # missing: the connection says so


def _existing_sockets() -> Iterator[str]:
    for path in _SOCKETS:
        expanded = os.path.expanduser(path)
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.stat(expanded).st_mode):
                yield expanded


async def find_labelled(docker: aiodocker.Docker, labels: Sequence[str]) -> DockerContainer | None:
    """The one container (running or not) with all these `KEY=VALUE` labels, or None. Only
    a container made by hand could be a second one: any others are removed."""
    found = await docker.containers.list(all=True, filters=json.dumps({"label": list(labels)}))
    if not found:
        return None
    for extra in found[1:]:
        await extra.delete(force=True)
    return await docker.containers.get(found[0].id)


def docker_host() -> str:
    """The engine's address as the user would name it (for messages)."""
    return (os.environ.get("DOCKER_HOST") or "").strip() or "the Docker socket"


def engine_problem(error: aiodocker.DockerError, where: str) -> DockerUnavailable:
    """What a failed call to the engine means for the user."""
    # aiodocker wraps aiohttp's connection error, which carries the socket's OSError.
    os_error = getattr(error.__context__, "os_error", None)
    if not isinstance(os_error, OSError) or os_error.errno is None:
        if error.message:
            return DockerUnavailable(f"the Docker engine at {where} failed: {error.message}")
        return DockerUnavailable(
            f"{where} answered HTTP {error.status} with no message: is a Docker engine "
            "listening there? Check DOCKER_HOST"
        )
    if os_error.errno in (errno.EACCES, errno.EPERM):
        return DockerUnavailable(
            f"permission denied on the Docker engine's socket ({where}): {_ACCESS_HINT}"
        )
    if os_error.errno in (errno.ENOENT, errno.ECONNREFUSED):
        if not _installed():
            return DockerUnavailable(NOT_INSTALLED)
        return DockerUnavailable(f"the Docker daemon is not running ({where}): {_START_IT}")
    return DockerUnavailable(
        f"cannot reach the Docker engine at {where}: {os_error.strerror or os_error}"
    )


def _no_engine_found() -> DockerUnavailable:
    if not _installed():
        return DockerUnavailable(NOT_INSTALLED)
    return DockerUnavailable(
        f"the Docker daemon is not running (no socket at /var/run/docker.sock, /run/docker.sock "
        f"or ~/.docker/run/docker.sock): {_START_IT}; a daemon elsewhere is named by DOCKER_HOST"
    )


def _installed() -> bool:
    return any(shutil.which(name) for name in ("docker", "dockerd"))
