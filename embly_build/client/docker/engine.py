"""Reaching the Docker engine, with aiodocker: where it listens (DOCKER_HOST, the current
docker context, else the usual sockets: /run/docker.sock, /var/run/docker.sock, Docker
Desktop's ~/.docker/run/docker.sock) and, when it cannot be used, why, in words that say
what to do."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiodocker

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
    try:
        docker = aiodocker.Docker()
    except (AssertionError, ValueError) as error:  # aiodocker found no socket to use
        raise _no_engine_found() from error
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
    if os.environ.get("DOCKER_HOST"):
        return True
    return any(os.path.exists(os.path.expanduser(path)) for path in _SOCKETS)


def docker_host() -> str:
    """The engine's address as the user would name it (for messages)."""
    return os.environ.get("DOCKER_HOST") or "the Docker socket"


def engine_problem(error: aiodocker.DockerError, where: str) -> DockerUnavailable:
    """What a failed call to the engine means for the user."""
    # aiodocker wraps aiohttp's connection error, which carries the socket's OSError.
    os_error = getattr(error.__context__, "os_error", None)
    if not isinstance(os_error, OSError) or os_error.errno is None:
        return DockerUnavailable(f"the Docker engine at {where} failed: {error.message}")
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
