"""Scheduling policies: identical actions run once; a newer build supersedes an older one."""

from __future__ import annotations

import asyncio

import pytest

from embly_build.server.build.scheduler import SharedActions, Supersession


async def test_identical_actions_run_once_and_share_the_result() -> None:
    shared: SharedActions[str] = SharedActions()
    runs = 0
    release = asyncio.Event()
    joins: list[str] = []

    async def action() -> str:
        nonlocal runs
        runs += 1
        await release.wait()
        return "artifact"

    first = asyncio.create_task(shared.run_once("key", action, lambda: joins.append("1")))
    await asyncio.sleep(0)
    second = asyncio.create_task(shared.run_once("key", action, lambda: joins.append("2")))
    await asyncio.sleep(0)
    release.set()
    assert await first == ("artifact", False)
    assert await second == ("artifact", True)
    assert runs == 1 and joins == ["2"]


async def test_a_joiner_takes_over_when_the_owner_is_cancelled() -> None:
    shared: SharedActions[str] = SharedActions()
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    async def quick() -> str:
        return "rebuilt"

    owner = asyncio.create_task(shared.run_once("key", slow, lambda: None))
    await started.wait()
    joiner = asyncio.create_task(shared.run_once("key", quick, lambda: None))
    await asyncio.sleep(0)
    owner.cancel()
    assert await joiner == ("rebuilt", False)
    with pytest.raises(asyncio.CancelledError):
        await owner


async def test_failures_reach_every_requester() -> None:
    shared: SharedActions[str] = SharedActions()
    gate = asyncio.Event()

    async def failing() -> str:
        await gate.wait()
        raise RuntimeError("compile error")

    first = asyncio.create_task(shared.run_once("key", failing, lambda: None))
    await asyncio.sleep(0)
    second = asyncio.create_task(shared.run_once("key", failing, lambda: None))
    await asyncio.sleep(0)
    gate.set()
    for task in (first, second):
        with pytest.raises(RuntimeError, match="compile error"):
            await task


async def test_newer_claim_with_another_key_cancels_the_older() -> None:
    supersession = Supersession()
    claims = {}

    async def build(key: str) -> None:
        claims[key] = supersession.claim(("", "project", "greeter"), key)
        await asyncio.sleep(60)

    older = asyncio.create_task(build("old"))
    await asyncio.sleep(0)
    newer = asyncio.create_task(build("new"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert older.cancelled() and claims["old"].superseded
    assert not newer.done()
    newer.cancel()


async def test_same_key_or_other_function_is_not_superseded() -> None:
    supersession = Supersession()

    async def build(function: str, key: str) -> None:
        supersession.claim(("", "project", function), key)
        await asyncio.sleep(60)

    tasks = [
        asyncio.create_task(build("greeter", "k1")),
        asyncio.create_task(build("greeter", "k1")),
        asyncio.create_task(build("counter", "k2")),
    ]
    await asyncio.sleep(0.01)
    assert not any(task.done() for task in tasks)
    for task in tasks:
        task.cancel()
