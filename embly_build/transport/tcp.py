"""gRPC over TCP (`HOST:PORT`), both sides. A client speaks TLS with its Credentials' SSL
context (`connect_tcp`); a server's connections do their own TLS handshake once counted
(connection_limits.py), so `listen_tcp` opens a plain listener."""

from __future__ import annotations

from collections.abc import Callable

from grpclib.server import Server

from embly_build.transport.address import Address
from embly_build.transport.base import ConnectOptions
from embly_build.transport.channel import BoundedChannel
from embly_build.transport.grpc_client import GrpcTransport
from embly_build.transport.listen_errors import ListenAdvice, cannot_listen

_ADVICE = ListenAdvice(
    in_use="stop it or choose another port",
    denied="ports below 1024 need privileges: choose a higher port",
    otherwise=(
        "use a loopback address this machine has (127.0.0.1:PORT, [::1]:PORT, localhost:PORT)"
        " or a unix socket (unix:/path)"
    ),
)


def connect_tcp(address: Address, options: ConnectOptions) -> GrpcTransport:
    credentials = options.credentials
    channel = BoundedChannel(
        address.host,
        address.port,
        ssl_context=credentials.ssl_context,
        connect_timeout=options.connect_timeout,
    )
    return GrpcTransport(channel, credentials.metadata)


async def listen_tcp(server: Server, address: Address) -> Callable[[], None]:
    """Serve on the address; return what to do once the server is closed (nothing)."""
    try:
        await server.start(address.host, address.port)
    except OSError as error:
        raise cannot_listen(address, error, _ADVICE) from error
    return lambda: None
