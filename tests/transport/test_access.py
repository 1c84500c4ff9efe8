"""Every call a gRPC server takes passes its access policy before any handler runs, with the
caller's metadata, address and TLS certificate; the client's credentials (call metadata, TLS)
reach it over a unix socket and over TCP with mutual TLS."""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from grpclib import GRPCError
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest

from embly_build.errors import AccessDenied
from embly_build.protocol import pb
from embly_build.protocol.blob_batches import make_batch
from embly_build.server.service import BuildService
from embly_build.transport.access import IncomingCall
from embly_build.transport.address import parse_address
from embly_build.transport.connection import open_connection
from embly_build.transport.credentials import Credentials
from embly_build.transport.grpc_server import GrpcServer
from embly_build.transport.grpc_service import GrpcService

BUILD_SERVICE = "/embly.build.v1.BuildService/"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
REFUSAL = "no token: give one with --token-file"


class RecordingPolicy:
    def __init__(self, *, refuse: bool = False) -> None:
        self.calls: list[IncomingCall] = []
        self._refuse = refuse

    async def admit(self, call: IncomingCall) -> str:
        self.calls.append(call)
        if self._refuse:
            raise AccessDenied(REFUSAL)
        return ""


def digest(data: bytes) -> pb.Digest:
    return pb.Digest(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


async def _refused(call: object) -> GRPCError:
    """The error of a call (an awaitable, or a response stream read to its end)."""
    with pytest.raises(GRPCError) as raised:
        if isinstance(call, AsyncIterator):
            async for _ in call:
                pass
        else:
            await call  # type: ignore[misc]
    return raised.value


async def test_every_call_passes_the_policy_before_its_handler(
    service: BuildService, tmp_path: Path
) -> None:
    sock = tmp_path / "embly.sock"
    policy = RecordingPolicy(refuse=True)
    server = GrpcServer(service, policy=policy)
    await server.start([parse_address(f"unix:{sock}")])
    channel = Channel(path=str(sock))
    stub = pb.BuildServiceStub(channel)
    blob = b"never stored"

    async def chunks() -> AsyncIterator[pb.BlobChunk]:
        yield pb.BlobChunk(digest=digest(blob), offset=0, data=blob, last=True)

    request = pb.BuildRequest(
        project_id="p1",
        function=pb.FunctionSpec(name="f", runtime="rust", path="."),
        input_tree_digest=digest(b"tree"),
        target="x86_64-unknown-linux-gnu",
    )
    try:
        errors = [
            await _refused(stub.find_missing_blobs(pb.FindMissingBlobsRequest([digest(blob)]))),
            await _refused(stub.upload_blobs(chunks())),
            await _refused(stub.upload_blob_batch(make_batch([(digest(blob).sha256, blob)]))),
            await _refused(stub.read_blob(pb.ReadBlobRequest(digest=digest(blob)))),
            await _refused(stub.build(request)),
            await _refused(stub.get_server_info(pb.GetServerInfoRequest())),
            await _refused(HealthStub(channel).Check(HealthCheckRequest())),
        ]
    finally:
        channel.close()
        await server.close()

    every_rpc = [m for m in GrpcService(service).__mapping__() if m.startswith(BUILD_SERVICE)]
    assert len(every_rpc) == 6
    assert sorted(call.method for call in policy.calls) == sorted([*every_rpc, HEALTH_CHECK])
    assert {(error.status, error.message) for error in errors} == {
        (Status.UNAUTHENTICATED, REFUSAL)
    }
    assert not service.store.has(digest(blob)), "no handler ran"
    assert not (tmp_path / "server-home" / "spaces").exists()


async def test_the_clients_metadata_reaches_the_policy_with_every_call(
    service: BuildService, tmp_path: Path
) -> None:
    sock = tmp_path / "embly.sock"
    policy = RecordingPolicy()
    server = GrpcServer(service, policy=policy)
    await server.start([parse_address(f"unix:{sock}")])
    token = {"authorization": "Bearer not-a-real-token"}
    connection = open_connection(f"unix:{sock}", credentials=Credentials(metadata=token))
    try:
        missing = await connection.api.find_missing_blobs(
            pb.FindMissingBlobsRequest([digest(b"a"), digest(b"b")])
        )
        with pytest.raises(GRPCError) as raised:
            async for _ in connection.api.read_blob(pb.ReadBlobRequest(digest=digest(b"a"))):
                pass
    finally:
        await connection.close()
        await server.close()

    assert len(missing.missing) == 2, "an admitted call is served"
    assert raised.value.status == Status.NOT_FOUND, "and answers as without a policy"
    assert [call.method.removeprefix(BUILD_SERVICE) for call in policy.calls] == [
        "FindMissingBlobs",
        "ReadBlob",
    ]
    for call in policy.calls:
        assert call.metadata["authorization"] == "Bearer not-a-real-token"
        assert (call.peer, call.certificate) == ("", None), "a unix socket: no address, no TLS"


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_mutual_tls_over_tcp_shows_the_policy_the_clients_certificate(
    service: BuildService,
) -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.configure_trust(server_tls)
    server_tls.verify_mode = ssl.CERT_REQUIRED
    server_tls.set_alpn_protocols(["h2"])
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    ca.issue_cert("builder@example.com").configure_cert(client_tls)
    client_tls.set_alpn_protocols(["h2"])

    address = f"127.0.0.1:{_free_tcp_port()}"
    policy = RecordingPolicy()
    server = GrpcServer(service, ssl_context=server_tls, policy=policy)
    await server.start([parse_address(address)])
    credentials = Credentials(ssl_context=client_tls, metadata={"x-embly-client": "test"})
    connection = open_connection(address, credentials=credentials)
    try:
        missing = await connection.api.find_missing_blobs(
            pb.FindMissingBlobsRequest([digest(b"a")])
        )
    finally:
        await connection.close()
        await server.close()

    assert len(missing.missing) == 1
    (call,) = policy.calls
    assert call.metadata["x-embly-client"] == "test"
    assert call.peer.startswith("127.0.0.1:")
    assert call.certificate is not None
    names = [value for kind, value in call.certificate["subjectAltName"]]
    assert names == ["builder@example.com"]
