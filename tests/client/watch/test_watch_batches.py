"""Batches of changed paths as `embly watch` receives them: from inotify read on the event
loop, and from watchfiles when polling."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from embly_build.client.watch import inotify
from embly_build.client.watch.batches import MAX_BATCH_S, EventsLost, watch_batches

SETTLE_MS = 10
needs_inotify = pytest.mark.skipif(not inotify.available(), reason="inotify is Linux's")
BACKENDS = [
    pytest.param(False, id="inotify", marks=needs_inotify),
    pytest.param(True, id="polling"),
]


def _rust_source(path: Path) -> bool:
    return path.suffix == ".rs"


@contextlib.asynccontextmanager
async def batches_of(directory: Path, poll: bool) -> AsyncGenerator[AsyncGenerator[set[Path]]]:
    batches = watch_batches([directory], _rust_source, settle_ms=SETTLE_MS, poll=poll)
    async with contextlib.aclosing(batches):
        yield batches


async def next_batch(batches: AsyncGenerator[set[Path]], timeout: float = 5) -> set[Path]:
    return await asyncio.wait_for(anext(batches), timeout)


@pytest.mark.parametrize("poll", BACKENDS)
async def test_first_batch_is_empty_then_each_save_is_a_batch(tmp_path: Path, poll: bool) -> None:
    async with batches_of(tmp_path, poll) as batches:
        assert await next_batch(batches) == set(), "ready: the watches are in place"
        (tmp_path / "lib.rs").write_text("fn a() {}")
        assert await next_batch(batches) == {tmp_path / "lib.rs"}
        (tmp_path / "main.rs").write_text("fn main() {}")
        assert await next_batch(batches) == {tmp_path / "main.rs"}


@pytest.mark.parametrize("poll", BACKENDS)
async def test_a_burst_is_one_batch_and_irrelevant_paths_are_left_out(
    tmp_path: Path, poll: bool
) -> None:
    async with batches_of(tmp_path, poll) as batches:
        await next_batch(batches)
        for name in ("a.rs", "notes.txt", "b.rs", "c.rs"):
            (tmp_path / name).write_text("x")
        (tmp_path / "b.rs").rename(tmp_path / "d.rs")
        batch = await next_batch(batches)
        # (Polling may not see b.rs, created and renamed between two looks.)
        assert {tmp_path / n for n in ("a.rs", "c.rs", "d.rs")} <= batch
        assert batch <= {tmp_path / n for n in ("a.rs", "b.rs", "c.rs", "d.rs")}


@needs_inotify
async def test_irrelevant_events_alone_end_no_batch(tmp_path: Path) -> None:
    async with batches_of(tmp_path, poll=False) as batches:
        await next_batch(batches)
        (tmp_path / "notes.txt").write_text("x")
        with pytest.raises(TimeoutError):
            await next_batch(batches, timeout=0.3)


@needs_inotify
async def test_a_file_written_without_pause_still_gives_batches(tmp_path: Path) -> None:
    """A writer that never stops for SETTLE_MS (a log in an input directory, say) does not
    hold a change back for longer than MAX_BATCH_S."""
    source = tmp_path / "generated.rs"

    async def keep_writing() -> None:
        with source.open("w") as output:
            while True:
                output.write("// more\n")
                output.flush()
                await asyncio.sleep(SETTLE_MS / 1000 / 4)

    async with batches_of(tmp_path, poll=False) as batches:
        await next_batch(batches)
        writer = asyncio.create_task(keep_writing())
        try:
            assert await next_batch(batches, timeout=MAX_BATCH_S + 2) == {source}
            assert not writer.done(), "the batch came while the file was still being written"
        finally:
            writer.cancel()


@needs_inotify
@pytest.mark.parametrize("how", ["deleted and made again", "moved away"])
async def test_a_watched_directory_made_anew_ends_the_batches_after_its_own(
    tmp_path: Path, how: str
) -> None:
    """A watch follows a directory's inode: once it is deleted or moved, what is at its path
    is not watched, so the batch that saw it go is the last, and the caller watches again."""
    watched = tmp_path / "src"
    watched.mkdir()
    async with batches_of(watched, poll=False) as batches:
        await next_batch(batches)
        if how == "moved away":
            watched.rename(tmp_path / "elsewhere")
        else:
            watched.rmdir()
        watched.mkdir()
        await next_batch(batches)
        with pytest.raises(EventsLost, match="deleted or moved"):
            await next_batch(batches)


@needs_inotify
async def test_a_file_deleted_in_a_watched_directory_does_not_end_the_batches(
    tmp_path: Path,
) -> None:
    (tmp_path / "old.rs").write_text("x")
    async with batches_of(tmp_path, poll=False) as batches:
        await next_batch(batches)
        (tmp_path / "old.rs").unlink()
        assert await next_batch(batches) == {tmp_path / "old.rs"}
        (tmp_path / "new.rs").write_text("y")
        assert await next_batch(batches) == {tmp_path / "new.rs"}


@needs_inotify
def test_the_inotify_descriptor_is_closed_with_the_batches(tmp_path: Path) -> None:
    def open_inotify_descriptors() -> int:
        return sum(
            1 for fd in Path("/proc/self/fd").iterdir() if _readlink(fd) == "anon_inode:inotify"
        )

    async def watch_once() -> None:
        async with batches_of(tmp_path, poll=False) as batches:
            await next_batch(batches)
            assert open_inotify_descriptors() == before + 1

    before = open_inotify_descriptors()
    asyncio.run(watch_once())
    assert open_inotify_descriptors() == before


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""
