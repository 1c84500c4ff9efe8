"""Task owners: every task embly starts belongs to something that cancels and awaits it.

asyncio.TaskGroup owns tasks within one `async with`; these cover the shapes it does not: a
producer whose events a caller reads as they come (`events_of`), tasks that live as long as
an object rather than a block (`TaskOwner`), and cleanup that must run to its end even when
its caller is cancelled meanwhile (`shielded`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
Emit = Callable[[T], None]


async def events_of(start: Callable[[Emit[T]], Awaitable[None]]) -> AsyncGenerator[T, None]:
    """Run `start(emit)` as a task and yield what it emits as it comes, then raise its
    error if it failed. Left early (the reader stops or is cancelled), the task is cancelled
    and awaited, so nothing of it goes on."""
    queue: asyncio.Queue[tuple[T] | None] = asyncio.Queue()

    async def produce() -> None:
        try:
            await start(lambda item: queue.put_nowait((item,)))
        finally:
            queue.put_nowait(None)

    task = asyncio.ensure_future(produce())
    try:
        while (item := await queue.get()) is not None:
            yield item[0]
        await task
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def all_or_none(jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run `jobs` together; when one fails, cancel the others, wait until they have
    cleaned up, then raise the first failure as it was (not wrapped in a group)."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except BaseExceptionGroup as failed:
        raise _first_leaf(failed) from None


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


class TaskOwner:
    """Tasks that live as long as their owner object: `start` keeps a reference until the
    task ends (its failure is retrieved, so never reported as unhandled), `close` cancels
    those still running and waits for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def shielded(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` as a task and wait for its end even when the caller is cancelled meanwhile
    (as anyio's shielded cancel scope): cleanup that must not stop halfway, such as killing
    a process group. A cancellation that came meanwhile is raised once `work` is done."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():  # the work itself was cancelled (its event loop is ending)
                raise
            cancelled = True
        else:
            break
    if cancelled:
        raise asyncio.CancelledError
    return result
