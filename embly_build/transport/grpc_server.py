"""Serve a BuildService over gRPC (grpclib) on unix sockets and TCP, with grpc.health.v1."""

from __future__ import annotations

import errno
import socket
import ssl
import stat
from collections.abc import Sequence
from pathlib import Path

from grpclib.health.service import Health
from grpclib.server import Server

from embly_build.errors import UsageError
from embly_build.server.service import BuildService
from embly_build.transport.address import Address

_PROBE_TIMEOUT_S = 2.0  # a live server with a full backlog does not answer at once


class GrpcServer:
    """One grpclib Server per listen address, all serving the same service object."""

    def __init__(self, service: BuildService, ssl_context: ssl.SSLContext | None = None) -> None:
        self._service = service
        self._ssl = ssl_context
        self._servers: list[tuple[Server, Address]] = []

    async def start(self, addresses: Sequence[Address]) -> None:
        """Listen on every address; a UsageError naming the address when one cannot be had
        (those already listening are closed by `close`)."""
        for address in addresses:
            server = Server([self._service, Health()])
            try:
                if address.kind == "unix":
                    assert address.path is not None
                    _claim_socket_path(address.path)
                    await server.start(path=str(address.path))
                elif address.kind == "tcp":
                    await server.start(address.host, address.port, ssl=self._ssl)
                else:
                    raise UsageError(f"cannot listen on {address}: use unix:/path or HOST:PORT")
            except OSError as error:
                raise UsageError(_cannot_listen(address, error)) from error
            self._servers.append((server, address))

    async def close(self) -> None:
        for server, address in self._servers:
            server.close()
            await server.wait_closed()
            if address.kind == "unix" and address.path is not None:
                address.path.unlink(missing_ok=True)
        self._servers.clear()

    async def wait_closed(self) -> None:
        for server, _ in self._servers:
            await server.wait_closed()


def _claim_socket_path(path: Path) -> None:
    """Make way for bind(): create the socket's directory, and remove a socket file left by
    a dead server. Anything else at the path (a file, a directory, a link, a live server's
    socket) is never removed: the caller is told."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as error:
        raise UsageError(
            f"cannot listen on unix:{path}: its directory {path.parent} cannot be made, as "
            "part of that path is not a directory; choose another socket path"
        ) from error
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise UsageError(
            f"cannot listen on unix:{path}: it is {_kind_of(mode)}, not a socket, and embly "
            "serve does not replace it; remove it yourself if it is not needed, or listen on "
            "another path"
        )
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(_PROBE_TIMEOUT_S)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:  # nobody answers: a dead server's socket
            path.unlink(missing_ok=True)
            return
        except (TimeoutError, BlockingIOError):
            pass  # a server is there, with its backlog full
        except OSError as error:
            raise UsageError(
                f"cannot listen on unix:{path}: a socket is there and cannot be checked for "
                f"a server ({error.strerror or error}); remove it if no server uses it, or "
                "listen on another path"
            ) from error
    raise UsageError(
        f"another server is already listening on unix:{path}: stop it, or listen on another path"
    )


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    return "a device or special file"


def _cannot_listen(address: Address, error: OSError) -> str:
    cause = error.strerror or str(error)
    if error.errno == errno.EADDRINUSE:
        advice = "another process listens there (another `embly serve`?): stop it or choose"
        return f"cannot listen on {address}: address already in use; {advice} another port"
    if error.errno in (errno.EACCES, errno.EPERM):
        if address.kind == "tcp":
            advice = "ports below 1024 need privileges: choose a higher port"
        else:
            advice = "choose a path in a directory you can write"
        return f"cannot listen on {address}: {cause}; {advice}"
    if address.kind == "unix":
        return f"cannot listen on {address}: {cause}; choose another socket path"
    return (
        f"cannot listen on {address}: {cause}; use a loopback address this machine has "
        "(127.0.0.1:PORT, [::1]:PORT, localhost:PORT) or a unix socket (unix:/path)"
    )
