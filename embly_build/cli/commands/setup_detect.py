"""What `embly setup` finds on this machine: whether Nix runs, whether a Docker engine
answers, and the project (embly.hcl) it was started in, if any."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass
from pathlib import Path

from embly_build.cli.connect import docker_installed, nix_installed
from embly_build.errors import ConfigError, DockerUnavailable

_PROBE_SECONDS = 10.0
NIX_MISSING = (
    "not installed (Debian/Ubuntu: apt-get install nix-bin; elsewhere: https://nixos.org/download)"
)
DOCKER_MISSING = "not installed (Debian/Ubuntu: apt-get install docker.io; or Docker Desktop)"


@dataclass(frozen=True)
class Found:
    """One tool as found here: whether it is installed, whether it works, and a line saying
    which version it is or what is wrong."""

    installed: bool
    works: bool
    detail: str


@dataclass(frozen=True)
class Machine:
    nix: Found
    docker: Found


@dataclass(frozen=True)
class ProjectFound:
    """embly.hcl, when there is one; its runtimes, or why it could not be read."""

    config_file: Path | None
    functions: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    problem: str = ""


def detect_machine() -> Machine:
    return Machine(nix=detect_nix(), docker=asyncio.run(detect_docker()))


def detect_nix() -> Found:
    if not nix_installed():
        return Found(installed=False, works=False, detail=NIX_MISSING)
    try:
        ran = subprocess.run(
            ["nix-shell", "--version"], capture_output=True, text=True, timeout=_PROBE_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return Found(True, False, f"installed, but `nix-shell --version` failed: {error}")
    if ran.returncode != 0:
        said = (ran.stderr or ran.stdout).strip().splitlines()
        reason = said[-1] if said else f"exit code {ran.returncode}"
        return Found(True, False, f"installed, but `nix-shell --version` failed: {reason}")
    return Found(True, True, ran.stdout.strip() or "nix-shell")


async def detect_docker() -> Found:
    if not docker_installed():
        return Found(installed=False, works=False, detail=DOCKER_MISSING)
    from embly_build.client.docker.engine import docker_engine, docker_host

    try:
        async with asyncio.timeout(_PROBE_SECONDS), docker_engine() as docker:
            version = await docker.version()
    except DockerUnavailable as error:
        return Found(True, False, str(error))
    except TimeoutError:
        return Found(True, False, f"the Docker engine at {docker_host()} did not answer")
    where = docker_host()
    return Found(True, True, f"Docker Engine {version.get('Version', '?')}, answering at {where}")


def find_project(directory: Path | None) -> ProjectFound:
    """The project at `directory` (--project: it must be one) or above the working
    directory (where there may be none)."""
    from embly_build.client.config.project import find_config, load_project

    try:
        config_file = find_config(directory or Path.cwd())
    except ConfigError:
        if directory is not None:
            raise
        return ProjectFound(None)
    try:
        project = load_project(config_file)
    except ConfigError as error:
        return ProjectFound(config_file, problem=str(error))
    functions = tuple(project.functions)
    runtimes = tuple(sorted({function.runtime for function in project.functions.values()}))
    return ProjectFound(config_file, functions, runtimes)
