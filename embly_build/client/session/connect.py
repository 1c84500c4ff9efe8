"""`connect`: a Client for a server address, the library's entry point."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

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
    tls_ca: str | Path | None = None,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    token: str | None = None,
    token_file: str | Path | None = None,
) -> AsyncIterator[Client]:
    """A client for the server at `address`: `inproc` (a server in this process, built from
    `settings`), `unix:/path/to/sock` or `HOST:PORT`. `target` is the triple the .cwasm is
    compiled for (default: this machine); `opt_level` the wasm-opt level (O0..O4, Os, Oz;
    `none` skips wasm-opt). A server that is not connected and answering within
    `connect_timeout` seconds (default 10) fails the first call with a ServerError; calls
    themselves, builds included, take as long as they take.

    Over TCP, `tls_ca` (the CA file that signed the server's certificate) or `tls_cert` and
    `tls_key` (a client certificate, for mutual TLS) connect with TLS; `token`, or the one
    line of `token_file`, is sent as a bearer token. A file that cannot be used, or a token
    that would travel in clear text beyond this machine, is a UsageError at once."""
    from embly_build.transport.address import parse_address
    from embly_build.transport.channel import CONNECT_TIMEOUT
    from embly_build.transport.client_credentials import client_credentials
    from embly_build.transport.connection import open_connection

    parsed = parse_address(address)
    credentials = client_credentials(
        parsed,
        tls_ca=_path(tls_ca),
        tls_cert=_path(tls_cert),
        tls_key=_path(tls_key),
        token=token,
        token_file=_path(token_file),
    )
    connection = open_connection(
        parsed,
        settings=settings,
        credentials=credentials,
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


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value).expanduser()
