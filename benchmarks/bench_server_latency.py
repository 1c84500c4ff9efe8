"""(6) A tiny call's latency on a shared server while another client starts a large build.

A real `embly serve` (its own process, a fresh store each run) listens on a unix socket and
on TCP loopback. One client process does what the first build of a 40,000-file function
sends before its Build: the lookups (FindMissingBlobs), then the uploads (batches of small
files, the tree blob). Meanwhile this process makes a tiny call (a FindMissingBlobs of one
digest) every few milliseconds, over the same kind of socket, and times each. The same
tiny calls against the same server with no load are the baseline, measured in the same run.
Target: the worst tiny call under load stays under 250 ms.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import EMBLY

from embly_build.client.inputs.walk import IndexedFile
from embly_build.client.session.upload import TreeInputs, upload_inputs
from embly_build.protocol import pb
from embly_build.protocol.input_trees import TreeFile, encode_input_tree
from embly_build.transport.connection import open_connection

FILES = 40_000
FILE_BYTES = 600  # a function's assets: many small files
TARGET_SECONDS = 0.250
PROBE_INTERVAL = 0.005
BASELINE_PROBES = 200
PROBE = pb.FindMissingBlobsRequest(
    digests=[pb.Digest(sha256=hashlib.sha256(b"probe").hexdigest(), size_bytes=5)]
)


def make_files(directory: Path) -> None:
    """FILES distinct small files under `directory`, and a Cargo.toml."""
    (directory / "Cargo.toml").write_text('[package]\nname = "f"\nversion = "0.1.0"\n')
    for n in range(FILES):
        folder = directory / "assets" / f"{n // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"a{n:05d}.txt").write_bytes(f"{n:08d}".encode() * (FILE_BYTES // 8))


def indexed(directory: Path) -> list[IndexedFile]:
    files = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            relative = path.relative_to(directory).as_posix()
            digest = hashlib.sha256(data).hexdigest()
            files.append(IndexedFile(relative, str(path), digest, len(data), False))
    return sorted(files, key=lambda f: f.path)


async def first_build_uploads(address: str, directory: Path) -> None:
    """The lookups and uploads of a function's first build (run in a client process)."""
    files = indexed(directory)
    tree = encode_input_tree(TreeFile(f.path, f.sha256, f.size, f.executable) for f in files)
    connection = open_connection(address)
    try:
        result = await upload_inputs(connection.api, [TreeInputs(files, tree)])
        assert len(result.missing) == len(files), "a fresh store lacks every file"
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`embly serve` on a unix socket and a loopback port, with its own store."""

    def __init__(self, work: Path, run: str) -> None:
        self.unix = f"unix:{work / run / 'embly.sock'}"
        self.tcp = f"127.0.0.1:{free_port()}"
        argv = [str(EMBLY), "serve", "--listen", self.unix, "--listen", self.tcp]
        argv += ["--store", str(work / run / "store"), "--jobs", "2"]
        (work / run).mkdir()
        self._process = subprocess.Popen(argv, stderr=subprocess.DEVNULL)

    async def ready(self) -> None:
        for address in (self.unix, self.tcp):
            deadline = time.monotonic() + 30
            while True:
                connection = open_connection(address, connect_timeout=1.0)
                try:
                    await connection.api.find_missing_blobs(PROBE)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
                finally:
                    await connection.close()

    def stop(self) -> None:
        self._process.send_signal(signal.SIGTERM)
        self._process.wait(timeout=30)


async def probe_latencies(address: str, until: asyncio.Future[int] | int) -> list[float]:
    """Seconds of each tiny call: BASELINE_PROBES of them, or until `until` is done."""
    connection = open_connection(address)
    samples: list[float] = []
    try:
        await connection.api.find_missing_blobs(PROBE)  # connected before timing
        while len(samples) < until if isinstance(until, int) else not until.done():
            start = time.perf_counter()
            await connection.api.find_missing_blobs(PROBE)
            samples.append(time.perf_counter() - start)
            await asyncio.sleep(PROBE_INTERVAL)
    finally:
        await connection.close()
    return samples


async def under_load(address: str, files: Path) -> tuple[list[float], float]:
    argv = [sys.executable, __file__, "--load", address, str(files)]
    start = time.perf_counter()
    loader = await asyncio.create_subprocess_exec(*argv)
    done = asyncio.ensure_future(loader.wait())
    samples = await probe_latencies(address, done)
    if await done != 0:
        raise SystemExit(f"the loading client failed (exit {done.result()})")
    return samples, time.perf_counter() - start


def line(label: str, samples: list[float]) -> str:
    worst, median = max(samples), statistics.median(samples)
    return f"{label:<30} worst {worst * 1000:8.1f} ms  median {median * 1000:6.1f} ms"


async def measure(work: Path, files: Path) -> bool:
    met = True
    for kind in ("unix", "tcp"):
        server = Server(work, f"run-{kind}")
        try:
            await server.ready()
            address = server.unix if kind == "unix" else server.tcp
            baseline = await probe_latencies(address, BASELINE_PROBES)
            loaded, load_seconds = await under_load(address, files)
        finally:
            server.stop()
        worst = max(loaded)
        verdict = "PASS" if worst < TARGET_SECONDS else "MISS"
        print(line(f"tiny call over {kind}, no load", baseline), flush=True)
        print(
            f"{line(f'  while a {FILES}-file upload runs', loaded)}  "
            f"ratio {worst / max(baseline):6.1f} of the no-load worst  "
            f"(target worst < {TARGET_SECONDS * 1000:.0f} ms)  {verdict}",
            flush=True,
        )
        print(f"  ({len(loaded)} tiny calls; the upload took {load_seconds:.1f} s)", flush=True)
        met = met and verdict == "PASS"
    return met


def main() -> None:
    if sys.argv[1:2] == ["--load"]:
        asyncio.run(first_build_uploads(sys.argv[2], Path(sys.argv[3])))
        return
    with tempfile.TemporaryDirectory(prefix="embly-bench-") as temp:
        work = Path(temp)
        files = work / "function"
        files.mkdir()
        make_files(files)
        os.environ.pop("EMBLY_REMOTE", None)
        asyncio.run(measure(work, files))


if __name__ == "__main__":
    main()
