"""`embly gc`: trim EMBLY_HOME's store, action cache and build spaces, least recently used first.

Last use is an mtime: a blob's or cache entry's own (kept fresh by `mark_used`), a build
space's manifest (rewritten by every sync). Sizes are disk usage, as du counts them.

Builds hold a shared lock on <home>/gc.lock for their whole run (`build_in_progress`);
blobs and cache entries are removed only under the exclusive lock. A build space is removed
only under its own .lock, the one a build holds while using it. While builds run, an evicted
space keeps its directory and .lock: a build waiting on that lock must get the space it
waited for, not a new one beside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Literal

from embly_build.errors import StoreError
from embly_build.file_locks import try_lock, wait_for_lock
from embly_build.server.build.build_space import MANIFEST_NAME, SPACE_LOCK
from embly_build.server.cas.action_cache import ActionCache
from embly_build.server.cas.store import ContentStore, StoredFile
from embly_build.server.settings import ServerSettings
from embly_build.server.sizes import disk_usage

Kind = Literal["blob", "entry", "space"]

GC_LOCK = "gc.lock"
RUNNING_DIR = "running-builds"
STALE_TEMP_SECONDS = 3600.0
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Tally:
    count: int = 0
    disk_bytes: int = 0


@dataclass(frozen=True)
class Usage:
    blobs: Tally
    entries: Tally
    spaces: Tally

    @property
    def total(self) -> Tally:
        parts = (self.blobs, self.entries, self.spaces)
        return Tally(sum(p.count for p in parts), sum(p.disk_bytes for p in parts))

    @classmethod
    def of(cls, items: Iterable[_Item]) -> Usage:
        items = list(items)
        return cls(*(_tally(i for i in items if i.kind == k) for k in ("blob", "entry", "space")))


@dataclass(frozen=True)
class GcReport:
    max_bytes: int
    dry_run: bool
    removed: Usage  # with dry_run: what would be removed
    remaining: Usage
    stale_temp_files: Tally
    spaces_in_use: int  # evictable, but a build holds (or just used) them
    store_busy: bool  # builds were running: no blob or cache entry was removed
    builds_running: int  # how many, when store_busy (0: one is just starting or ending)


@dataclass(frozen=True)
class _Item:
    kind: Kind
    path: Path
    disk_bytes: int
    last_used: float


def collect_garbage(settings: ServerSettings, max_bytes: int, *, dry_run: bool = False) -> GcReport:
    if not settings.home.is_dir():
        empty = Usage(Tally(), Tally(), Tally())
        return GcReport(max_bytes, dry_run, empty, empty, Tally(), 0, False, 0)
    store = ContentStore(settings.store_dir)
    cache = ActionCache(settings.action_cache_dir, store)
    # Taken before the lock, so builds do not wait for it; what was used since is kept.
    items = _inventory(store, cache, settings.spaces_dir)
    victims = _least_recently_used(items, max_bytes)
    with open(settings.home / GC_LOCK, "a") as gc_lock:
        store_free = try_lock(gc_lock, fcntl.LOCK_EX)
        removed, in_use = _remove(victims, store_free=store_free, dry_run=dry_run)
        stale = _remove_stale_temps(store, cache, dry_run=dry_run)
        builds = 0 if store_free else _count_running_builds(settings.home)
        if store_free and not dry_run:
            _clear_markers_of_dead_builds(settings.home)
    gone = {item.path for item in removed}
    return GcReport(
        max_bytes=max_bytes,
        dry_run=dry_run,
        removed=Usage.of(removed),
        remaining=Usage.of(item for item in items if item.path not in gone),
        stale_temp_files=stale,
        spaces_in_use=in_use,
        store_busy=not store_free,
        builds_running=builds,
    )


@contextlib.asynccontextmanager
async def build_in_progress(
    home: Path, on_wait: Callable[[], None] | None = None
) -> AsyncIterator[None]:
    """Hold for a build's whole run: gc leaves blobs and cache entries alone meanwhile.

    Shared, so builds never wait for each other; while a gc holds the lock the build polls
    (calling `on_wait` once) instead of blocking the event loop.
    """
    home.mkdir(parents=True, exist_ok=True)
    with open(home / GC_LOCK, "a") as handle:
        await wait_for_lock(handle, fcntl.LOCK_SH, on_wait, _POLL_SECONDS)
        with _running_marker(home):
            yield


def _tally(items: Iterable[_Item]) -> Tally:
    sizes = [item.disk_bytes for item in items]
    return Tally(len(sizes), sum(sizes))


def _inventory(store: ContentStore, cache: ActionCache, spaces_dir: Path) -> list[_Item]:
    files = chain(
        (_file_item("blob", f) for f in store.blob_files()),
        (_file_item("entry", f) for f in cache.entry_files()),
    )
    spaces = (
        _Item("space", root, disk_usage(root), _space_last_used(root))
        for root in spaces_dir.glob("*/*")
        if root.is_dir() and not root.is_symlink()
    )
    return [*files, *spaces]


def _file_item(kind: Kind, stored: StoredFile) -> _Item:
    return _Item(kind, stored.path, stored.disk_bytes, stored.last_used)


def _space_last_used(root: Path) -> float:
    # No manifest: never synced, or a sync is under way; the directory changed with it.
    for marker in (root / MANIFEST_NAME, root):
        with contextlib.suppress(FileNotFoundError):
            return marker.stat().st_mtime
    return 0.0


def _least_recently_used(items: list[_Item], max_bytes: int) -> list[_Item]:
    total = sum(item.disk_bytes for item in items)
    victims = []
    for item in sorted(items, key=lambda item: item.last_used):
        if total <= max_bytes:
            break
        victims.append(item)
        total -= item.disk_bytes
    return victims


def _remove(victims: list[_Item], *, store_free: bool, dry_run: bool) -> tuple[list[_Item], int]:
    """What was (or would be) removed, and how many spaces were in use.

    Items that must stay are skipped, not replaced by younger ones: evicting those would
    throw away state the least-recently-used order means to keep.
    """
    removed: list[_Item] = []
    in_use = 0
    for item in victims:
        try:
            if item.kind == "space":
                gone = _remove_space(item, whole=store_free, dry_run=dry_run)
                if not gone:
                    in_use += 1
            else:
                gone = store_free and _remove_file(item, dry_run=dry_run)
        except OSError as exc:
            raise StoreError(
                f"cannot remove {item.path}: {exc.strerror or exc}; "
                "fix its permissions and run `embly gc` again"
            ) from exc
        if gone:
            removed.append(item)
    return removed, in_use


def _remove_file(item: _Item, *, dry_run: bool) -> bool:
    try:
        used_since = item.path.stat().st_mtime > item.last_used
    except FileNotFoundError:
        return True
    if used_since:
        return False
    if not dry_run:
        item.path.unlink(missing_ok=True)
    return True


def _remove_space(item: _Item, *, whole: bool, dry_run: bool) -> bool:
    try:
        handle = open(item.path / SPACE_LOCK, "a")  # noqa: SIM115 - held while deleting
    except FileNotFoundError:
        return True
    with handle:
        if not try_lock(handle, fcntl.LOCK_EX):
            return False
        if _space_last_used(item.path) > item.last_used:
            return False
        if not dry_run:
            _clear_space(item.path, whole=whole)
    return True


def _clear_space(root: Path, *, whole: bool) -> None:
    for child in root.iterdir():
        if child.name != SPACE_LOCK:
            _delete_tree(child)
    if whole:
        (root / SPACE_LOCK).unlink()
        root.rmdir()
        with contextlib.suppress(OSError):
            root.parent.rmdir()  # the project's directory, once its last space is gone


def _delete_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=_make_writable_and_retry)
    else:
        path.unlink(missing_ok=True)


def _make_writable_and_retry(function: Callable[[str], object], path: str, _: object) -> None:
    os.chmod(os.path.dirname(path), 0o755)
    function(path)


def _remove_stale_temps(store: ContentStore, cache: ActionCache, *, dry_run: bool) -> Tally:
    """Temporary files nobody has written to for STALE_TEMP_SECONDS (a crash left them)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    stale = [f for f in chain(store.temp_files(), cache.temp_files()) if f.last_used < cutoff]
    if not dry_run:
        for temp in stale:
            temp.path.unlink(missing_ok=True)
    return Tally(len(stale), sum(temp.disk_bytes for temp in stale))


@contextlib.contextmanager
def _running_marker(home: Path) -> Iterator[None]:
    """A file locked while this build runs, so gc can say how many builds it waits for.

    Locked under a dot name and then renamed: gc only probes the others, so its probe can
    never hold a marker's lock when the build takes it. Best effort: it is only a count.
    """
    directory = home / RUNNING_DIR
    fd, marker = -1, None
    try:
        directory.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".new-")
        marker = Path(name)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        running = directory / f"{os.getpid()}-{marker.name.removeprefix('.new-')}"
        os.rename(marker, running)
        marker = running
    except OSError:
        pass
    try:
        yield
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
        if fd >= 0:
            os.close(fd)


def _count_running_builds(home: Path) -> int:
    count = 0
    for marker in (home / RUNNING_DIR).glob("[!.]*"):
        with contextlib.suppress(FileNotFoundError), open(marker) as handle:
            count += not try_lock(handle, fcntl.LOCK_SH)
    return count


def _clear_markers_of_dead_builds(home: Path) -> None:
    """Called holding gc.lock exclusively: no build runs, so every marker is a dead one's."""
    for marker in (home / RUNNING_DIR).glob("*"):
        marker.unlink(missing_ok=True)
