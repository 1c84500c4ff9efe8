"""Upload throughput: the client's upload path (client/session/upload.py) into a real
server (GrpcServer serving the BuildService from server/factory.py, in its own process),
beside a raw copy of the same bytes over the same kind of socket, over a unix socket and
over TLS on loopback TCP. Medians of several runs, measured side by side in one run.

The payload is a few hundred MB in files of mixed sizes, as a crate with vendored
dependencies and some large assets has them: most small (sent in batches), some of a few
MB (sent in chunks). Every run starts from an empty store, so every byte is sent and stored.

The raw copy reads each file in 1 MiB pieces, writes them to the socket, and the receiving
process writes what arrives to a file on the same disk: what a `socat` pipe of the files
into a file costs, the least an upload can cost. Both sides hash nothing. Beside it, for
where the time goes: the same raw copy with the receiver writing a file per file sent, as
a store must (on many disks, creating thousands of small files costs more than the bytes).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import trustme

from embly_build.client.inputs.walk import IndexedFile
from embly_build.client.session.upload import TreeInputs, upload_inputs
from embly_build.protocol.input_trees import TreeFile, encode_input_tree
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings
from embly_build.transport.address import parse_address
from embly_build.transport.connection import open_connection
from embly_build.transport.credentials import Credentials
from embly_build.transport.grpc_server import GrpcServer

RUNS = 3
READ_SIZE = 1024 * 1024
SMALL_FILES = 4000  # 200 B to 256 KiB, log-uniform: sent in batches
MEDIUM_FILES = 40  # 1 to 4 MiB: sent in chunks
LARGE_FILES = 3  # 20 MiB each
# The raw copy's framing: ONE or EACH, the number of files, then each one's length and bytes.
_LENGTH = struct.Struct("!Q")
ONE, EACH = b"1", b"n"


def make_payload(root: Path) -> list[IndexedFile]:
    rng = random.Random(24)
    sizes = [int(200 * (256 * 1024 / 200) ** rng.random()) for _ in range(SMALL_FILES)]
    sizes += [rng.randint(1024 * 1024, 4 * 1024 * 1024) for _ in range(MEDIUM_FILES)]
    sizes += [20 * 1024 * 1024] * LARGE_FILES
    files = []
    for number, size in enumerate(sizes):
        path = f"d{number % 50}/f{number}.bin"
        location = root / path
        location.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(size)
        location.write_bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        files.append(IndexedFile(path, str(location), sha256, size, False))
    return files


def tls_contexts(work: Path) -> tuple[ssl.SSLContext, ssl.SSLContext, Path, Path]:
    """The client's context, and the server's with its certificate and key files."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key = work / "server.pem", work / "server.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    for extra in issued.cert_chain_pems[1:]:
        with open(cert, "ab") as handle:
            handle.write(extra.bytes())
    issued.private_key_pem.write_to_path(str(key))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    client.set_alpn_protocols(["h2"])
    return client, server_context(cert, key), cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    return context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# The server's process: `bench_upload.py serve HOME SOCKET PORT CERT KEY`.
async def serve(home: Path, unix_path: str, port: int, cert: Path, key: Path) -> None:
    service = create_service(ServerSettings(home=home))
    server = GrpcServer(service, ssl_context=server_context(cert, key))
    await server.start([parse_address(f"unix:{unix_path}"), parse_address(f"127.0.0.1:{port}")])
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.close()
    await service.close()


# The raw copy's receiving process: `bench_upload.py sink SOCKET PORT CERT KEY OUT_DIR`.
async def sink(unix_path: str, port: int, cert: Path, key: Path, out_dir: Path) -> None:
    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        each = await reader.readexactly(1) == EACH
        (count,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir()
        out = open(out_dir / "all", "wb")  # noqa: SIM115
        for number in range(count):
            if each:
                out.close()
                out = open(out_dir / str(number), "wb")  # noqa: SIM115
            (remaining,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
            while remaining:
                data = await reader.read(min(remaining, READ_SIZE))
                out.write(data)
                remaining -= len(data)
        out.close()
        writer.write(b"k")
        await writer.drain()
        writer.close()

    await asyncio.start_unix_server(receive, unix_path)
    await asyncio.start_server(receive, "127.0.0.1", port, ssl=server_context(cert, key))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def raw_copy(
    files: Sequence[IndexedFile], connect: Callable[[], Awaitable[Streams]], mode: bytes
) -> None:
    """Send the files' bytes; the receiver writes them to one file (ONE) or a file each
    (EACH)."""
    reader, writer = await connect()
    writer.write(mode + _LENGTH.pack(len(files)))
    for file in files:
        writer.write(_LENGTH.pack(file.size))
        with open(file.location, "rb") as handle:
            while data := handle.read(READ_SIZE):
                writer.write(data)
                await writer.drain()
    await reader.readexactly(1)
    writer.close()


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def start(argv: list[str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, __file__, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def stop(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=30)


def empty_store(store_dir: Path) -> None:
    blobs = store_dir / "blobs"
    shutil.rmtree(blobs)
    blobs.mkdir()


async def median_async(
    action: Callable[[], Awaitable[object]], before: Callable[[], None]
) -> float:
    samples = []
    for _ in range(RUNS):
        before()
        started = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def line(label: str, total: int, ours: float, raw: float, raw_each: float) -> None:
    print(
        f"{label:<20} upload {total / ours / 1e6:6.1f} MB/s  raw copy {total / raw / 1e6:6.1f} "
        f"MB/s  ratio {raw / ours:4.2f}  | raw copy to a file each {total / raw_each / 1e6:6.1f} "
        f"MB/s  ratio {raw_each / ours:4.2f}",
        flush=True,
    )


async def measure(work: Path) -> None:
    files = make_payload(work / "payload")
    total = sum(f.size for f in files)
    tree = TreeInputs(
        files, encode_input_tree(TreeFile(f.path, f.sha256, f.size, False) for f in files)
    )
    client_tls, _, cert, key = tls_contexts(work)
    home = work / "home"
    server_socket, sink_socket = str(work / "server.sock"), str(work / "sink.sock")
    server_port, sink_port = free_port(), free_port()
    print(f"payload: {len(files)} files, {total / 1e6:.0f} MB; median of {RUNS} runs", flush=True)
    server = start(["serve", str(home), server_socket, str(server_port), str(cert), str(key)])
    receiver = start(["sink", sink_socket, str(sink_port), str(cert), str(key), str(work / "copy")])
    try:
        for label, address, credentials, open_raw in [
            (
                "unix socket",
                f"unix:{server_socket}",
                Credentials(),
                lambda: asyncio.open_unix_connection(sink_socket),
            ),
            (
                "TCP+TLS (loopback)",
                f"127.0.0.1:{server_port}",
                Credentials(ssl_context=client_tls),
                lambda: asyncio.open_connection(
                    "127.0.0.1", sink_port, ssl=client_tls, server_hostname="127.0.0.1"
                ),
            ),
        ]:
            connection = open_connection(address, credentials=credentials)

            async def upload() -> None:
                result = await upload_inputs(connection.api, [tree])  # noqa: B023
                assert result.bytes_uploaded == total, "every file was sent"

            try:
                ours = await median_async(upload, lambda: empty_store(home / "store"))
            finally:
                await connection.close()
            raw = await median_async(lambda: raw_copy(files, open_raw, ONE), lambda: None)  # noqa: B023
            raw_each = await median_async(lambda: raw_copy(files, open_raw, EACH), lambda: None)  # noqa: B023
            line(label, total, ours, raw, raw_each)
    finally:
        stop(server)
        stop(receiver)


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        home, unix_path, port, cert, key = sys.argv[2:]
        asyncio.run(serve(Path(home), unix_path, int(port), Path(cert), Path(key)))
        return
    if sys.argv[1:2] == ["sink"]:
        unix_path, port, cert, key, out_file = sys.argv[2:]
        asyncio.run(sink(unix_path, int(port), Path(cert), Path(key), Path(out_file)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(measure(Path(scratch)))


if __name__ == "__main__":
    main()
