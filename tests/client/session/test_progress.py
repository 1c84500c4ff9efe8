"""Progress of a long index or upload: reported only once it takes a while; the client's
event loop keeps running while an in-process server takes the chunks."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from embly_build.client.inputs.index import index_function
from embly_build.client.inputs.walk import IndexCounters
from embly_build.client.progress import UploadProgressReporter, index_progress
from embly_build.client.session.events import IndexProgress, UploadProgress
from embly_build.client.session.upload import TreeInputs, upload_inputs
from embly_build.protocol.digests import CHUNK_SIZE
from embly_build.server.factory import create_service
from embly_build.server.settings import ServerSettings

MIB = 2**20


class FakeClock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reported(steps: list[tuple[float, int]], total: int) -> list[UploadProgress]:
    """What a reporter emits for (seconds since the start, bytes sent) calls."""
    clock = FakeClock()
    shown: list[UploadProgress] = []
    reporter = UploadProgressReporter(shown.append, clock=clock, show_after=0.5, every=0.25)
    start = clock.now
    for seconds, sent in steps:
        clock.now = start + seconds
        reporter(sent, total)
    return shown


def test_a_quick_upload_reports_nothing() -> None:
    assert reported([(0, 0), (0.1, 50), (0.2, 100), (0.2, 100)], 100) == []


def test_a_long_upload_reports_now_and_then_and_its_end_once() -> None:
    steps = [(0, 0), (0.3, 10), (0.6, 20), (0.7, 30), (0.9, 40), (1.0, 100), (1.0, 100)]
    assert reported(steps, 100) == [
        UploadProgress(20, 100),  # half a second in
        UploadProgress(40, 100),  # a quarter of a second later; 30 came too soon
        UploadProgress(100, 100),
    ]


def test_the_upload_reports_its_bytes_and_lets_the_event_loop_run(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    crate.mkdir()
    (crate / "Cargo.toml").write_text('[package]\nname = "big"\nversion = "0.1.0"\n')
    (crate / "data.bin").write_bytes(os.urandom(4 * CHUNK_SIZE + 5))
    tree = TreeInputs.of(index_function(crate, [], tmp_path / "embly_build"))
    file_bytes = sum(f.size for f in tree.files)
    total = file_bytes + len(tree.tree.data)  # the tree blob goes last

    async def upload() -> tuple[list[tuple[int, int]], int]:
        service = create_service(ServerSettings(home=tmp_path / "home"))
        calls: list[tuple[int, int]] = []
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(ticking())
        await asyncio.sleep(0)
        at_start = ticks
        try:
            result = await upload_inputs(service, [tree], lambda *call: calls.append(call))
        finally:
            ticker.cancel()
            await service.close()
        assert result.bytes_uploaded == file_bytes
        return calls, ticks - at_start

    calls, ticks_during_upload = asyncio.run(upload())
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    sent = [s for s, _ in calls]
    assert sent == sorted(sent) and len(sent) >= 5, "every chunk is counted"
    assert ticks_during_upload >= 4, "other tasks ran between the chunks"


def test_a_long_index_reports_its_counts_then_its_end() -> None:
    async def watch_an_index() -> list[IndexProgress]:
        counters = IndexCounters()
        indexing: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def index() -> None:  # as the index thread does, in steps
            for step in range(1, 11):
                await asyncio.sleep(0.03)
                counters.files, counters.read_bytes = step * 100, step * 4096
            indexing.set_result(None)

        running = asyncio.create_task(index())
        seen = [e async for e in index_progress(indexing, counters, show_after=0.1, every=0.05)]
        await running
        return seen

    seen = asyncio.run(watch_an_index())
    assert len(seen) >= 3
    assert [e.finished for e in seen] == [False] * (len(seen) - 1) + [True]
    assert seen[-1] == IndexProgress(1000, 40960, finished=True)
    assert seen[0].files >= 200, "nothing before show_after"
    files = [e.files for e in seen]
    assert files == sorted(files)


def test_a_quick_index_reports_nothing() -> None:
    async def quick() -> list[IndexProgress]:
        indexing: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.05, indexing.set_result, None)
        return [e async for e in index_progress(indexing, IndexCounters(), show_after=0.5)]

    assert asyncio.run(quick()) == []


def test_the_index_counts_files_and_the_bytes_it_reads(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "c"\nversion = "0.1.0"\n')
    (crate / "src" / "main.rs").write_bytes(b"x" * 1000)
    counters = IndexCounters()
    index_function(crate, [], tmp_path / "embly_build", counters=counters)
    assert counters.files == 2
    assert counters.read_bytes == 1000 + len((crate / "Cargo.toml").read_bytes())
