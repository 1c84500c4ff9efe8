"""Scheduling policies between concurrent builds in one server.

- `SharedActions`: identical in-flight actions (same action key) run once; every later
  requester awaits the first one's result.
- `Supersession`: a newer request for the same (project, function) with another action key
  cancels the older one; its processes are killed and nothing is written for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedActions(Generic[T]):
    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[T]] = {}

    async def run_once(
        self, key: str, action: Callable[[], Awaitable[T]], on_join: Callable[[], None]
    ) -> tuple[T, bool]:
        """Run `action` unless one with `key` is running; return (result, joined another)."""
        while (running := self._running.get(key)) is not None:
            on_join()
            try:
                return await asyncio.shield(running), True
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not running.cancelled() or (current is not None and current.cancelling()):
                    raise
                # The owner was cancelled, not us: run it ourselves.
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._running[key] = future
        try:
            result = await action()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            del self._running[key]
        future.set_result(result)
        return result, False


def _retrieve(future: asyncio.Future[T]) -> None:
    """Mark an exception as seen: nobody may be waiting for a failed action's result."""
    if not future.cancelled():
        future.exception()


@dataclass(eq=False)
class Claim:
    key: str
    task: asyncio.Task[object] | None
    superseded: bool = field(default=False)


# (caller, project id, function): a newer build replaces an older one of the same slot only.
SupersessionSlot = tuple[str, str, str]


class Supersession:
    def __init__(self) -> None:
        self._current: dict[SupersessionSlot, Claim] = {}

    def claim(self, slot: SupersessionSlot, key: str) -> Claim:
        previous = self._current.get(slot)
        older = previous.task if previous is not None and previous.key != key else None
        if previous is not None and older is not None and not older.done():
            previous.superseded = True
            older.cancel()
        claim = Claim(key, asyncio.current_task())
        self._current[slot] = claim
        return claim

    def release(self, slot: SupersessionSlot, claim: Claim) -> None:
        if self._current.get(slot) is claim:
            del self._current[slot]
