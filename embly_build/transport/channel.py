"""grpclib's Channel, whose connecting either succeeds within a deadline or says why not."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from asyncio import BaseTransport

from grpclib.client import Channel, Handler
from grpclib.protocol import H2Protocol

from embly_build.transport.tls_failures import CA_OPTION, CLIENT_CERT_OPTIONS, tls_failure

# How long a server may take to take a connection and answer it: the TCP connect, the TLS
# handshake and the HTTP/2 SETTINGS frame a gRPC server sends first, before any call. A
# live server answers in milliseconds however busy its builds are, so 10 s leaves room
# for a slow network, yet a wrong port (a service that never speaks first) is named well
# before a user gives up waiting. Calls are not bounded: a Build stream may be silent
# for minutes.
CONNECT_TIMEOUT = 10.0


class ServerUnreachable(ConnectionError):
    """Connecting to the server failed; the message says why, in words."""


class TlsRefused(ServerUnreachable):
    """The TLS handshake failed, or the server closed a TLS connection at once; the message
    says why and what to pass."""


class ServerNotAnswering(ServerUnreachable):
    """The server took the connection but did not answer it in time: not a gRPC server (a
    wrong port), or a hung one. The message follows "the server at ADDRESS"."""


class _AnswerWatchingProtocol(H2Protocol):
    """An H2Protocol that knows whether the server has sent anything yet."""

    def __init__(self, channel: Channel, host: str | None) -> None:
        super().__init__(Handler(), channel._config, channel._h2_config)
        self._host = host
        self._tls = channel._ssl is not None
        self.made = False
        self._first_bytes = b""
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: BaseTransport) -> None:
        self.made = True
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self.answered.done():
            self._first_bytes += data
            if len(self._first_bytes) < _FRAME_TYPE + 1:
                return  # held back until it can be told whether this is HTTP/2
            not_grpc = _not_http2(self._first_bytes)
            if not_grpc is not None:
                self.answered.set_exception(ServerNotAnswering(not_grpc))
                self.processor.close("the server does not speak HTTP/2")
                return
            self.answered.set_result(None)
            data, self._first_bytes = self._first_bytes, b""
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(self._lost(exc))
        super().connection_lost(exc)

    def _lost(self, exc: BaseException | None) -> ServerUnreachable:
        if isinstance(exc, ssl.SSLError):  # an alert: the server refused our certificate
            return TlsRefused(tls_failure(exc, self._host))
        if isinstance(exc, OSError):
            cause = os.strerror(exc.errno) if exc.errno else str(exc)
            return ServerUnreachable(f"the connection failed before the server answered: {cause}")
        if not self._tls:
            # A TLS server drops a plaintext client's first bytes without a word.
            return ServerUnreachable(
                "the server closed the connection without answering (if it serves TLS, pass "
                f"{CA_OPTION})"
            )
        # TLS 1.3 ends the handshake before the server checks the client's certificate, and
        # a refusal may come as a closed connection with no alert read.
        return TlsRefused(
            "the server closed the TLS connection without answering: if it requires client "
            f"certificates (mutual TLS), pass {CLIENT_CERT_OPTIONS} with one it accepts"
        )


# An HTTP/2 server speaks first with a SETTINGS frame: 3 bytes of length, then its type.
_FRAME_TYPE = 3
_SETTINGS = 0x04


def _not_http2(first: bytes) -> str | None:
    """What a server that answered `first` is, when it is no HTTP/2 (so no gRPC) server; the
    words follow "the server at ADDRESS"."""
    if first[_FRAME_TYPE] == _SETTINGS:
        return None
    if first.startswith(b"HTTP/") or first.lstrip().startswith(b"<"):  # or a bare HTML page
        return "answered in HTTP/1, not gRPC (a web server?)"
    if first.startswith(b"SSH-"):
        return "answered as an SSH server, not gRPC"
    return "answered with something other than HTTP/2, so not gRPC"


class BoundedChannel(Channel):
    """Every failure to connect (a host name that does not resolve, no route, refused, no
    socket file, no answer within `connect_timeout` seconds) is a ServerUnreachable, which
    the client reports as a server it cannot reach (client/session/server_errors.py)."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        path: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        super().__init__(host, port, path=path, ssl=ssl_context)
        self._connect_timeout = connect_timeout
        self._opening: _AnswerWatchingProtocol | None = None

    def _protocol_factory(self) -> H2Protocol:
        # asyncio asks for the protocol once the socket is connected, before any TLS handshake
        self._opening = _AnswerWatchingProtocol(self, self._host)
        return self._opening

    async def _create_connection(self) -> H2Protocol:
        self._opening = None
        try:
            async with asyncio.timeout(self._connect_timeout):
                protocol = await self._connect()
                assert isinstance(protocol, _AnswerWatchingProtocol)
                await protocol.answered
                return protocol
        except TimeoutError:
            raise self._no_answer() from None
        finally:
            self._opening = None

    async def _connect(self) -> H2Protocol:
        try:
            return await super()._create_connection()
        except ssl.SSLError as error:  # OSErrors too, whose errno means nothing here
            raise TlsRefused(tls_failure(error, self._host)) from error
        except socket.gaierror as error:
            raise ServerUnreachable(
                f"cannot resolve the host name {self._host!r}: {error.strerror or error}"
            ) from error
        except OSError as error:
            # asyncio's own words ("Connect call failed ('127.0.0.1', 1)") name no cause
            cause = os.strerror(error.errno) if error.errno else str(error)
            raise ServerUnreachable(cause) from error

    def _no_answer(self) -> ServerUnreachable:
        within = f"within {self._connect_timeout:g} s"
        opening = self._opening
        if opening is None:
            return ServerUnreachable(f"the connection was not accepted {within}")
        opening.answered.cancel()
        if opening.made:
            opening.processor.close()
        elif self._ssl is not None:  # asyncio closes the transport of a handshake it gives up
            return ServerNotAnswering(
                f"accepted the connection but did not complete the TLS handshake {within}"
            )
        return ServerNotAnswering(f"accepted the connection but did not answer {within}")
