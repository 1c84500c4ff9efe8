"""When to report the progress of an index or an upload: only once it has taken a while,
then now and then.

A save's index and upload (a few files) report nothing; a first index or upload of a large
tree reports how far it is every quarter of a second, and its end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from embly_build.client.inputs.walk import IndexCounters
from embly_build.client.session.events import IndexProgress, UploadProgress

T = TypeVar("T")

SHOW_AFTER_SECONDS = 0.5
EVERY_SECONDS = 0.25


class UploadProgressReporter:
    def __init__(
        self,
        emit: Callable[[UploadProgress], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        show_after: float = SHOW_AFTER_SECONDS,
        every: float = EVERY_SECONDS,
    ) -> None:
        self._emit = emit
        self._clock = clock
        self._show_after = show_after
        self._every = every
        self._started: float | None = None
        self._last_shown: float | None = None
        self._ended = False

    def __call__(self, sent_bytes: int, total_bytes: int) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        if sent_bytes >= total_bytes:
            if self._last_shown is not None and not self._ended:  # the end of what was shown
                self._ended = True
                self._emit(UploadProgress(sent_bytes, total_bytes))
            return
        if now - self._started < self._show_after:
            return
        if self._last_shown is not None and now - self._last_shown < self._every:
            return
        self._last_shown = now
        self._emit(UploadProgress(sent_bytes, total_bytes))


IndexProgressReports = Callable[[asyncio.Future[Any], IndexCounters], AsyncIterator[IndexProgress]]


async def index_progress(
    indexing: asyncio.Future[T],
    counters: IndexCounters,
    *,
    show_after: float = SHOW_AFTER_SECONDS,
    every: float = EVERY_SECONDS,
) -> AsyncIterator[IndexProgress]:
    """The progress of `indexing` (which updates `counters` as it goes) until it is done."""
    started = time.monotonic()
    shown = False
    while not indexing.done():
        await asyncio.wait([indexing], timeout=every)
        if not indexing.done() and time.monotonic() - started >= show_after:
            shown = True
            yield IndexProgress(counters.files, counters.read_bytes)
    if shown:
        yield IndexProgress(counters.files, counters.read_bytes, finished=True)
