"""gRPC over a unix socket (`unix:/path/to/sock`), both sides. No TLS: the socket file's
permissions say who may connect."""

from __future__ import annotations

import socket
import stat
from collections.abc import Callable
from pathlib import Path

from grpclib.server import Server

from embly_build.errors import UsageError
from embly_build.transport.address import Address
from embly_build.transport.base import ConnectOptions
from embly_build.transport.channel import BoundedChannel
from embly_build.transport.grpc_client import GrpcTransport
from embly_build.transport.listen_errors import ListenAdvice, cannot_listen

_PROBE_TIMEOUT_S = 2.0  # a live server with a full backlog does not answer at once
_ADVICE = ListenAdvice(
    in_use="stop it or choose another socket path",
    denied="choose a path in a directory you can write",
    otherwise="choose another socket path",
)


def connect_unix(address: Address, options: ConnectOptions) -> GrpcTransport:
    channel = BoundedChannel(path=str(address.path), connect_timeout=options.connect_timeout)
    return GrpcTransport(channel, options.credentials.metadata)


async def listen_unix(server: Server, address: Address) -> Callable[[], None]:
    """Serve on the socket; return what removes its file once the server is closed."""
    path = address.path
    assert path is not None
    try:
        _claim_socket_path(path)
        await server.start(path=str(path))
    except OSError as error:
        raise cannot_listen(address, error, _ADVICE) from error
    return lambda: path.unlink(missing_ok=True)


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
