"""Build slots: at most --jobs at once; a waiting build goes before a waiting optimisation."""

from __future__ import annotations

import asyncio

from embly_build.server.build.slots import Priority, Slots


async def test_no_more_than_the_slots_run_at_once() -> None:
    slots = Slots(2)
    running, most = 0, 0

    async def step() -> None:
        nonlocal running, most
        async with slots.take(Priority.BUILD):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(step() for _ in range(5)))
    assert most == 2


async def test_a_waiting_build_goes_before_an_earlier_waiting_optimisation() -> None:
    slots = Slots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with slots.take(Priority.BUILD):
            await release.wait()

    async def step(name: str, priority: Priority) -> None:
        async with slots.take(priority):
            order.append(name)

    tasks = [asyncio.create_task(holder())]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(step("optimise", Priority.OPTIMISE)))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(step("build", Priority.BUILD)))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["build", "optimise"]


async def test_requeue_lets_a_waiting_build_run_first_then_resumes() -> None:
    slots = Slots(1)
    order: list[str] = []

    async def quick_first_build() -> None:
        async with slots.take(Priority.BUILD) as slot:
            order.append("first: compile")
            await asyncio.sleep(0.01)  # meanwhile the other build queues
            await slot.requeue(Priority.OPTIMISE)
            order.append("first: optimise")

    async def other_build() -> None:
        await asyncio.sleep(0.005)
        async with slots.take(Priority.BUILD):
            order.append("second: compile")

    await asyncio.gather(quick_first_build(), other_build())
    assert order == ["first: compile", "second: compile", "first: optimise"]


async def test_a_cancelled_waiter_takes_no_slot() -> None:
    slots = Slots(1)
    async with slots.take(Priority.BUILD):
        waiter = asyncio.create_task(slots.acquire(Priority.BUILD))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    async with asyncio.timeout(1):  # the slot is free again, not lost to the cancelled one
        async with slots.take(Priority.BUILD):
            pass


async def test_a_waiter_cancelled_as_the_slot_reaches_it_passes_it_on() -> None:
    slots = Slots(1)
    await slots.acquire(Priority.BUILD)
    waiter = asyncio.create_task(slots.acquire(Priority.BUILD))
    await asyncio.sleep(0)
    slots.release()  # handed to the waiter...
    waiter.cancel()  # ...which is cancelled before it runs again
    await asyncio.gather(waiter, return_exceptions=True)
    async with asyncio.timeout(1):
        async with slots.take(Priority.BUILD):
            pass
