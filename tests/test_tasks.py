from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from embly_build.tasks import TaskOwner, all_or_none, events_of, shielded


async def test_events_come_as_emitted_and_the_failure_after_them() -> None:
    async def produce(emit: Callable[[int], None]) -> None:
        emit(1)
        await asyncio.sleep(0)
        emit(2)
        raise ValueError("broken after two")

    seen = []
    with pytest.raises(ValueError, match="broken after two"):
        async for item in events_of(produce):
            seen.append(item)
    assert seen == [1, 2]


async def test_a_reader_that_stops_early_cancels_the_producer() -> None:
    cleaned_up = asyncio.Event()

    async def produce(emit: Callable[[str], None]) -> None:
        emit("first")
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned_up.set()

    events = events_of(produce)
    assert await anext(events) == "first"
    await events.aclose()
    assert cleaned_up.is_set(), "the producer ran its cleanup before aclose returned"


async def test_all_or_none_cancels_the_rest_and_raises_the_failure_itself() -> None:
    cancelled = []

    async def slow(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def failing() -> None:
        await asyncio.sleep(0)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        await all_or_none([slow("a"), failing(), slow("b")])
    assert sorted(cancelled) == ["a", "b"]


async def test_task_owner_close_cancels_and_waits() -> None:
    owner = TaskOwner()
    finished = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            finished.append("forever")

    async def failing() -> None:
        raise RuntimeError("nobody waits for me")

    owner.start(forever())
    owner.start(failing())
    await asyncio.sleep(0.01)
    await owner.close()
    assert finished == ["forever"]


async def test_shielded_work_ends_before_the_callers_cancellation_is_raised() -> None:
    finished = asyncio.Event()

    async def cleanup() -> str:
        await asyncio.sleep(0.05)
        finished.set()
        return "done"

    caller = asyncio.ensure_future(shielded(cleanup()))
    await asyncio.sleep(0)
    for _ in range(2):  # cancelled again while it cleans up: still to the end
        caller.cancel()
        await asyncio.sleep(0.01)
    assert not caller.done()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert finished.is_set()
    assert await shielded(cleanup()) == "done"
