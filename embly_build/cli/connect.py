"""Client options -> a connected Client: executor choice, remote address, settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from embly_build.cli.options import ClientOptions, TlsOptions
from embly_build.client.config.user_config import UserConfig, load_user_config
from embly_build.client.session.client import Client
from embly_build.client.session.connect import connect
from embly_build.errors import ConfigError, UsageError
from embly_build.home import config_file, embly_home
from embly_build.protocol.opt_levels import DEFAULT_OPT_LEVEL, wasm_opt_level
from embly_build.server.executors import DEFAULT_EXECUTOR, EXECUTORS
from embly_build.server.settings import ServerSettings, default_jobs
from embly_build.server.toolchains import DEFAULT_PROVIDER

# Besides an in-process server with one of the server's executors: a build server in a
# local container (not in this version), or the one at --remote ADDR.
DOCKER = "docker"
REMOTE = "remote"
CHOICES = (*EXECUTORS, DOCKER, REMOTE)


@dataclass(frozen=True)
class Resolved:
    address: str
    settings: ServerSettings | None  # for an in-process server
    opt_level: str
    tls: TlsOptions = field(default_factory=TlsOptions)  # for a remote server


def resolve(options: ClientOptions) -> Resolved:
    """Flags win over the user config; the default is an in-process nix server."""
    user = load_user_config(config_file())
    address, settings = _address(options, user)
    return Resolved(address, settings, _opt_level(options, user), _tls(options, settings, user))


def _tls(options: ClientOptions, settings: ServerSettings | None, user: UserConfig) -> TlsOptions:
    """The flags' files, else the user config's; none for an in-process server, where a
    flag is a mistake (the config's are for when it names a remote server)."""
    given = options.tls
    if settings is not None:
        if flags := [name for name, value in _flags(given) if value is not None]:
            raise UsageError(
                f"{', '.join(flags)} connect to a remote server: add --remote HOST:PORT, or "
                "drop them to build in this process"
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


def _address(options: ClientOptions, user: UserConfig) -> tuple[str, ServerSettings | None]:
    # A config naming a remote server and no executor means that server.
    configured = user.executor or (REMOTE if user.remote else None)
    executor = options.executor or configured or DEFAULT_EXECUTOR
    if executor not in CHOICES:
        raise UsageError(f"unknown executor {executor!r}; choose one of {', '.join(CHOICES)}")
    if executor == DOCKER:
        raise UsageError(
            "the docker executor is not available in this version; use --executor nix "
            "(needs nix installed) or --executor remote --remote ADDR"
        )
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
    settings = ServerSettings(
        home=embly_home(),
        jobs=options.jobs or user.jobs or default_jobs(),
        toolchains=os.environ.get("EMBLY_TOOLCHAINS") or user.toolchains or DEFAULT_PROVIDER,
    )
    return "inproc", settings


@contextlib.asynccontextmanager
async def connected_client(
    options: ClientOptions, resolved: Resolved | None = None
) -> AsyncIterator[Client]:
    """A client for `options`, as `resolve` resolves them (unless already `resolved`)."""
    resolved = resolved or resolve(options)
    async with connect(
        resolved.address,
        settings=resolved.settings,
        target=options.target or "",
        opt_level=resolved.opt_level,
        tls_ca=resolved.tls.tls_ca,
        tls_cert=resolved.tls.tls_cert,
        tls_key=resolved.tls.tls_key,
        token_file=resolved.tls.token_file,
    ) as client:
        yield client
