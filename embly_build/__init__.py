"""embly-build: build embly functions (Rust crates) to WebAssembly with pinned Nix toolchains.

async with embly_build.connect() as client:
    results = await client.build("path/to/project", ["greeter"])
"""

from __future__ import annotations

import importlib

# Not `typing.TYPE_CHECKING`: importing typing alone takes longer than `embly build` needs to
# find it has nothing to do (client/records/up_to_date.py). Type checkers read any TYPE_CHECKING so.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from embly_build.client.session.client import Client
    from embly_build.client.session.connect import connect
    from embly_build.client.session.events import (
        BuildFinished,
        BuildStarted,
        ClientEvent,
        IndexProgress,
        LogLine,
        UploadProgress,
    )
    from embly_build.errors import EmblyError
    from embly_build.server.settings import ServerSettings

__all__ = [
    "BuildFinished",
    "BuildStarted",
    "Client",
    "ClientEvent",
    "EmblyError",
    "IndexProgress",
    "LogLine",
    "ServerSettings",
    "UploadProgress",
    "connect",
]

# Loaded on first use: importing any part of the package (as `embly run` does) must not
# pull in the whole client, protocol and server stack.
_HOMES = {
    "BuildFinished": "embly_build.client.session.events",
    "BuildStarted": "embly_build.client.session.events",
    "Client": "embly_build.client.session.client",
    "ClientEvent": "embly_build.client.session.events",
    "EmblyError": "embly_build.errors",
    "IndexProgress": "embly_build.client.session.events",
    "LogLine": "embly_build.client.session.events",
    "ServerSettings": "embly_build.server.settings",
    "UploadProgress": "embly_build.client.session.events",
    "connect": "embly_build.client.session.connect",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'embly_build' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
