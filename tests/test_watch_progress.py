"""The watcher's first index of a large tree reports its progress, as `embly build` does."""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path

import pytest

from embly_build import IndexProgress, ServerSettings, connect
from embly_build.client.progress import index_progress
from embly_build.client.watch.events import AnyEvent, Watching
from embly_build.client.watch.watcher import Watcher

pytestmark = pytest.mark.slow


async def test_the_first_index_of_a_large_tree_reports_its_progress(
    project: Path, embly_home: Path
) -> None:
    many = project / "words" / "many"  # shout's `sources`
    many.mkdir()
    for number in range(3000):
        (many / f"word{number}.txt").write_bytes(os.urandom(1024))
    events: list[AnyEvent] = []
    async with connect(settings=ServerSettings(home=embly_home, jobs=2)) as client:
        # Reported from the start, so that the test does not depend on the machine's speed.
        at_once = functools.partial(index_progress, show_after=0.0, every=0.005)
        watcher = Watcher(client, project, ["shout"], events.append, index_progress=at_once)
        watching = asyncio.create_task(watcher.run())
        try:
            async with asyncio.timeout(120):
                while not any(isinstance(e, Watching) for e in events):
                    await asyncio.sleep(0.05)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
    progress = [e for e in events if isinstance(e, IndexProgress)]
    assert progress, "the index reported its progress"
    first_end = next(i for i, e in enumerate(progress) if e.finished)
    first_index = progress[: first_end + 1]  # the re-check when watching starts reports too
    assert first_index[-1].files > 3000
    assert first_index[-1].read_bytes >= 3000 * 1024, "a first index reads every file"
    counts = [e.files for e in first_index]
    assert counts == sorted(counts)
