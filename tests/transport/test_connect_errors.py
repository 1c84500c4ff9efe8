"""A server address that cannot be reached is an EmblyError naming the address and the
cause, from Python and from the command line (exit code 2, no traceback)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from embly_build import connect
from embly_build.errors import ServerError, UsageError
from tests.helpers import embly

UNRESOLVABLE = "nosuch.invalid:1234"  # .invalid never resolves (RFC 6761)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port bound and not listening: connecting is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def _too_long(tmp_path: Path) -> str:
    return f"unix:{tmp_path / ('d' * 60) / ('s' * 60)}"


@pytest.mark.parametrize(
    ("address", "cause"),
    [
        ("bogus", "cannot resolve the host name 'bogus'"),
        (UNRESOLVABLE, "cannot resolve the host name 'nosuch.invalid'"),
        ("unix:/nonexistent/embly.sock", "No such file or directory"),
    ],
)
async def test_connect_to_an_unreachable_address_is_a_server_error(
    address: str, cause: str
) -> None:
    shown = address if ":" in address else f"{address}:9276"
    async with connect(address) as client:
        with pytest.raises(ServerError) as failed:
            await client.server_info()
    message = str(failed.value)
    assert message.startswith(f"cannot reach the build server at {shown} ({cause}")
    assert "Check the address" in message


async def test_a_refused_connection_names_the_cause(refused_port: int) -> None:
    async with connect(f"127.0.0.1:{refused_port}") as client:
        with pytest.raises(ServerError, match=r"\(Connection refused\)"):
            await client.server_info()


async def test_a_unix_socket_path_too_long_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is too long"):
        async with connect(_too_long(tmp_path)):
            pass


@pytest.mark.parametrize("command", ["build", "info"])
@pytest.mark.parametrize("address", ["bogus", UNRESOLVABLE])
def test_the_cli_says_an_address_does_not_resolve(
    project: Path, command: str, address: str
) -> None:
    result = embly(command, "--remote", address, cwd=project, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    host = address.partition(":")[0]
    assert f"error: cannot reach the build server at {address}" in result.stderr
    assert f"(cannot resolve the host name '{host}':" in result.stderr


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:9276", "grpc://localhost", "http://[::1]:9276"]
)
def test_an_address_given_as_a_url_says_how_to_write_it(project: Path, address: str) -> None:
    result = embly("build", "--remote", address, cwd=project, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"error: invalid address {address!r}: no URL schemes" in result.stderr
    assert "give HOST:PORT" in result.stderr


def test_the_cli_says_a_unix_socket_path_is_too_long(project: Path, tmp_path: Path) -> None:
    address = _too_long(tmp_path)
    result = embly("build", "--remote", address, cwd=project, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: the socket path of {address} is too long:")


def test_the_cli_names_a_refused_connections_cause(project: Path, refused_port: int) -> None:
    address = f"127.0.0.1:{refused_port}"
    result = embly("info", "--remote", address, cwd=project, timeout=60)
    assert result.returncode == 3, result.stderr
    assert f"cannot reach the build server at {address} (Connection refused)" in result.stderr
