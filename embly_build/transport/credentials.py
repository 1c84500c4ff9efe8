"""What a client shows a build server: where TLS and authentication plug in, client side.

`open_connection(address, credentials=...)` (transport/connection.py) hands them to the
transport: the TCP transport speaks TLS with `ssl_context` (tcp.py, `connect_tcp`), and
every gRPC transport sends `metadata` with every call (grpc_client.py, `GrpcTransport`).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    # TLS over TCP with this context: the CAs the server's certificate must chain to, and
    # the client's own certificate when the server asks for one (mutual TLS). A unix
    # socket has no TLS: its file's permissions say who may connect.
    ssl_context: ssl.SSLContext | None = None
    # Sent with every call, e.g. {"authorization": "Bearer ..."}.
    metadata: Mapping[str, str] = field(default_factory=dict)


NO_CREDENTIALS = Credentials()
