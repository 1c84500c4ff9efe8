"""The events a build emits as it goes (log lines, artifacts, its result) and the clock
that times its steps."""

from __future__ import annotations

import time
from collections.abc import Callable

from embly_build.protocol import enums, pb

Emit = Callable[[pb.BuildEvent], None]

_STREAMS = {"stdout": enums.STDOUT, "stderr": enums.STDERR, "server": enums.SERVER}


class Clock:
    def __init__(self) -> None:
        self._start = self._last = time.monotonic()
        self.timings = pb.Timings()

    def lap(self, field: str) -> None:
        """Add the time since the last lap to `field` (a step may run twice: quick, then
        optimised)."""
        now = time.monotonic()
        setattr(self.timings, field, getattr(self.timings, field) + int((now - self._last) * 1000))
        self._last = now

    def total_ms(self) -> int:
        return int((time.monotonic() - self._start) * 1000)


def log(stream: str, text: str, step: str) -> pb.BuildEvent:
    return pb.BuildEvent(log=pb.LogLine(stream=_STREAMS[stream], text=text, step=step))


def log_sink(emit: Emit, step: str) -> Callable[[str, str], None]:
    return lambda stream, text: emit(log(stream, text, step))


def failed(key: str, error: str) -> pb.Finished:
    """A build that failed: reported to its client, and not cached."""
    return pb.Finished(status=enums.FAILED, action_digest=key, error=error)


def emit_finished(emit: Emit, result: pb.Finished, clock: Clock, *, cache_hit: bool) -> None:
    for artifact in result.artifacts:
        emit(pb.BuildEvent(artifact=artifact))
    timings = clock.timings
    timings.total_ms = clock.total_ms()
    emit(
        pb.BuildEvent(
            finished=pb.Finished(
                status=result.status,
                cache_hit=cache_hit,
                action_digest=result.action_digest,
                artifacts=list(result.artifacts),
                timings=timings,
                error=result.error,
                aot_skipped_reason=result.aot_skipped_reason,
            )
        )
    )
