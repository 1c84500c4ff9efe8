"""`connect`: a Client for a server address, the library's entry point."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from embly_build.client.records.sent_trees import SentTrees, sent_trees_dir
from embly_build.client.session.client import Client
from embly_build.protocol.opt_levels import DEFAULT_OPT_LEVEL
from embly_build.server.settings import ServerSettings


@contextlib.asynccontextmanager
async def connect(
    address: str = "inproc",
    *,
    settings: ServerSettings | None = None,
    target: str = "",
    opt_level: str = DEFAULT_OPT_LEVEL,
    connect_timeout: float | None = None,
) -> AsyncIterator[Client]:
    """A client for the server at `address`: `inproc` (a server in this process, built from
    `settings`), `unix:/path/to/sock` or `HOST:PORT`. `target` is the triple the .cwasm is
    compiled for (default: this machine); `opt_level` the wasm-opt level (O0..O4, Os, Oz;
    `none` skips wasm-opt). A server that is not connected and answering within
    `connect_timeout` seconds (default 10) fails the first call with a ServerError; calls
    themselves, builds included, take as long as they take."""
    from embly_build.transport.channel import CONNECT_TIMEOUT
    from embly_build.transport.connection import open_connection

    connection = open_connection(
        address,
        settings=settings,
        connect_timeout=CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
    )
    server = str(connection.address)
    if settings is not None and server == "inproc":
        server += f":{settings.home}"  # each home its own store
    try:
        client = Client(
            connection.api,
            str(connection.address),
            target=target,
            opt_level=opt_level,
            sent_trees=SentTrees(sent_trees_dir(server)),
        )
        try:
            yield client
        finally:
            client.mark_closed()
    finally:
        await connection.close()
