"""One provisioning per runtime per process, whichever provider does it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from embly_build.server.toolchains.base import Toolchain


class ProvisionCache:
    """One provisioning per runtime per process: concurrent callers share the first result."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._done: dict[str, Toolchain] = {}

    async def get(self, runtime: str, make: Callable[[], Awaitable[Toolchain]]) -> Toolchain:
        async with self._locks.setdefault(runtime, asyncio.Lock()):
            toolchain = self._done.get(runtime)
            if toolchain is None:
                toolchain = await make()
                self._done[runtime] = toolchain
            return toolchain
