"""Client options -> a connected Client: executor choice, remote address, settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from embly_build import connect
from embly_build.client.client import Client
from embly_build.client.user_config import load_user_config
from embly_build.errors import UsageError
from embly_build.home import config_file, embly_home
from embly_build.server.settings import ServerSettings, default_jobs

EXECUTORS = ("nix", "docker", "remote")


@dataclass(frozen=True)
class ClientOptions:
    project: Path | None = None
    executor: str | None = None
    remote: str | None = None
    jobs: int | None = None
    target: str | None = None


def resolve_address(options: ClientOptions) -> tuple[str, ServerSettings | None]:
    """Flags win over the user config; the default is an in-process nix server."""
    user = load_user_config(config_file())
    executor = options.executor or user.executor or "nix"
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if executor == "docker":
        raise UsageError(
            "the docker executor is not available in this version; use --executor nix "
            "(needs nix installed) or --executor remote --remote ADDR"
        )
    remote = options.remote or user.remote
    if executor == "remote" or options.remote:
        if not remote:
            raise UsageError("--executor remote needs --remote ADDR (unix:/path or HOST:PORT)")
        return remote, None
    settings = ServerSettings(
        home=embly_home(),
        jobs=options.jobs or user.jobs or default_jobs(),
        toolchains=os.environ.get("EMBLY_TOOLCHAINS") or user.toolchains or "host",
    )
    return "inproc", settings


@contextlib.asynccontextmanager
async def connected_client(options: ClientOptions) -> AsyncIterator[Client]:
    address, settings = resolve_address(options)
    async with connect(address, settings=settings, target=options.target or "") as client:
        yield client
