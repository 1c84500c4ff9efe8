"""A server that takes the connection but never answers (a wrong port, a hung server) is an
error within the connect deadline, over TCP and a unix socket, TLS or not; a server that is
slow to answer within it, or whose calls take longer than it, keeps working."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from embly_build import connect
from embly_build.errors import ServerError
from embly_build.protocol import pb
from embly_build.transport.channel import CONNECT_TIMEOUT, ServerNotAnswering
from embly_build.transport.connection import open_connection
from embly_build.transport.credentials import Credentials
from tests.helpers import EMBLY

SHORT = 0.3  # the connect deadline these tests give; the CLI test waits the real one
WAIT = 10.0  # far beyond SHORT: a test that waits this long has hung


@pytest.fixture
def silent_tcp() -> Iterator[str]:
    """A listening TCP socket that never accepts: the kernel takes connections for it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def silent_unix(tmp_path: Path) -> Iterator[str]:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "silent.sock"))
        listener.listen()
        yield f"unix:{tmp_path / 'silent.sock'}"


def _not_answering(address: str, seconds: float) -> str:
    return (
        f"the server at {address} accepted the connection but did not answer within "
        f"{seconds:g} s: is it an embly build server (`embly serve`), and is it responsive?"
    )


@pytest.mark.parametrize("silent", ["silent_tcp", "silent_unix"])
async def test_connect_says_a_server_does_not_answer(
    silent: str, request: pytest.FixtureRequest
) -> None:
    address: str = request.getfixturevalue(silent)
    started = time.monotonic()
    async with connect(address, connect_timeout=SHORT) as client:
        with pytest.raises(ServerError) as failed:
            await asyncio.wait_for(client.server_info(), WAIT)
    assert str(failed.value).startswith(_not_answering(address, SHORT))
    assert SHORT <= time.monotonic() - started < WAIT


async def test_a_stalled_tls_handshake_is_not_answering(silent_tcp: str) -> None:
    client_tls = ssl.create_default_context()
    trustme.CA().configure_trust(client_tls)
    connection = open_connection(
        silent_tcp, credentials=Credentials(ssl_context=client_tls), connect_timeout=SHORT
    )
    try:
        with pytest.raises(ServerNotAnswering, match="did not complete the TLS handshake"):
            await asyncio.wait_for(connection.api.get_server_info(pb.GetServerInfoRequest()), WAIT)
    finally:
        await connection.close()


async def test_a_server_that_closes_at_once_is_named() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # the client's preface: closed unread, it would be a reset
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with connect(address, connect_timeout=WAIT) as client:
            with pytest.raises(ServerError) as failed:
                await asyncio.wait_for(client.server_info(), WAIT)
    finally:
        server.close()
    assert str(failed.value).startswith(
        f"cannot reach the build server at {address} "
        "(the server closed the connection without answering (if it serves TLS, pass --tls-ca"
    )


@contextlib.asynccontextmanager
async def delaying_proxy(socket_path: str, first: float, later: float) -> AsyncIterator[str]:
    """A TCP address forwarding to `socket_path`, holding the server's first bytes `first`
    seconds and each later chunk `later` seconds: a slow server, or a slow network."""

    async def pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delays: Iterator[float]
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                await asyncio.sleep(next(delays))
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_unix_connection(socket_path)
        await asyncio.gather(
            pipe(client_in, server_out, itertools.repeat(0.0)),
            pipe(server_in, client_out, itertools.chain([first], itertools.repeat(later))),
        )

    proxy = await asyncio.start_server(forward, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
    finally:
        proxy.close()


@pytest.mark.parametrize(
    ("first", "later", "deadline"),
    [
        pytest.param(SHORT, 0.0, 4 * SHORT, id="slow-to-answer-within-the-deadline"),
        pytest.param(0.0, 2 * SHORT, SHORT, id="a-call-longer-than-the-deadline"),
    ],
)
async def test_a_slow_server_that_answers_keeps_working(
    socket_server: str, first: float, later: float, deadline: float
) -> None:
    async with (
        delaying_proxy(socket_server.removeprefix("unix:"), first, later) as address,
        connect(address, connect_timeout=deadline) as client,
    ):
        started = time.monotonic()
        info = await asyncio.wait_for(client.server_info(), WAIT)
        assert time.monotonic() - started >= max(first, later)
    assert info.platform


def test_the_cli_says_a_server_does_not_answer(
    project: Path, silent_tcp: str, silent_unix: str
) -> None:
    """The one test at the real deadline: `build` and `info`, over TCP and a unix socket,
    side by side."""
    runs = {
        (command, address): subprocess.Popen(
            [str(EMBLY), command, "--remote", address],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in ("build", "info")
        for address in (silent_tcp, silent_unix)
    }
    started = time.monotonic()
    try:
        stderr = {
            run: process.communicate(timeout=3 * CONNECT_TIMEOUT)[1]
            for run, process in runs.items()
        }
    finally:
        for process in runs.values():
            process.kill()
            process.wait()
    assert time.monotonic() - started < 2 * CONNECT_TIMEOUT
    for (command, address), process in runs.items():
        said = stderr[command, address]
        assert process.returncode == 3, (command, said)
        assert said.startswith(f"error: {_not_answering(address, CONNECT_TIMEOUT)}"), said
        assert "Traceback" not in said
