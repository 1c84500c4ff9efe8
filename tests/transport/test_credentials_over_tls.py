"""Tokens and TLS credentials as the library's `connect(...)` presents them to a real gRPC
server on 127.0.0.1 with TLS, and how the server's token file is read."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from grpclib import GRPCError
from grpclib.client import Channel
from grpclib.const import Cardinality, Status

from embly_build.client.session.connect import connect
from embly_build.errors import AccessDenied, ConfigError, ServerError, UsageError
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address
from embly_build.transport.authentication import Authenticator
from embly_build.transport.bearer_tokens import TokenFile
from embly_build.transport.client_credentials import client_credentials, read_token_file
from embly_build.transport.grpc_server import GrpcServer
from embly_build.transport.tls import server_context
from tests.transport.raw_calls import SERVICE, RawCodec, framed

TOKEN = "s3cret-token-0123456789"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(tmp_path: Path, ca: trustme.CA) -> AsyncIterator[tuple[str, Path]]:
    """A server needing a token over TLS; its address and the CA file that signed it."""
    pem = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# rotated monthly\nci {TOKEN}\n")
    service = create_service(ServerSettings(home=tmp_path / "home", jobs=1))
    server = GrpcServer(
        service,
        ssl_context=server_context(pem, pem),
        policy=Authenticator(TokenFile(tokens), client_certificates=False),
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await server.start([parse_address(f"127.0.0.1:{port}")])
    try:
        yield f"127.0.0.1:{port}", ca_file
    finally:
        await server.close()
        await service.close()


async def test_connect_presents_a_token_over_tls(tls_server: tuple[str, Path]) -> None:
    address, ca_file = tls_server
    async with connect(address, tls_ca=ca_file, token=TOKEN) as client:
        info = await client.server_info()
    assert info.server_version


async def test_connect_without_the_token_is_refused_with_advice(
    tls_server: tuple[str, Path],
) -> None:
    address, ca_file = tls_server
    async with connect(address, tls_ca=ca_file) as client:
        with pytest.raises(AccessDenied, match="this server needs a token: pass --token-file"):
            await client.server_info()
    async with connect(address, tls_ca=ca_file, token="x" * 20) as client:
        with pytest.raises(AccessDenied, match="not one this server accepts"):
            await client.server_info()


def test_a_token_is_never_sent_in_clear_text_off_this_machine(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"refusing to send a token to 10\.1\.2\.3:9276 in clear"):
        client_credentials(parse_address("10.1.2.3:9276"), token=TOKEN)
    # loopback and unix sockets stay on this machine
    assert client_credentials(parse_address("127.0.0.1:9276"), token=TOKEN).metadata
    assert client_credentials(parse_address(f"unix:{tmp_path}/s"), token=TOKEN).metadata
    with pytest.raises(UsageError, match="for a build server at HOST:PORT"):
        client_credentials(parse_address(f"unix:{tmp_path}/s"), tls_ca=tmp_path / "ca.pem")


def test_a_clients_token_file_holds_one_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}\n\n")
    assert read_token_file(path) == TOKEN
    path.write_text(f"ci {TOKEN}\n")
    with pytest.raises(UsageError, match="the server's file has a NAME before each token"):
        read_token_file(path)
    path.write_text("")
    with pytest.raises(UsageError, match="is empty"):
        read_token_file(path)
    with pytest.raises(UsageError, match="no such file"):
        read_token_file(tmp_path / "none")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alice\n", "line 1: expected NAME TOKEN"),
        ("alice short\n", "too short"),
        (f"alice {TOKEN}\nalice {TOKEN}x\n", "line 2: the name 'alice' is used twice"),
        (f"alice {TOKEN}\nbob {TOKEN}\n", "line 2: the token of 'bob' is another line's too"),
        ("# only a comment\n\n", "holds no token"),
        (f"al/ice {TOKEN}\n", "invalid name"),
    ],
)
def test_a_bad_server_token_file_is_named_with_its_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "tokens"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        TokenFile(path)


def test_server_tokens_are_matched_by_name_and_reread_on_change(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"alice {TOKEN}\nbob {TOKEN[::-1]}\n")
    tokens = TokenFile(path)
    assert tokens.match(TOKEN) == "alice" and tokens.match(TOKEN[::-1]) == "bob"
    assert tokens.match(TOKEN[:-1]) is None and tokens.match(TOKEN + "x") is None
    path.write_text(f"bob {TOKEN[::-1]}\n#alice revoked\n")
    assert tokens.match(TOKEN) is None
    path.unlink()
    with pytest.raises(ConfigError, match="No such file"):
        tokens.match(TOKEN[::-1])  # fails closed: nothing passes without the file


async def test_a_caller_without_a_token_is_refused_before_its_message_is_read(
    tls_server: tuple[str, Path],
) -> None:
    """A message claiming 50 MiB, never sent: refused at once, nothing of it awaited."""
    address, ca_file = tls_server
    host, port = address.split(":")
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["h2"])
    channel = Channel(host, int(port), ssl=context, codec=RawCodec())
    try:
        async with asyncio.timeout(10):
            with pytest.raises(GRPCError) as refused:
                async with channel.request(
                    SERVICE + "FindMissingBlobs", Cardinality.STREAM_STREAM, bytes, bytes
                ) as stream:
                    await stream.send_request()
                    await stream._stream.send_data(framed(b"", claimed=50 * 1024 * 1024))
                    [reply async for reply in stream]
    finally:
        channel.close()
    assert refused.value.status == Status.UNAUTHENTICATED
    assert "this server needs a token" in (refused.value.message or "")


def test_tls_files_a_user_mixes_up_are_named(tmp_path: Path, ca: trustme.CA) -> None:
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    assert server_context(cert, key) is not None
    with pytest.raises(UsageError, match="holds a private key \\(swapped with the key's option"):
        server_context(key, cert)
    encrypted = tmp_path / "encrypted.pem"
    subprocess.run(
        [
            "openssl",
            "pkey",
            "-in",
            str(key),
            "-aes256",
            "-passout",
            "pass:x",
            "-out",
            str(encrypted),
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    with pytest.raises(UsageError, match="is encrypted with a passphrase, which embly cannot ask"):
        server_context(cert, encrypted)  # and no prompt: stdin is not even read
    with pytest.raises(UsageError, match="is a directory"):
        server_context(cert, tmp_path)


def test_a_token_file_with_a_byte_order_mark_is_read_as_its_editor_meant(tmp_path: Path) -> None:
    client = tmp_path / "token"
    client.write_text("\ufeff" + TOKEN + "\r\n", encoding="utf-8")
    assert read_token_file(client) == TOKEN
    server = tmp_path / "tokens"
    server.write_text(f"\ufeffci {TOKEN}\n", encoding="utf-8")
    assert TokenFile(server).match(TOKEN) == "ci"
    client.write_text("tok\u00e9n-with-an-accent-0123\n", encoding="utf-8")
    with pytest.raises(UsageError, match=f"the token in {client} has characters a token cannot"):
        client_credentials(parse_address("127.0.0.1:1"), token_file=client)


async def test_a_web_server_at_the_address_is_named(tmp_path: Path) -> None:
    async def web_page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(web_page, "127.0.0.1", 0)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with connect(address, connect_timeout=5) as client:
            with pytest.raises(ServerError, match="answered in HTTP/1, not gRPC \\(a web server"):
                await client.server_info()
    finally:
        server.close()
