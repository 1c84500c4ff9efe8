"""A server that cannot listen where it is asked says why, and never removes what it finds
at a unix socket's path unless it is a socket no server answers on."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from embly_build.errors import UsageError
from embly_build.protocol import pb
from embly_build.server.service import BuildService
from embly_build.transport.address import parse_address
from embly_build.transport.connection import open_connection
from embly_build.transport.grpc_server import GrpcServer


async def _refused(service: BuildService, address: str) -> str:
    server = GrpcServer(service)
    try:
        with pytest.raises(UsageError) as refused:
            await server.start([parse_address(address)])
    finally:
        await server.close()
    return str(refused.value)


def _regular_file(path: Path) -> None:
    path.write_text("precious\n")


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside").write_text("precious\n")


def _symlink(path: Path) -> None:
    (path.parent / "target").write_text("precious\n")
    path.symlink_to("target")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_regular_file, "a regular file"),
        (_directory, "a directory"),
        (_symlink, "a symbolic link"),
        (_fifo, "a named pipe"),
    ],
)
async def test_what_is_not_a_socket_is_refused_and_left_alone(
    service: BuildService, tmp_path: Path, make: Callable[[Path], None], kind: str
) -> None:
    path = tmp_path / "embly.sock"
    make(path)
    before = sorted((p.name, p.lstat().st_mode, p.lstat().st_size) for p in tmp_path.rglob("*"))

    message = await _refused(service, f"unix:{path}")

    assert message.startswith(f"cannot listen on unix:{path}: it is {kind}, not a socket")
    assert "remove it yourself if it is not needed, or listen on another path" in message
    after = sorted((p.name, p.lstat().st_mode, p.lstat().st_size) for p in tmp_path.rglob("*"))
    assert after == before, "nothing removed or replaced"


async def test_a_missing_directory_of_the_socket_that_is_a_file_is_refused(
    service: BuildService, tmp_path: Path
) -> None:
    (tmp_path / "state").write_text("precious\n")
    path = tmp_path / "state" / "embly.sock"
    message = await _refused(service, f"unix:{path}")
    assert f"its directory {path.parent} cannot be made" in message
    assert (tmp_path / "state").read_text() == "precious\n"


async def test_a_stale_socket_is_replaced(service: BuildService, tmp_path: Path) -> None:
    """A socket file left by a server that died (nobody accepts on it) is removed."""
    path = tmp_path / "embly.sock"
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(path))
    server = GrpcServer(service)
    try:
        await server.start([parse_address(f"unix:{path}")])
        connection = open_connection(f"unix:{path}")
        try:
            info = await connection.api.get_server_info(pb.GetServerInfoRequest())
        finally:
            await connection.close()
        assert info.server_version
    finally:
        await server.close()


async def test_a_live_servers_socket_is_not_taken(service: BuildService, tmp_path: Path) -> None:
    path = tmp_path / "embly.sock"
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(str(path))
        live.listen()
        message = await _refused(service, f"unix:{path}")
        assert message.startswith(f"another server is already listening on unix:{path}")
        assert path.exists()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))  # the other server still has it


async def test_a_tcp_port_in_use_is_refused(service: BuildService) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = await _refused(service, f"127.0.0.1:{port}")
    assert message.startswith(f"cannot listen on 127.0.0.1:{port}: address already in use;")
    assert "choose another port" in message


async def test_a_second_address_that_fails_closes_the_first(
    service: BuildService, tmp_path: Path
) -> None:
    """The first address's socket is removed; the second's file is kept."""
    first, second = tmp_path / "first.sock", tmp_path / "second.sock"
    second.write_text("precious\n")
    server = GrpcServer(service)
    with pytest.raises(UsageError, match="it is a regular file"):
        await server.start([parse_address(f"unix:{first}"), parse_address(f"unix:{second}")])
    assert first.exists()
    await server.close()
    assert not first.exists()
    assert second.read_text() == "precious\n"


def test_a_socket_path_too_long_for_the_kernel_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 60) / ("s" * 60)
    with pytest.raises(UsageError) as refused:
        parse_address(f"unix:{path}")
    length = len(os.fsencode(path))
    assert str(refused.value).startswith(
        f"the socket path of unix:{path} is too long: {length} bytes, and a unix socket's "
        "path can have at most 107 bytes"
    )
    with socket.socket(socket.AF_UNIX) as probe, pytest.raises(OSError, match="too long"):
        probe.bind(str(path))  # as the kernel would have said, less clearly


async def test_a_socket_path_of_the_longest_length_is_served(
    service: BuildService, tmp_path: Path
) -> None:
    path = tmp_path / "s"
    path = path.with_name("s" * (107 - len(os.fsencode(path)) + 1))
    assert len(os.fsencode(path)) == 107
    server = GrpcServer(service)
    try:
        await server.start([parse_address(f"unix:{path}")])
        assert path.exists()
    finally:
        await server.close()
