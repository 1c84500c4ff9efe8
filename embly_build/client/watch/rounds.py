"""A watch's rounds: each begins with the functions a change calls for and ends, reported
with their results, once every one of them has its first result."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from embly_build.client.session.events import BuildFinished
from embly_build.client.watch.events import AnyEvent, RoundFinished, RoundStarted


class Rounds:
    def __init__(self, emit: Callable[[AnyEvent], None]) -> None:
        self._emit = emit
        self._awaiting: set[str] = set()  # functions of this round with no result yet
        self._results: list[BuildFinished] = []
        self._started = 0.0

    def begin(self, triggers: tuple[str, ...], names: Iterable[str]) -> None:
        """Start a round (or, while one still waits for results, add to it)."""
        names = tuple(names)
        if not self._awaiting:
            self._results = []
            self._started = time.monotonic()
        self._awaiting.update(names)
        self._emit(RoundStarted(triggers, names))

    def record(self, event: AnyEvent) -> None:
        """Report `event`; a function's first result in a round counts for the round (a
        quick one, whose optimised result comes later, or the only one)."""
        self._emit(event)
        if isinstance(event, BuildFinished) and event.function in self._awaiting:
            self._awaiting.discard(event.function)
            self._results.append(event)
            self.end_if_idle()

    def drop(self, name: str) -> None:
        """`name` will bring no result to this round: its build ended without one, or it is
        no longer watched."""
        self._awaiting.discard(name)

    def end_if_idle(self) -> None:
        if self._awaiting or not self._results:
            return
        results, self._results = self._results, []
        self._emit(
            RoundFinished(
                ok=sum(r.ok for r in results),
                failed=sum(r.status == "failed" for r in results),
                cached=sum(r.ok and r.cache_hit for r in results),
                duration_ms=int((time.monotonic() - self._started) * 1000),
                cancelled=sum(r.status == "cancelled" for r in results),
            )
        )
