"""A server's limits on what all its clients hold at once (protocol/limits.py): request bytes
being received, connections, calls per connection, idle connections; and a connection that
sends what is not HTTP/2 is closed with one log line. Each against a real server on a unix
socket, loopback TCP or TLS, with the limits made small (the constructor's arguments) so
the attacks stay small and quick; the server answers a well-behaved call after each."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from grpclib.const import Status

from embly_build.protocol import pb
from embly_build.protocol.blob_batches import make_batch
from embly_build.protocol.limits import MAX_REQUEST_BYTES, MiB
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address
from embly_build.transport.authentication import Authenticator
from embly_build.transport.bearer_tokens import TokenFile
from embly_build.transport.bounded_messages import ReceiveBudget
from embly_build.transport.connection import open_connection
from embly_build.transport.connection_limits import ConnectionLimits
from embly_build.transport.credentials import Credentials
from embly_build.transport.grpc_server import GrpcServer
from tests.transport.raw_calls import TOKEN, _free_port, _tls_contexts

LOOKUP = "/embly.build.v1.BuildService/FindMissingBlobs"
BATCH = "/embly.build.v1.BuildService/UploadBlobBatch"
PROBE = pb.Digest(sha256="ab" * 32, size_bytes=1)


@dataclass
class Served:
    """A running server, and how to reach it raw and as a well-behaved client."""

    kind: str
    address: str
    target: dict[str, object]  # asyncio.open_connection's arguments
    credentials: Credentials
    server: GrpcServer
    metadata: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def still_answers(self) -> None:
        connection = open_connection(self.address, credentials=self.credentials)
        try:
            answer = await connection.api.find_missing_blobs(
                pb.FindMissingBlobsRequest(digests=[PROBE])
            )
        finally:
            await connection.close()
        assert [digest.sha256 for digest in answer.missing] == [PROBE.sha256]


@asynccontextmanager
async def serving(
    kind: str,
    tmp_path: Path,
    *,
    limits: ConnectionLimits | None = None,
    budget: ReceiveBudget | None = None,
) -> AsyncIterator[Served]:
    service = create_service(ServerSettings(home=tmp_path / "home", jobs=1))
    credentials = Credentials()
    metadata: list[tuple[bytes, bytes]] = []
    policy = None
    server_tls = None
    if kind == "unix":
        address = f"unix:{tmp_path / 'embly.sock'}"
        target: dict[str, object] = {"path": str(tmp_path / "embly.sock")}
    else:
        port = _free_port()
        address = f"127.0.0.1:{port}"
        target = {"host": "127.0.0.1", "port": port}
    if kind == "tls":
        server_tls, client_tls = _tls_contexts()
        tokens = tmp_path / "tokens"
        tokens.write_text(f"tester {TOKEN}\n")
        policy = Authenticator(TokenFile(tokens), client_certificates=False)
        credentials = Credentials(client_tls, {"authorization": f"Bearer {TOKEN}"})
        target |= {"ssl": client_tls, "server_hostname": "127.0.0.1"}
        metadata = [(b"authorization", f"Bearer {TOKEN}".encode())]
    server = GrpcServer(
        service,
        ssl_context=server_tls,
        policy=policy,
        connection_limits=limits,
        receive_budget=budget,
    )
    await server.start([parse_address(address)])
    try:
        yield Served(kind, address, target, credentials, server, metadata)
    finally:
        await server.close()
        await service.close()


class RawH2:
    """An HTTP/2 client made of h2 and a socket: sends what it is told, frames and all."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False
        )
        self.h2 = h2.connection.H2Connection(config)
        self._reader = reader
        self._writer = writer
        self.statuses: dict[int, tuple[int, str]] = {}  # stream: grpc-status, message
        self.goaway = False
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._reading = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, target: dict[str, object]) -> RawH2:
        if "path" in target:
            reader, writer = await asyncio.open_unix_connection(**target)  # type: ignore[arg-type]
        else:
            reader, writer = await asyncio.open_connection(**target)  # type: ignore[arg-type]
        raw = cls(reader, writer)
        raw.h2.initiate_connection()
        raw._flush()
        return raw

    def call(self, path: str, metadata: list[tuple[bytes, bytes]]) -> int:
        stream = self.h2.get_next_available_stream_id()
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path.encode()),
            (b":authority", b"127.0.0.1"),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            *metadata,
        ]
        self.h2.send_headers(stream, headers)
        self._flush()
        return stream

    async def send(self, stream: int, data: bytes) -> None:
        """As the server's flow control lets it; a task that never ends when it stalls."""
        sent = 0
        with suppress(h2.exceptions.StreamClosedError):  # answered: the rest is not read
            while sent < len(data) and not self.closed.is_set():
                window = min(
                    self.h2.local_flow_control_window(stream), self.h2.max_outbound_frame_size
                )
                if window <= 0:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                self.h2.send_data(stream, data[sent : sent + window])
                sent += window
                self._flush()
                await self._writer.drain()

    async def wait_for(self, done: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self._reading.cancel()
        self._writer.close()
        with suppress(Exception, asyncio.CancelledError):
            await self._reading

    async def _read(self) -> None:
        try:
            while data := await self._reader.read(65536):
                for event in self.h2.receive_data(data):
                    # The status comes in trailers, or in the answer's headers alone.
                    answer = (h2.events.TrailersReceived, h2.events.ResponseReceived)
                    if isinstance(event, answer) and (status := dict(event.headers)).get(
                        b"grpc-status"
                    ):
                        self.statuses[event.stream_id] = (
                            int(status[b"grpc-status"]),
                            unquote(status.get(b"grpc-message", b"").decode()),
                        )
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        self.goaway = True
                self._flush()
                self._changed.set()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self.closed.set()
            self._changed.set()

    def _flush(self) -> None:
        if not self._writer.is_closing():
            self._writer.write(self.h2.data_to_send())


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def peak_rss_while(work: Awaitable[None]) -> int:
    peak = rss_bytes()

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_bytes())
            await asyncio.sleep(0.02)

    sampler = asyncio.get_running_loop().create_task(sample())
    try:
        await work
    finally:
        sampler.cancel()
    return peak


async def test_stalled_messages_hold_no_more_than_the_budget(tmp_path: Path) -> None:
    """4 connections x 16 calls each send a 4 MiB message but its last 50 bytes, then stall
    (256 MiB held by a server without the budget; an 8 MiB budget here, a 2 s arrival
    limit, a 1 s wait for a share). Every call ends RESOURCE_EXHAUSTED, saying why; the
    server holds at most the budget plus a flow-control window (4 MiB) per connection."""
    budget = ReceiveBudget(8 * MiB, wait_s=1.0, arrival_s=2.0)
    connections, calls = 4, 16
    message = struct.pack(">BI", 0, MAX_REQUEST_BYTES) + bytes(MAX_REQUEST_BYTES - 50)
    async with serving("tcp", tmp_path, budget=budget) as served:
        before = rss_bytes()
        clients = [await RawH2.open(served.target) for _ in range(connections)]
        streams = [
            (client, client.call(BATCH, served.metadata))
            for client in clients
            for _ in range(calls)
        ]
        senders = [asyncio.create_task(client.send(stream, message)) for client, stream in streams]

        async def all_answered() -> None:
            for client, stream in streams:
                await client.wait_for(partial(client.statuses.__contains__, stream), timeout=30)

        peak = await peak_rss_while(all_answered())
        for sender in senders:
            sender.cancel()
        answers = [client.statuses[stream] for client, stream in streams]
        for client in clients:
            await client.close()
        assert {status for status, _ in answers} == {Status.RESOURCE_EXHAUSTED.value}
        reasons = {message for _, message in answers}
        assert any("did not arrive within 2 s" in message for _, message in answers), reasons
        assert any("waited 1 s for room" in message for _, message in answers), reasons
        held = peak - before
        bound = 8 * MiB + connections * 4 * MiB  # the budget, a window a connection
        assert held < bound + 24 * MiB, f"the server held {held / MiB:.0f} MiB"
        await served.still_answers()


async def test_a_message_waits_for_its_share_then_arrives(tmp_path: Path) -> None:
    """A well-behaved upload while a stalled message holds the whole budget is answered
    once the stalled one's time is up: it waits rather than fails."""
    budget = ReceiveBudget(2 * MiB, wait_s=10.0, arrival_s=1.0)
    async with serving("unix", tmp_path, budget=budget) as served:
        staller = await RawH2.open(served.target)
        stalled = staller.call(BATCH, served.metadata)
        claimed = 2 * MiB
        sending = asyncio.create_task(
            staller.send(stalled, struct.pack(">BI", 0, claimed) + bytes(1000))
        )
        await asyncio.sleep(0.2)  # its prefix is read and its share taken
        data = b"uploaded while another stalls"
        upload = make_batch([(hashlib.sha256(data).hexdigest(), data)])
        connection = open_connection(served.address)
        try:
            await asyncio.wait_for(connection.api.upload_blob_batch(upload), timeout=5)
        finally:
            await connection.close()
        await staller.wait_for(lambda: stalled in staller.statuses, timeout=5)
        sending.cancel()
        await staller.close()
        status, message = staller.statuses[stalled]
        assert status == Status.RESOURCE_EXHAUSTED.value
        assert f"the request message of {claimed} bytes did not arrive within 1 s" in message


@pytest.mark.parametrize("kind", ["unix", "tcp", "tls"])
async def test_an_idle_connection_is_closed_and_a_client_connects_again(
    kind: str, tmp_path: Path
) -> None:
    limits = ConnectionLimits(idle_connection_s=0.5)
    async with serving(kind, tmp_path, limits=limits) as served:
        raw = await RawH2.open(served.target)
        await asyncio.wait_for(raw.closed.wait(), timeout=3)
        assert raw.goaway, "told with a GOAWAY"
        await raw.close()

        # A client that keeps its channel between calls, as `embly watch` does.
        watching = open_connection(served.address, credentials=served.credentials)
        try:
            for _ in range(2):
                answer = await watching.api.find_missing_blobs(
                    pb.FindMissingBlobsRequest(digests=[PROBE])
                )
                assert len(answer.missing) == 1
                await asyncio.sleep(1.0)  # its connection is closed meanwhile
            answer = await watching.api.find_missing_blobs(
                pb.FindMissingBlobsRequest(digests=[PROBE])
            )
            assert len(answer.missing) == 1
        finally:
            await watching.close()


async def test_a_busy_connection_is_not_idle(tmp_path: Path) -> None:
    """A call open (its message still to come) keeps its connection past the idle time."""
    limits = ConnectionLimits(idle_connection_s=0.3)
    async with serving("unix", tmp_path, limits=limits) as served:
        raw = await RawH2.open(served.target)
        stream = raw.call(LOOKUP, served.metadata)
        await asyncio.sleep(1.0)
        assert not raw.closed.is_set()
        raw.h2.send_data(stream, struct.pack(">BI", 0, 0), end_stream=True)
        raw._flush()
        await raw.wait_for(lambda: stream in raw.statuses, timeout=3)
        assert raw.statuses[stream][0] == Status.OK.value
        await asyncio.wait_for(raw.closed.wait(), timeout=3)  # idle once the call ended
        await raw.close()


@pytest.mark.parametrize("kind", ["unix", "tls"])
async def test_a_call_that_never_sends_its_message_ends_and_its_connection_goes(
    kind: str, tmp_path: Path
) -> None:
    """Calls opened and left silent would otherwise hold every connection the server takes:
    each ends RESOURCE_EXHAUSTED, saying why, and the connection, idle then, is closed."""
    budget = ReceiveBudget(next_message_s=0.5)
    limits = ConnectionLimits(idle_connection_s=0.5)
    async with serving(kind, tmp_path, budget=budget, limits=limits) as served:
        raw = await RawH2.open(served.target)
        silent = [raw.call(LOOKUP, served.metadata), raw.call(BATCH, served.metadata)]
        await raw.wait_for(lambda: all(s in raw.statuses for s in silent), timeout=5)
        for stream in silent:
            status, message = raw.statuses[stream]
            assert status == Status.RESOURCE_EXHAUSTED.value
            assert "no request message came within 0.5 s on an open call" in message
        await asyncio.wait_for(raw.closed.wait(), timeout=5)
        await raw.close()
        await served.still_answers()


@pytest.mark.parametrize("kind", ["tcp", "tls"])
async def test_connections_over_the_cap_are_closed_at_once(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """4 connections that say nothing (over TLS: not even a handshake) fill the cap; the
    next 3 are closed at once, with one log line for them all."""
    limits = ConnectionLimits(connections=4)
    async with serving(kind, tmp_path, limits=limits) as served:
        plain = {"host": served.target["host"], "port": served.target["port"]}
        held = [await asyncio.open_connection(**plain) for _ in range(4)]  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="embly.serve"):
            for _ in range(3):
                reader, writer = await asyncio.open_connection(**plain)  # type: ignore[arg-type]
                assert await asyncio.wait_for(reader.read(100), timeout=2) == b""
                writer.close()
        refusals = [r for r in caplog.records if r.name == "embly.serve"]
        assert len(refusals) == 1, [r.getMessage() for r in refusals]
        assert "refused a connection from 127.0.0.1:" in refusals[0].getMessage()
        assert "4 connections open, its most" in refusals[0].getMessage()
        for _, writer in held:
            writer.close()
        await asyncio.sleep(0.2)
        await served.still_answers()


async def test_the_stream_cap_is_told_to_clients(tmp_path: Path) -> None:
    limits = ConnectionLimits(streams_per_connection=7)
    async with serving("unix", tmp_path, limits=limits) as served:
        raw = await RawH2.open(served.target)
        await raw.wait_for(lambda: raw.h2.remote_settings.max_concurrent_streams == 7, timeout=3)
        await raw.close()


@pytest.mark.parametrize("kind", ["unix", "tcp", "tls"])
async def test_a_header_that_is_not_ascii_closes_the_connection_with_one_log_line(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(kind, tmp_path) as served:
        with caplog.at_level(logging.DEBUG):
            raw = await RawH2.open(served.target)
            raw.call(LOOKUP, [(b"authorization", b"Bearer \xff\xfe")])
            await asyncio.wait_for(raw.closed.wait(), timeout=3)
            await raw.close()
            await asyncio.sleep(0.1)
        logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.name for r in logged] == ["embly.serve"], [r.getMessage() for r in logged]
        line = logged[0].getMessage()
        assert "closed the connection from" in line and "not valid HTTP/2" in line
        assert ("a unix socket" if kind == "unix" else "127.0.0.1:") in line
        assert "\n" not in line and not any(r.exc_info for r in caplog.records)
        await served.still_answers()
