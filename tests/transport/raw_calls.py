"""A real build server on a unix socket, loopback TCP or TLS, and calls to it made of raw bytes,
as a hostile or broken client sends them."""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from grpclib import GRPCError
from grpclib.client import Channel
from grpclib.const import Cardinality
from grpclib.encoding.base import CodecBase
from grpclib.encoding.proto import ProtoCodec

from embly_build.protocol import pb
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address
from embly_build.transport.authentication import Authenticator
from embly_build.transport.bearer_tokens import TokenFile
from embly_build.transport.grpc_server import GrpcServer

SERVICE = "/embly.build.v1.BuildService/"


class RawCodec(CodecBase):
    """Messages as the bytes they are on the wire."""

    __content_subtype__ = "proto"

    def encode(self, message: Any, message_type: Any) -> bytes:
        return bytes(message)

    def decode(self, data: bytes, message_type: Any) -> bytes:
        return data


@dataclass
class RawServer:
    channel: Channel  # sends raw bytes
    stub: pb.BuildServiceStub  # a well-behaved client of the same server
    home: Path  # the server's state
    metadata: dict[str, str]  # what an admitted client sends (a token over TLS)

    async def call(self, method: str, *messages: bytes) -> bytes:
        """Send these message bodies to `method`; its one answer's bytes."""
        async with self.channel.request(
            SERVICE + method, Cardinality.STREAM_STREAM, bytes, bytes, metadata=self.metadata
        ) as stream:
            for message in messages:
                await stream.send_message(message)
            await stream.end()
            replies = [reply async for reply in stream]
        return replies[0] if replies else b""

    async def refusal(self, method: str, *messages: bytes) -> GRPCError:
        with pytest.raises(GRPCError) as raised:
            await self.call(method, *messages)
        return raised.value

    async def refusal_of_frames(self, method: str, data: bytes, *, end: bool = True) -> GRPCError:
        """Send `data` as it is (prefixes and all) to `method`, the call ended after it
        unless not `end`; the error it is answered with."""
        with pytest.raises(GRPCError) as raised:
            async with self.channel.request(
                SERVICE + method, Cardinality.STREAM_STREAM, bytes, bytes, metadata=self.metadata
            ) as stream:
                await stream.send_request()
                # Below grpclib's send_message, which frames whole messages only.
                await stream._stream.send_data(data, end_stream=end)
                [reply async for reply in stream]
        return raised.value

    async def still_answers(self) -> None:
        """A well-behaved call is answered after whatever came before."""
        probe = pb.Digest(sha256="ab" * 32, size_bytes=1)
        answer = await self.stub.find_missing_blobs(pb.FindMissingBlobsRequest(digests=[probe]))
        assert [digest.sha256 for digest in answer.missing] == [probe.sha256]


def framed(body: bytes, *, compressed: bool = False, claimed: int | None = None) -> bytes:
    """A gRPC message: its 5-byte prefix (the length claimed, unless given), then `body`."""
    return struct.pack(">BI", compressed, len(body) if claimed is None else claimed) + body


@pytest.fixture(params=["unix", "tcp", "tls"])
async def raw_server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RawServer]:
    """A real server on a unix socket, on loopback TCP, or on loopback TCP with TLS and a
    token (then every raw call is an authenticated one: what is checked is the server's
    handling of its content)."""
    home = tmp_path / "home"
    service = create_service(ServerSettings(home=home, jobs=1))
    metadata: dict[str, str] = {}
    if request.param == "unix":
        server = GrpcServer(service)
        await server.start([parse_address(f"unix:{tmp_path / 'embly.sock'}")])
        raw, plain = (Channel(path=str(tmp_path / "embly.sock"), codec=c) for c in CODECS)
    elif request.param == "tcp":
        server = GrpcServer(service)
        port = _free_port()
        await server.start([parse_address(f"127.0.0.1:{port}")])
        raw, plain = (Channel("127.0.0.1", port, codec=c) for c in CODECS)
    else:
        server_tls, client_tls = _tls_contexts()
        tokens = tmp_path.parent / f"{tmp_path.name}-tokens"  # outside the checked directory
        tokens.write_text(f"hostile {TOKEN}\n")
        policy = Authenticator(TokenFile(tokens), client_certificates=False)
        server = GrpcServer(service, ssl_context=server_tls, policy=policy)
        port = _free_port()
        await server.start([parse_address(f"127.0.0.1:{port}")])
        raw, plain = (Channel("127.0.0.1", port, ssl=client_tls, codec=c) for c in CODECS)
        metadata = {"authorization": f"Bearer {TOKEN}"}
    try:
        yield RawServer(raw, pb.BuildServiceStub(plain, metadata=metadata or None), home, metadata)
    finally:
        raw.close()
        plain.close()
        await server.close()
        await service.close()
    assert [path.name for path in tmp_path.iterdir()] == ["home"], "nothing outside its store"


TOKEN = "hostile-but-admitted-0123456789"
_CA = trustme.CA()


def _tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.set_alpn_protocols(["h2"])
    _CA.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    client.set_alpn_protocols(["h2"])
    _CA.configure_trust(client)
    return server, client


CODECS = (RawCodec(), ProtoCodec())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
