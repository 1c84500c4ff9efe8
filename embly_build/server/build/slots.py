"""Build slots (`--jobs`): at most that many builds run steps at once.

A freed slot goes to the waiting build with the most urgent priority, then to the one
that waited longest. A quick-first build gives its slot back once its quick result is
out and waits again as OPTIMISE for its wasm-opt step, so the other functions of a round
get their first artifacts before any of them is optimised.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from enum import IntEnum


class Priority(IntEnum):
    BUILD = 0
    OPTIMISE = 1  # the wasm-opt step after a quick result: the build's output is out


class Slot:
    """A slot while its build holds it."""

    def __init__(self, slots: Slots) -> None:
        self._slots = slots
        self.held = True

    async def requeue(self, priority: Priority) -> None:
        """Give the slot to a waiting build, if any, and wait for one again at `priority`."""
        self.held = False
        self._slots.release()
        await self._slots.acquire(priority)
        self.held = True


class Slots:
    def __init__(self, count: int) -> None:
        self._free = count
        self._waiting: list[tuple[Priority, int, asyncio.Future[None]]] = []  # a heap
        self._arrivals = itertools.count()

    @contextlib.asynccontextmanager
    async def take(self, priority: Priority) -> AsyncIterator[Slot]:
        await self.acquire(priority)
        slot = Slot(self)
        try:
            yield slot
        finally:
            if slot.held:
                self.release()

    async def acquire(self, priority: Priority) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._arrivals), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # handed over just as the waiter was cancelled: pass it on
            raise

    def release(self) -> None:
        """Hand the slot to the first waiter still waiting, or free it."""
        while self._waiting:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():  # a cancelled waiter's future is done
                granted.set_result(None)
                return
        self._free += 1
