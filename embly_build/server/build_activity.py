"""The server's Build calls as `embly info` shows them: how many are queued and running now,
and how many finished since the server started, with how many the cache answered.

Counted from the events each call sends its client, so the figures are what the clients
were told: a call is queued from its start until `started` (a build slot taken), running
until `finished`, and gone when its stream ends, finished or not (a client that went away).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import Enum

import betterproto

from embly_build.protocol import pb


class _Phase(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class TrackedBuild:
    """One Build call's place in its server's counts, moved on by the events it sends."""

    def __init__(self, activity: BuildActivity) -> None:
        self._activity = activity
        self._phase = _Phase.QUEUED
        activity.queued += 1

    def saw(self, event: pb.BuildEvent) -> pb.Finished | None:
        """Count `event`; the build's result when it is the `finished` event."""
        kind, _ = betterproto.which_one_of(event, "event")
        if kind == "started" and self._phase is _Phase.QUEUED:
            self._move(_Phase.RUNNING)
        elif kind == "finished" and self._phase is not _Phase.DONE:
            self._move(_Phase.DONE)
            self._activity.builds_finished += 1
            self._activity.cache_hits += event.finished.cache_hit
            return event.finished
        return None

    def end(self) -> None:
        if self._phase is not _Phase.DONE:
            self._move(_Phase.DONE)

    def _move(self, phase: _Phase) -> None:
        activity = self._activity
        if self._phase is _Phase.QUEUED:
            activity.queued -= 1
        elif self._phase is _Phase.RUNNING:
            activity.running -= 1
        if phase is _Phase.RUNNING:
            activity.running += 1
        self._phase = phase


class BuildActivity:
    def __init__(self) -> None:
        self.queued = 0
        self.running = 0
        self.builds_finished = 0
        self.cache_hits = 0

    @contextlib.contextmanager
    def track(self) -> Iterator[TrackedBuild]:
        """Count one Build call while it lasts."""
        build = TrackedBuild(self)
        try:
            yield build
        finally:
            build.end()

    def message(self) -> pb.BuildActivity:
        return pb.BuildActivity(
            running=self.running,
            queued=self.queued,
            builds_finished=self.builds_finished,
            cache_hits=self.cache_hits,
        )
