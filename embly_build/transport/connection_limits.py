"""The connections a gRPC server holds, server side: how many at once, how many calls each
carries at once, how long one stays open with no call, and what becomes of one that sends
what is not HTTP/2.

A `LimitedServer` hands each connection it accepts a `LimitedProtocol`, which, before
anything else, counts it against the server's ServerLimits: over `connections`, it is
closed at once, one log line a burst. Over TCP with TLS it then does the handshake itself
(`loop.start_tls`), so a refused connection costs no TLS buffers. Once HTTP/2 speaks, it
asks the client for at most `streams_per_connection` calls at once (SETTINGS), closes the
connection with a GOAWAY after `idle_connection_s` with no call open, and closes it with
one log line on "embly.serve", no traceback, when the client's bytes make h2 or grpclib
raise (a header that is not ASCII, a frame grpclib does not know).

grpclib internals relied on: `Server._protocol_factory` (overridden); an H2Protocol's
`connection` and `processor` once connected, and that Connection's `_connection`, the h2
connection, to send SETTINGS and GOAWAY.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, cast

from grpclib.encoding.base import CodecBase
from grpclib.protocol import AbstractHandler, H2Protocol, Stream
from grpclib.server import Server
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes

from embly_build.protocol.limits import (
    IDLE_CONNECTION_SECONDS,
    MAX_CONNECTIONS,
    MAX_STREAMS_PER_CONNECTION,
)
from embly_build.transport.access import peer_address

_log = logging.getLogger("embly.serve")


@dataclass(frozen=True)
class ConnectionLimits:
    connections: int = MAX_CONNECTIONS  # per server, over all its listeners
    streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    idle_connection_s: float = IDLE_CONNECTION_SECONDS


class OpenConnections:
    """The connections a server holds, over all its listeners, up to its most."""

    def __init__(self, most: int) -> None:
        self._most = most
        self.count = 0
        self._refusing = False

    def admit(self, peer: str) -> bool:
        if self.count >= self._most:
            if not self._refusing:  # the first of a burst: later ones are not logged
                self._refusing = True
                _log.warning(
                    "refused a connection from %s: the server has %d connections open, its "
                    "most; new connections are closed at once until some close",
                    peer,
                    self._most,
                )
            return False
        self._refusing = False
        self.count += 1
        return True

    def release(self) -> None:
        self.count -= 1


class LimitedServer(Server):
    """A grpclib Server whose connections are limited, TLS done by each connection (given
    `tls`, the server is started without an SSL context)."""

    def __init__(
        self,
        handlers: Collection[Any],
        *,
        codec: CodecBase,
        limits: ConnectionLimits,
        connections: OpenConnections,
        tls: ssl.SSLContext | None,
    ) -> None:
        super().__init__(handlers, codec=codec)
        self.limits = limits
        self.connections = connections
        self.tls = tls
        self.handshakes: set[asyncio.Task[None]] = set()

    def _protocol_factory(self) -> H2Protocol:
        made = super()._protocol_factory()
        return LimitedProtocol(made, self)

    def close(self) -> None:
        super().close()
        for handshake in self.handshakes:
            handshake.cancel()


class LimitedProtocol(H2Protocol):
    """grpclib's server protocol for one connection, within its server's limits."""

    def __init__(self, made: H2Protocol, server: LimitedServer) -> None:
        self._streams = _OpenStreams(made.handler, self._busy, self._idle_from_now)
        super().__init__(self._streams, made.config, made.h2_config)
        self._server = server
        self._peer = "a unix socket"
        self._counted = False
        self._speaking = False  # HTTP/2, over TLS when the server has it
        self._idle_timer: asyncio.TimerHandle | None = None
        # What the client sent in the handshake's last read, before start_tls returned.
        self._early: list[bytes] = []

    def connection_made(self, made: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, made)  # asyncio's servers make stream transports
        self._peer = peer_address(transport.get_extra_info("peername")) or self._peer
        if not self._server.connections.admit(self._peer):
            transport.abort()
            self.handler.close()
            return
        self._counted = True
        tls = self._server.tls
        if tls is None:
            self._speak(transport)
            return
        transport.pause_reading()  # until the handshake reads it
        handshake = asyncio.get_running_loop().create_task(self._handshake(transport, tls))
        self._server.handshakes.add(handshake)
        handshake.add_done_callback(self._server.handshakes.discard)

    async def _handshake(self, transport: asyncio.Transport, tls: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        try:
            secured = await loop.start_tls(transport, self, tls, server_side=True)
        except BaseException as error:
            self._forget()  # start_tls has closed the transport
            if isinstance(error, Exception):
                _log.debug("TLS handshake with %s failed: %s", self._peer, error)
                return
            raise
        if secured is None:  # the connection was lost as the handshake ended
            self._forget()
            return
        self._speak(secured)

    def _speak(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._speaking = True
        if self._streams.closing:  # the server closed during the handshake
            self.processor.close("Server closed")
            return
        self.connection._connection.update_settings(
            {SettingCodes.MAX_CONCURRENT_STREAMS: self._server.limits.streams_per_connection}
        )
        self.connection.flush()
        self._idle_from_now()
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        if not self._speaking:
            self._early.append(data)
            return
        if self.connection.is_closing():  # closed for what came before: the rest is moot
            return
        try:
            super().data_received(data)
        except Exception as error:
            _log.warning(
                "closed the connection from %s: it sent what is not valid HTTP/2 (%s: %s)",
                self._peer,
                type(error).__name__,
                error,
            )
            self.processor.close("Malformed HTTP/2")

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._speaking:
            super().connection_lost(exc)
        self._forget()

    def _forget(self) -> None:
        self._cancel_idle()
        if not self._speaking:
            self.handler.close()
        if self._counted:
            self._counted = False
            self._server.connections.release()

    def _busy(self) -> None:
        self._cancel_idle()

    def _idle_from_now(self) -> None:
        self._cancel_idle()
        if self._speaking and not self.connection.is_closing():
            self._idle_timer = asyncio.get_running_loop().call_later(
                self._server.limits.idle_connection_s, self._close_idle
            )

    def _cancel_idle(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _close_idle(self) -> None:
        self._idle_timer = None
        if self._streams.open or self.connection.is_closing():
            return
        try:
            self.connection._connection.close_connection()  # GOAWAY, no error
            self.connection.flush()
        except ProtocolError:
            pass  # h2 has closed it already
        self.processor.close("Idle connection closed")


class _OpenStreams(AbstractHandler):
    """grpclib's server handler of one connection, which also says when the connection
    has a call open and when it has none."""

    def __init__(
        self, handler: AbstractHandler, busy: Callable[[], None], idle: Callable[[], None]
    ) -> None:
        self._handler = handler
        self._busy = busy
        self._idle = idle
        self.open = 0

    @property
    def closing(self) -> bool:
        return bool(getattr(self._handler, "closing", False))

    def accept(self, stream: Stream, headers: Any, release_stream: Callable[[], None]) -> None:
        self.open += 1
        self._busy()

        def release() -> None:
            self.open -= 1
            release_stream()
            if not self.open:
                self._idle()

        self._handler.accept(stream, headers, release)

    def cancel(self, stream: Stream) -> None:
        self._handler.cancel(stream)

    def close(self) -> None:
        self._handler.close()
