"""An index run off the event loop, in a thread that stops when its caller is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from embly_build.client.inputs.cancellation import Cancellation
from embly_build.tasks import shielded

T = TypeVar("T")


@contextlib.asynccontextmanager
async def index_in_thread(index: Callable[[Cancellation], T]) -> AsyncIterator[asyncio.Future[T]]:
    """Start `index(cancellation)` in a worker thread, and give the future of its result:
    wait for it with `asyncio.wait` (awaiting it would cancel the future, not the thread).

    The block owns the thread: left before the index is done (cancelled, an error, its
    reader gone), it requests the cancellation and waits the moment until the thread has
    stopped, so that no index goes on after the code that wanted it, and no process waits
    for one at its exit."""
    cancellation = Cancellation()
    context = contextvars.copy_context()  # as asyncio.to_thread does
    loop = asyncio.get_running_loop()
    indexing = loop.run_in_executor(None, context.run, index, cancellation)
    try:
        yield indexing
    finally:
        if not indexing.done():
            cancellation.cancel()
            await shielded(asyncio.wait([indexing]))
        if not indexing.cancelled():
            indexing.exception()  # retrieved: an error no one reads (IndexCancelled) is no news


async def run_index(index: Callable[[Cancellation], T]) -> T:
    """`index(cancellation)` in a worker thread that is told to stop, and waited for, when
    the caller is cancelled (see `index_in_thread`)."""
    async with index_in_thread(index) as indexing:
        await asyncio.wait([indexing])
    return indexing.result()
