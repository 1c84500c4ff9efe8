"""Batches of changed paths under a set of directories, each watched on its own (not
recursively), for `embly watch`.

The first batch, possibly empty, comes once every watch is in place: a change made after it
is reported. A batch ends when no relevant event came for `settle_ms`, or `MAX_BATCH_S` after
its first event, so a file written without pause still gets built.

On Linux the kernel's inotify events are read straight from the event loop: an idle watch
never wakes, and a batch ends `settle_ms` after its last event. A watch follows a
directory's inode, not its path: when a watched directory is deleted or moved, the batch
with that event is followed by `EventsLost`, and the caller watches again. Elsewhere, and
when polling is asked for, watchfiles watches (its thread checks for events every
`settle_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path

from watchfiles import Change, awatch

from embly_build.client.watch import inotify
from embly_build.client.watch.inotify import EventsLost

__all__ = ["MAX_BATCH_S", "EventsLost", "Relevant", "WatchFailed", "watch_batches"]

MAX_BATCH_S = 1.6
_READY_PROBE_MS = 200  # how often an idle watchfiles thread returns; its first return means ready

Relevant = Callable[[Path], bool]


class WatchFailed(Exception):
    """The OS could not watch (or report on) the directories: `error` says why."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def watch_batches(
    directories: Sequence[Path], relevant: Relevant, *, settle_ms: int, poll: bool
) -> AsyncGenerator[set[Path], None]:
    """The changed paths for which `relevant` is true, batch by batch, until closed. Raises
    `WatchFailed` when the OS cannot watch (a limit reached: ENOSPC for watches, EMFILE for
    inotify instances) and `EventsLost` when changes were made, or can be made, that no batch
    will name (the kernel's queue overflowed, a watched directory was deleted or moved)."""
    if not poll and inotify.available():
        return _inotify_batches(directories, relevant, settle_ms / 1000)
    return _watchfiles_batches(directories, relevant, settle_ms, poll)


async def _inotify_batches(
    directories: Sequence[Path], relevant: Relevant, settle_s: float
) -> AsyncGenerator[set[Path], None]:
    loop = asyncio.get_running_loop()
    try:
        watches = inotify.Inotify()
    except OSError as error:
        raise WatchFailed(error) from error
    with contextlib.closing(watches):
        try:
            for directory in directories:
                watches.add_directory(directory)  # one already gone is found by the next index
        except OSError as error:
            raise WatchFailed(error) from error
        yield set()
        batch: set[Path] = set()
        pending = lost = False  # a batch is under way; it lost the watch of a directory
        first_event_at = last_event_at = 0.0
        while True:
            now = loop.time()
            changed = [path for path in watches.read_paths() if relevant(path)]
            lost_now = bool(watches.take_lost())
            if changed or lost_now:
                first_event_at = first_event_at if pending else now
                last_event_at = now
                pending = True
                batch.update(changed)
                lost = lost or lost_now
            timeout = None
            if pending:
                timeout = min(last_event_at + settle_s, first_event_at + MAX_BATCH_S) - now
            if (timeout is not None and timeout <= 0) or not await _readable(
                loop, watches.fileno(), timeout
            ):
                yield batch
                if lost:
                    # A directory made again at that path (a checkout, a restore) is not
                    # watched: watching again compares every input and watches it.
                    raise EventsLost("a watched directory was deleted or moved")
                batch = set()
                pending = False


async def _readable(loop: asyncio.AbstractEventLoop, fd: int, timeout: float | None) -> bool:
    """Wait until `fd` can be read (True) or `timeout` seconds pass (False). The reader is
    removed again before returning: it is level-triggered, so one left in place while the
    consumer of a batch awaits other work would wake the loop over and over."""
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await asyncio.wait_for(ready, timeout)
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
    return True


async def _watchfiles_batches(
    directories: Sequence[Path], relevant: Relevant, settle_ms: int, poll: bool
) -> AsyncGenerator[set[Path], None]:
    def wanted(_change: Change, path: str) -> bool:
        return relevant(Path(path))

    ready = False
    batches = awatch(
        *directories,
        watch_filter=wanted,
        step=settle_ms,
        debounce=int(MAX_BATCH_S * 1000),
        rust_timeout=_READY_PROBE_MS,
        yield_on_timeout=True,
        force_polling=poll,
        recursive=False,
        # Ignoring errors would also swallow the watch limit: directories would be
        # silently unwatched instead of falling back to polling.
        ignore_permission_denied=False,
    )
    try:
        async for changes in batches:
            if changes or not ready:
                ready = True
                yield {Path(path) for _, path in changes}
    except OSError as error:
        raise WatchFailed(error) from error
    except BaseExceptionGroup as group:
        _, others = group.split(_undecodable_path)
        if others is not None:
            raise
        # watchfiles drops the whole batch on a file name that is not UTF-8.
        raise EventsLost("a file name that is not UTF-8 made watchfiles drop events") from None


def _undecodable_path(error: BaseException) -> bool:
    return isinstance(error, RuntimeError) and "Unable to decode path" in str(error)
