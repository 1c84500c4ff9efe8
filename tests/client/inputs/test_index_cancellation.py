"""An index stops within a moment of being cancelled: between directories, files and the
chunks of a large file, and the thread it runs in ends before its caller goes on."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from embly_build.client.inputs import walk
from embly_build.client.inputs.cancellation import Cancellation, IndexCancelled
from embly_build.client.inputs.index import index_function
from embly_build.client.inputs.index_thread import index_in_thread, run_index
from embly_build.client.inputs.stat_cache import StatCache
from embly_build.client.watch.listable_directories import listable_directories
from tests.client.files import crate, sparse_file, write

HOUR_NS = 3600 * 10**9


def many_files(directory: Path, count: int) -> Path:
    """A crate with `count` small files, in directories of 50, aged (not racy)."""
    crate(directory)
    for number in range(count):
        write(directory / "data" / f"d{number // 50}" / f"f{number}.txt", f"file {number}\n")
    then = time.time_ns() - HOUR_NS
    for path in directory.rglob("*"):
        os.utime(path, ns=(then, then))
    return directory


class ReadsThenCancel:
    """Reads through the indexer's hashing seam; the cancellation is requested during read
    number `cancel_at` (if given), as Ctrl-C comes while the index works."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cancel_at: int | None = None) -> None:
        self.cancellation = Cancellation()
        self.reads: list[str] = []
        real = walk.hash_file

        def reading(
            path: str | os.PathLike[str], cancellation: Cancellation | None = None
        ) -> tuple[str, int]:
            self.reads.append(os.fspath(path))
            if len(self.reads) == cancel_at:
                self.cancellation.cancel()
            return real(path)

        monkeypatch.setattr(walk, "hash_file", reading)


def test_a_cancelled_index_reads_no_further_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hello = many_files(tmp_path / "hello", 500)
    reading = ReadsThenCancel(monkeypatch, cancel_at=10)

    with pytest.raises(IndexCancelled):
        index_function(hello, [], tmp_path / "out", cancellation=reading.cancellation)

    assert len(reading.reads) == 10


def test_what_a_cancelled_index_hashed_is_not_hashed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hello = many_files(tmp_path / "hello", 200)
    reading = ReadsThenCancel(monkeypatch, cancel_at=120)
    with StatCache(tmp_path / "stat-cache.sqlite3") as cache, pytest.raises(IndexCancelled):
        index_function(
            hello, [], tmp_path / "out", stat_cache=cache, cancellation=reading.cancellation
        )
    cancelled = set(reading.reads)

    again = ReadsThenCancel(monkeypatch)
    with StatCache(tmp_path / "stat-cache.sqlite3") as cache:
        inputs = index_function(hello, [], tmp_path / "out", stat_cache=cache)

    assert len(inputs.files) == 202
    assert cancelled.isdisjoint(again.reads), "the cache kept what was read before the stop"
    assert len(again.reads) == 202 - 120


def test_a_large_file_stops_being_hashed_within_a_chunk(tmp_path: Path) -> None:
    large = sparse_file(tmp_path / "large.bin", 64 * 2**30)  # read in full: many seconds
    cancellation = Cancellation()
    threading.Timer(0.2, cancellation.cancel).start()

    started = time.monotonic()
    with pytest.raises(IndexCancelled):
        walk.hash_file(large, cancellation)

    assert time.monotonic() - started < 1.0


def test_a_listing_of_directories_to_watch_stops_too(tmp_path: Path) -> None:
    hello = many_files(tmp_path / "hello", 100)
    cancellation = Cancellation()
    cancellation.cancel()

    with pytest.raises(IndexCancelled):
        listable_directories([hello], tmp_path / "out", cancellation)


async def test_cancelling_the_caller_stops_the_index_thread_before_it_goes_on() -> None:
    running = threading.Event()
    ended = threading.Event()

    def endless(cancellation: Cancellation) -> None:
        running.set()
        try:
            while True:
                cancellation.check()
                time.sleep(0.001)
        finally:
            ended.set()

    waiting = asyncio.ensure_future(run_index(endless))
    await asyncio.to_thread(running.wait, 5)
    started = time.monotonic()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    assert ended.is_set(), "the thread had ended when the caller's cancellation went on"
    assert time.monotonic() - started < 0.5


async def test_a_finished_index_is_read_as_it_is() -> None:
    async with index_in_thread(lambda cancellation: 42) as indexing:
        await asyncio.wait([indexing])
    assert indexing.result() == 42

    def broken(cancellation: Cancellation) -> None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await run_index(broken)
