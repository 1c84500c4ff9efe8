"""(6) A tiny call's latency on a shared server while another client starts a large build.

A real `embly serve` (its own process, a fresh store and EMBLY_HOME each run, host
toolchains) listens on a unix socket and on TCP loopback. A second process runs the real
`embly build --remote ADDR --json` of a fresh client (its own EMBLY_HOME) on a project whose
one function is a Rust crate with 40,000 small asset files among its inputs: its first
build, so it indexes, looks up and uploads every file, then the server syncs them into its
build space, runs cargo, post-processes and AOT-compiles. Meanwhile this process makes a
tiny call (a FindMissingBlobs of one digest) every few milliseconds over the same kind of
socket, and times each. The same tiny calls against the same server with no load are the
baseline, measured in the same run. Each slow tiny call is put beside the build step it
overlapped (the client's --json events as they arrived, and the server's step timings).
Target: the worst tiny call under load stays under 250 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import EMBLY

from embly_build.protocol import pb
from embly_build.transport.connection import open_connection

FUNCTION = "greeter"
ASSETS = 40_000
FILE_BYTES = 600  # a function's assets: many small files
TARGET_SECONDS = 0.250
SLOW_SECONDS = 0.050  # a tiny call at least this slow is named with the step it overlapped
PROBE_INTERVAL = 0.005
BASELINE_PROBES = 200
BUILD_TIMEOUT = 900
PROBE = pb.FindMissingBlobsRequest(
    digests=[pb.Digest(sha256=hashlib.sha256(b"probe").hexdigest(), size_bytes=5)]
)
# The server's step timings (build_finished's `timings`), in the order the steps run.
SERVER_STEPS = (
    ("toolchain_ms", "server: toolchain"),
    ("queued_ms", "server: action key, tree read, slot"),
    ("sync_ms", "server: sync into the build space"),
    ("compile_ms", "server: cargo"),
    ("postprocess_ms", "server: post-processing"),
    ("aot_ms", "server: AOT"),
)


def make_project(directory: Path) -> None:
    """An embly project: one Rust function with ASSETS distinct small files in its directory."""
    crate = directory / FUNCTION
    (crate / "src").mkdir(parents=True)
    (directory / "embly.hcl").write_text(
        f'function "{FUNCTION}" {{\n  runtime = "rust"\n  path    = "./{FUNCTION}"\n}}\n'
    )
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "greeter-fn"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (crate / "src" / "main.rs").write_text('fn main() {\n    println!("hello");\n}\n')
    for n in range(ASSETS):
        folder = crate / "assets" / f"{n // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"a{n:05d}.txt").write_bytes(f"{n:08d}".encode() * (FILE_BYTES // 8))


def own_state(home: Path) -> dict[str, str]:
    """The environment of an embly process with its own state and config, host toolchains."""
    home.mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if key != "EMBLY_REMOTE"}
    env.update(
        EMBLY_HOME=str(home), EMBLY_CONFIG=str(home / "config.toml"), EMBLY_TOOLCHAINS="host"
    )
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group led by `process`, SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Server:
    """`embly serve` on a unix socket and a loopback port, with its own store and state."""

    def __init__(self, run: Path) -> None:
        self.unix = f"unix:{run / 'embly.sock'}"
        self.tcp = f"127.0.0.1:{free_port()}"
        self.log = run / "serve.log"
        argv = [str(EMBLY), "serve", "--listen", self.unix, "--listen", self.tcp]
        argv += ["--store", str(run / "store"), "--jobs", "2"]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                argv,
                env=own_state(run / "server-home"),
                stdin=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )

    async def ready(self) -> None:
        deadline = time.monotonic() + 60
        for address in (self.unix, self.tcp):
            while True:
                if self._process.poll() is not None:
                    raise SystemExit(f"embly serve exited: {self.log.read_text()}")
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
        stop_group(self._process)


@dataclass(frozen=True)
class Probe:
    start: float  # perf_counter when the call was made
    seconds: float


@dataclass
class BuildRun:
    """The `embly build --json` process: its events, each with the time it arrived."""

    start: float = 0.0
    seconds: float = 0.0
    exit_code: int | None = None
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    stderr: bytes = b""

    def finished(self) -> dict[str, Any] | None:
        done = [event for _, event in self.events if event.get("event") == "build_finished"]
        return done[0] if len(done) == 1 else None

    def failure(self) -> str | None:
        """Why the build did not succeed, or None when it did."""
        finished = self.finished()
        if self.exit_code == 0 and finished is not None and finished["status"] == "ok":
            return None
        detail = finished.get("error") if finished else self.stderr.decode(errors="replace")
        return f"the {ASSETS}-file build failed (exit {self.exit_code}): {detail}"

    def uploaded_bytes(self) -> int:
        finished = self.finished()
        return int(finished["uploaded_bytes"]) if finished else 0

    def steps(self) -> list[tuple[float, float, str]]:
        """(start, end, name) of each step, on the perf_counter clock."""

        def first(name: str, **match: object) -> float | None:
            for at, event in self.events:
                if event.get("event") == name and all(event.get(k) == v for k, v in match.items()):
                    return at
            return None

        end = self.start + self.seconds
        finished_at = first("build_finished")
        indexed = first("index_progress", finished=True) or self.start
        uploading = first("upload_progress") or indexed
        requested = first("build_started") or uploading
        marks = [
            (self.start, "client: index"),
            (indexed, "client: lookups, first uploads"),
            (uploading, "client: uploads"),
            (requested, "Build call, before the server's clock"),
        ]
        finished = self.finished()
        if finished is not None and finished_at is not None:
            timings = finished["timings"]
            at = finished_at - timings["total_ms"] / 1000
            for key, name in SERVER_STEPS:
                marks.append((at, name))
                at += timings.get(key, 0) / 1000
            marks.append((at, "server: storing the result; client: downloads"))
        bounds = [mark for mark, _ in marks[1:]] + [end]
        return [
            (start, max(start, stop), name)
            for (start, name), stop in zip(marks, bounds, strict=True)
        ]


async def probe_latencies(address: str, until: asyncio.Future[None] | int) -> list[Probe]:
    """Each tiny call: BASELINE_PROBES of them, or until `until` is done."""
    connection = open_connection(address)
    samples: list[Probe] = []
    try:
        await connection.api.find_missing_blobs(PROBE)  # connected before timing
        while len(samples) < until if isinstance(until, int) else not until.done():
            start = time.perf_counter()
            await connection.api.find_missing_blobs(PROBE)
            samples.append(Probe(start, time.perf_counter() - start))
            await asyncio.sleep(PROBE_INTERVAL)
    finally:
        await connection.close()
    return samples


async def run_build(address: str, project: Path, env: dict[str, str], run: BuildRun) -> None:
    """`embly build --remote address --json` in its own process group, its events stamped."""
    argv = [str(EMBLY), "build", FUNCTION, "--json", "--remote", address]
    run.start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(BUILD_TIMEOUT):
            errors = asyncio.ensure_future(process.stderr.read())
            async for line in process.stdout:
                run.events.append((time.perf_counter(), json.loads(line)))
            run.stderr = await errors
            run.exit_code = await process.wait()
    finally:
        run.seconds = time.perf_counter() - run.start
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def under_load(address: str, project: Path, home: Path) -> tuple[list[Probe], BuildRun]:
    run = BuildRun()
    build = asyncio.ensure_future(run_build(address, project, own_state(home), run))
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    build.add_done_callback(lambda _: done.set_result(None))
    samples = await probe_latencies(address, done)
    await build
    return samples, run


def line(label: str, samples: list[Probe]) -> str:
    seconds = [sample.seconds for sample in samples]
    worst, median = max(seconds), statistics.median(seconds)
    return f"{label:<34} worst {worst * 1000:8.1f} ms  median {median * 1000:6.1f} ms"


def slow_by_step(samples: list[Probe], run: BuildRun) -> Iterator[str]:
    """For each build step that slow tiny calls overlapped: how many, the worst, when."""
    steps = run.steps()
    by_step: dict[str, list[Probe]] = {}
    for sample in samples:
        if sample.seconds < SLOW_SECONDS:
            continue
        end = sample.start + sample.seconds
        overlap = [(min(end, stop) - max(sample.start, start), name) for start, stop, name in steps]
        by_step.setdefault(max(overlap)[1], []).append(sample)
    for start, stop, name in steps:
        slow = by_step.get(name)
        figure = f"{name:<46} {start - run.start:6.2f}-{stop - run.start:6.2f} s"
        if slow is None:
            yield figure
            continue
        worst = max(slow, key=lambda sample: sample.seconds)
        yield (
            f"{figure}  {len(slow):3} tiny calls >= {SLOW_SECONDS * 1000:.0f} ms, worst "
            f"{worst.seconds * 1000:7.1f} ms (made at {worst.start - run.start:6.2f} s)"
        )


async def measure(work: Path, project: Path) -> bool:
    met = True
    for kind in ("unix", "tcp"):
        run_dir = work / f"run-{kind}"
        run_dir.mkdir()
        shutil.rmtree(project / "embly_build", ignore_errors=True)
        server = Server(run_dir)
        try:
            await server.ready()
            address = server.unix if kind == "unix" else server.tcp
            baseline = await probe_latencies(address, BASELINE_PROBES)
            loaded, build = await under_load(address, project, run_dir / "client-home")
        finally:
            server.stop()
        if (failure := build.failure()) is not None:
            raise SystemExit(f"{failure}\nserver log:\n{server.log.read_text()}")
        if build.uploaded_bytes() < ASSETS * FILE_BYTES:
            raise SystemExit(f"the build uploaded {build.uploaded_bytes()} bytes: not the assets")
        worst = max(sample.seconds for sample in loaded)
        verdict = "PASS" if worst < TARGET_SECONDS else "MISS"
        print(line(f"tiny call over {kind}, no load", baseline), flush=True)
        print(
            f"{line(f'  while a {ASSETS}-file build runs', loaded)}  "
            f"ratio {worst / max(sample.seconds for sample in baseline):6.1f} of the no-load "
            f"worst  (target worst < {TARGET_SECONDS * 1000:.0f} ms)  {verdict}",
            flush=True,
        )
        print(
            f"  ({len(loaded)} tiny calls; the build succeeded in {build.seconds:.1f} s, "
            f"{build.uploaded_bytes() / 2**20:.1f} MiB of inputs uploaded)",
            flush=True,
        )
        for figure in slow_by_step(loaded, build):
            print(f"    {figure}", flush=True)
        met = met and verdict == "PASS"
    return met


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="embly-bench-") as temp:
        work = Path(temp)
        project = work / "project"
        make_project(project)
        asyncio.run(measure(work, project))


if __name__ == "__main__":
    main()
