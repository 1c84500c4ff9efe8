"""Client options -> a connected Client: executor choice, remote address, settings."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from embly_build.cli.options import ClientOptions, TlsOptions
from embly_build.client.config.user_config import UserConfig, load_user_config
from embly_build.client.session.client import Client
from embly_build.client.session.connect import connect
from embly_build.client.session.events import ServerSetup
from embly_build.errors import ConfigError, EnvironmentProblem, ServerError, UsageError
from embly_build.home import config_file, embly_home
from embly_build.protocol.opt_levels import DEFAULT_OPT_LEVEL, wasm_opt_level
from embly_build.server.executors import DEFAULT_EXECUTOR, EXECUTORS
from embly_build.server.settings import ServerSettings, default_jobs
from embly_build.server.toolchains import DEFAULT_PROVIDER

if TYPE_CHECKING:
    from embly_build.client.docker.container import ServerEndpoint

# Besides an in-process server with one of the server's executors: this user's build
# server in a local Docker container, or the one at --remote ADDR.
DOCKER = "docker"
REMOTE = "remote"
CHOICES = tuple(dict.fromkeys((*EXECUTORS, DOCKER, REMOTE)))  # docker is both
# The address of the Docker executor's server until its container is found or started.
DOCKER_ADDRESS = "docker"
NOTHING_TO_BUILD_WITH = (
    "neither Nix nor Docker is installed, and embly builds with one of them: install Nix "
    "(Debian/Ubuntu: apt-get install nix-bin) or Docker (apt-get install docker.io, or Docker "
    "Desktop), then run `embly setup`; or build on a server that has them: --remote ADDR"
)
# Said once, the first time Docker is chosen because nothing was configured (a file of
# that name in the Docker state directory remembers it was said).
DOCKER_CHOSEN = "nix-missing-docker-chosen"


@dataclass(frozen=True)
class Resolved:
    address: str
    settings: ServerSettings | None  # for an in-process server
    opt_level: str
    tls: TlsOptions = field(default_factory=TlsOptions)  # for a remote server
    docker_jobs: int | None = None  # for the Docker executor's container
    notice: str = ""  # why this executor was chosen, when the user did not choose it


def resolve(options: ClientOptions) -> Resolved:
    """Flags win over the user config; with neither, an in-process nix server, or the
    Docker executor on a machine without Nix."""
    user = load_user_config(config_file())
    executor, notice = _executor(options, user)
    address, settings = _address(options, user, executor)
    tls = _tls(options, address, user)
    jobs = (options.jobs or user.jobs) if address == DOCKER_ADDRESS else None
    return Resolved(address, settings, _opt_level(options, user), tls, jobs, notice)


def _tls(options: ClientOptions, address: str, user: UserConfig) -> TlsOptions:
    """The flags' files, else the user config's; none for an in-process server or the
    Docker executor's, where a flag is a mistake (the config's are for when it names a
    remote server)."""
    given = options.tls
    if address in ("inproc", DOCKER_ADDRESS):
        if flags := [name for name, value in _flags(given) if value is not None]:
            where = "in this process" if address == "inproc" else "in the Docker container"
            raise UsageError(
                f"{', '.join(flags)} connect to a remote server: add --remote HOST:PORT, or "
                f"drop them to build {where}"
            )
        return TlsOptions()
    return TlsOptions(
        tls_ca=given.tls_ca or user.tls_ca,
        tls_cert=given.tls_cert or user.tls_cert,
        tls_key=given.tls_key or user.tls_key,
        token_file=given.token_file or user.token_file,
    )


def _flags(tls: TlsOptions) -> list[tuple[str, Path | None]]:
    return [
        ("--tls-ca", tls.tls_ca),
        ("--tls-cert", tls.tls_cert),
        ("--tls-key", tls.tls_key),
        ("--token-file", tls.token_file),
    ]


def watch_quick_first(options: ClientOptions) -> bool:
    """Whether `embly watch` writes stripped artifacts before the optimised ones: the flag,
    else the user config's watch_quick_first, else yes."""
    if options.quick_first is not None:
        return options.quick_first
    configured = load_user_config(config_file()).watch_quick_first
    return True if configured is None else configured


def _opt_level(options: ClientOptions, user: UserConfig) -> str:
    if options.opt_level is not None:
        wasm_opt_level(options.opt_level)  # a bad --opt-level fails before anything starts
        return options.opt_level
    configured = [("opt_level", user.opt_level)]
    if options.watching:
        configured.insert(0, ("watch_opt_level", user.watch_opt_level))
    for key, level in configured:
        if level is None:
            continue
        try:
            wasm_opt_level(level)
        except UsageError as error:
            raise ConfigError(f"{config_file()}: {key}: {error}") from None
        return level
    return DEFAULT_OPT_LEVEL


def _executor(options: ClientOptions, user: UserConfig) -> tuple[str, str]:
    """The executor, and a notice when it was chosen for the user."""
    # A config naming a remote server and no executor means that server.
    configured = user.executor or (REMOTE if user.remote else None)
    executor = options.executor or configured
    if executor is not None:
        if executor not in CHOICES:
            choices = ", ".join(CHOICES)
            if options.executor is None:
                raise ConfigError(
                    f"{config_file()}: unknown executor {executor!r}; choose one of {choices}"
                )
            raise UsageError(f"unknown executor {executor!r}; choose one of {choices}")
        return executor, ""
    if options.remote or nix_installed():
        return DEFAULT_EXECUTOR, ""
    if not docker_installed():
        raise EnvironmentProblem(NOTHING_TO_BUILD_WITH)
    return DOCKER, (
        "Nix is not installed here, so this builds in a Docker container that has it "
        "(`embly setup` makes the choice for good and says what each means)"
    )


def nix_installed() -> bool:
    return all(shutil.which(tool) for tool in ("nix-shell", "nix-build"))


def docker_installed() -> bool:
    """Whether a Docker engine could be here: its CLI or daemon, or a socket it listens on."""
    from embly_build.client.docker.engine import engine_socket_exists

    return any(shutil.which(name) for name in ("docker", "dockerd")) or engine_socket_exists()


def _address(
    options: ClientOptions, user: UserConfig, executor: str
) -> tuple[str, ServerSettings | None]:
    if options.executor not in (None, REMOTE) and options.remote:
        raise UsageError(
            f"--executor {options.executor} and --remote contradict each other: --remote ADDR"
            " builds on the server at ADDR; give one of them"
        )
    remote = options.remote or user.remote
    if executor == REMOTE or options.remote:
        if not remote:
            if options.executor == REMOTE:
                raise UsageError("--executor remote needs --remote ADDR (unix:/path or HOST:PORT)")
            raise ConfigError(
                f'{config_file()}: executor = "remote" needs the server\'s address:'
                ' add remote = "unix:/path" or "HOST:PORT" there, or give --remote ADDR'
            )
        return remote, None
    if executor == DOCKER:
        return DOCKER_ADDRESS, None
    settings = ServerSettings(
        home=embly_home(),
        jobs=options.jobs or user.jobs or default_jobs(),
        toolchains=os.environ.get("EMBLY_TOOLCHAINS") or user.toolchains or DEFAULT_PROVIDER,
    )
    return "inproc", settings


@contextlib.asynccontextmanager
async def connected_client(
    options: ClientOptions,
    resolved: Resolved | None = None,
    on_setup: Callable[[ServerSetup], None] | None = None,
) -> AsyncIterator[Client]:
    """A client for `options`, as `resolve` resolves them (unless already `resolved`);
    what is done to get its server (the Docker executor's image and container) goes to
    `on_setup`."""
    resolved = resolved or resolve(options)
    setup = on_setup or (lambda event: None)
    if resolved.address != DOCKER_ADDRESS:
        async with _connected(options, resolved, resolved.address, resolved.tls) as client:
            yield client
        return
    from embly_build.client.docker.local_server import why_lost

    endpoint, name = await _docker_server(resolved, setup)
    tls = TlsOptions(token_file=endpoint.token_file)
    try:
        async with _connected(options, resolved, endpoint.address, tls) as client:
            yield client
    except ServerError as error:
        why = await why_lost(endpoint, name)
        if why is None:
            raise
        raise ServerError(why) from error


def _connected(
    options: ClientOptions, resolved: Resolved, address: str, tls: TlsOptions
) -> contextlib.AbstractAsyncContextManager[Client]:
    return connect(
        address,
        settings=resolved.settings,
        target=options.target or "",
        opt_level=resolved.opt_level,
        tls_ca=tls.tls_ca,
        tls_cert=tls.tls_cert,
        tls_key=tls.tls_key,
        token_file=tls.token_file,
    )


async def _docker_server(
    resolved: Resolved, setup: Callable[[ServerSetup], None]
) -> tuple[ServerEndpoint, str]:
    """This user's build server container, answering; and its name."""
    from embly_build.client.docker.container import ContainerSettings
    from embly_build.client.docker.local_server import (
        container_name,
        docker_state_dir,
        start_local_server,
    )

    state_dir = docker_state_dir()
    if resolved.notice:
        told = state_dir / DOCKER_CHOSEN
        if not told.exists():
            setup(ServerSetup("choice", resolved.notice))
            state_dir.mkdir(parents=True, exist_ok=True)
            told.touch()
    settings = ContainerSettings(jobs=resolved.docker_jobs)
    endpoint = await start_local_server(
        settings, lambda phase, text: setup(ServerSetup(phase, text)), state_dir=state_dir
    )
    return endpoint, container_name(state_dir)
