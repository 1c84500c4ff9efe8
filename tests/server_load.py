"""Many clients building against one real `embly serve --jobs N`, watched from outside.

Each client is its own copy of the example project, built by its own `embly build` processes
with their own EMBLY_HOME, one after another, an edit of the function's source before each
build (so each is compiled, not taken from the cache). Meanwhile a watcher samples, every
few milliseconds, the `cargo build` processes under the server (the compiles actually
running), the server's own count of running and queued builds (GetServerInfo), and the
server process's resident memory.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from embly_build import connect
from tests.example_project import copy_example
from tests.helpers import EMBLY

FUNCTION = "greeter"
SAMPLE_SECONDS = 0.02
INFO_EVERY = 5  # samples: the server's counts are asked for every 0.1 s


@dataclass
class BuildOutcome:
    client: int
    seconds: float  # the `embly build` process's wall time
    status: str
    cache_hit: bool
    queued_ms: int
    problem: str = ""  # what went wrong, when anything did


@dataclass
class LoadFigures:
    wall_seconds: float = 0.0
    builds: list[BuildOutcome] = field(default_factory=list)
    max_compiles: int = 0  # `cargo build` processes under the server at once
    max_running: int = 0  # the server's own count of running builds
    max_queued: int = 0
    peak_rss_bytes: int = 0
    samples: int = 0

    @property
    def failures(self) -> list[str]:
        return [
            f"client {b.client}: {b.problem or b.status}"
            for b in self.builds
            if b.problem or b.status != "ok" or b.cache_hit
        ]


def run_load(work: Path, *, clients: int, builds: int, jobs: int) -> LoadFigures:
    """`clients` clients each making `builds` edit builds against one `embly serve --jobs
    jobs` on a unix socket under `work`."""
    projects = [_client_project(work / f"client-{n}") for n in range(clients)]
    socket = work / "embly.sock"
    figures = LoadFigures()
    with _server(work, socket, jobs) as server:
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(server.pid, socket, figures, stop))
        watcher.start()
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(clients) as pool:
                runs = [
                    pool.submit(_client, n, project, f"unix:{socket}", builds)
                    for n, project in enumerate(projects)
                ]
                figures.builds = [outcome for run in runs for outcome in run.result()]
            figures.wall_seconds = time.monotonic() - started
        finally:
            stop.set()
            watcher.join()
    return figures


def _client_project(directory: Path) -> Path:
    return copy_example(directory)


class _server:
    """`embly serve` in its own process, listening on `socket` while the block runs."""

    def __init__(self, work: Path, socket: Path, jobs: int) -> None:
        self._argv = [
            str(EMBLY),
            *("serve", "--listen", f"unix:{socket}", "--store", str(work / "server-state")),
            *("--jobs", str(jobs)),
        ]
        self._log = work / "serve.log"
        self._socket = socket

    def __enter__(self) -> subprocess.Popen[bytes]:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self._argv, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while b"listening on" not in self._log.read_bytes():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"embly serve did not start: {self._log.read_text()}")
            time.sleep(0.05)
        return self._process

    def __exit__(self, *_: object) -> None:
        if self._process.poll() is None:
            self._process.terminate()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _client(number: int, project: Path, address: str, builds: int) -> list[BuildOutcome]:
    env = {**os.environ, "EMBLY_HOME": str(project.parent / f"home-{number}")}
    source = project / FUNCTION / "src" / "main.rs"
    outcomes = []
    for build in range(builds):
        with source.open("a") as edited:
            edited.write(f"// edit {number}-{build}\n")
        started = time.monotonic()
        done = subprocess.run(
            [str(EMBLY), "build", FUNCTION, "--json", "--remote", address],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        outcomes.append(_outcome(number, time.monotonic() - started, done))
    return outcomes


def _outcome(client: int, seconds: float, done: subprocess.CompletedProcess[str]) -> BuildOutcome:
    finished = [
        event
        for line in done.stdout.splitlines()
        if (event := json.loads(line)).get("event") == "build_finished"
    ]
    if done.returncode != 0 or len(finished) != 1:
        problem = f"exit {done.returncode}: {done.stderr.strip() or done.stdout.strip()}"
        return BuildOutcome(client, seconds, "failed", False, 0, problem[:2000])
    event = finished[0]
    queued = int(event.get("timings", {}).get("queued_ms", 0))
    return BuildOutcome(client, seconds, event["status"], event["cache_hit"], queued)


def _watch(server: int, socket: Path, figures: LoadFigures, stop: threading.Event) -> None:
    """Sample until `stop`: compiles from /proc, the server's counts over its own socket."""

    async def sample() -> None:
        async with connect(f"unix:{socket}") as client:
            for sample in itertools.count():
                if stop.is_set():
                    return
                if sample % INFO_EVERY == 0:
                    activity = (await client.server_info()).activity
                    figures.max_running = max(figures.max_running, activity.running)
                    figures.max_queued = max(figures.max_queued, activity.queued)
                figures.max_compiles = max(figures.max_compiles, _compiles_under(server))
                figures.peak_rss_bytes = max(figures.peak_rss_bytes, _rss_bytes(server))
                figures.samples += 1
                await asyncio.sleep(SAMPLE_SECONDS)

    asyncio.run(sample())


def _compiles_under(root: int) -> int:
    """`cargo build` processes descending from process `root`."""
    parents: dict[int, int] = {}
    cargo_builds = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        if len(argv) > 1 and argv[0].endswith(b"cargo") and argv[1] == b"build":
            cargo_builds.append(pid)
    # The scan takes milliseconds: a compile that ended early in it and one that began late
    # in it were both seen, though never running together. Counted are those still running
    # once it is done, checked within microseconds of each other.
    running = [pid for pid in cargo_builds if _running(pid)]
    # Cargo starts rustc by fork then exec: until the exec, the child has cargo's command
    # line too. A compile is a `cargo build` whose parent is not one.
    compiles = [pid for pid in running if parents.get(pid) not in cargo_builds]
    return sum(_descends(pid, root, parents) for pid in compiles)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def _descends(pid: int, root: int, parents: dict[int, int]) -> bool:
    while pid > 1:
        pid = parents.get(pid, 0)
        if pid == root:
            return True
    return False


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
