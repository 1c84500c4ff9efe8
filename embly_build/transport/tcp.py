"""gRPC over TCP (`HOST:PORT`), both sides, with TLS when given an SSL context: where TLS
plugs in (`connect_tcp` takes the client's from its Credentials, `listen_tcp` the server's
from GrpcServer)."""

from __future__ import annotations

import ssl
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


async def listen_tcp(
    server: Server, address: Address, ssl_context: ssl.SSLContext | None
) -> Callable[[], None]:
    """Serve on the address, with TLS when `ssl_context` is given; return what to do once the
    server is closed (nothing)."""
    try:
        await server.start(address.host, address.port, ssl=ssl_context)
    except OSError as error:
        raise cannot_listen(address, error, _ADVICE) from error
    return lambda: None
