"""embly gc: least recently used first, never what a running build holds or may need."""

from __future__ import annotations

import asyncio
import fcntl
import marshal
import os
import time
from pathlib import Path

import pytest

from embly_build.errors import UsageError
from embly_build.protocol import pb
from embly_build.server.build.build_space import MANIFEST_NAME
from embly_build.server.cas.action_cache import ActionCache
from embly_build.server.cas.store import ContentStore
from embly_build.server.gc import GC_LOCK, build_in_progress, collect_garbage
from embly_build.server.settings import ServerSettings
from embly_build.server.sizes import disk_usage, format_size, parse_size

DAY = 86400.0
HUGE = 1 << 50


class Home:
    """A populated EMBLY_HOME whose items are aged explicitly."""

    def __init__(self, root: Path) -> None:
        self.settings = ServerSettings(home=root)
        self.store = ContentStore(self.settings.store_dir)
        self.cache = ActionCache(self.settings.action_cache_dir, self.store)

    def blob(self, data: bytes, days_ago: float) -> pb.Digest:
        digest = self.store.put_bytes(data)
        age(self.store.path_of(digest), days_ago)
        return digest

    def entry(self, key: str, artifact: pb.Digest, days_ago: float) -> Path:
        self.cache.put(key, pb.Finished(artifacts=[pb.Artifact(kind="wasm", digest=artifact)]))
        path = self.settings.action_cache_dir / key[:2] / key
        age(path, days_ago)
        return path

    def space(self, name: str, days_ago: float, size: int = 20000) -> Path:
        root = self.settings.spaces_dir / "project" / name
        (root / "src").mkdir(parents=True)
        (root / "target-0123").mkdir()
        (root / ".lock").touch()
        (root / "src" / "lib.rs").write_text("pub fn f() {}\n")
        (root / "target-0123" / "lib.wasm").write_bytes(os.urandom(size))
        (root / MANIFEST_NAME).write_bytes(marshal.dumps({}))
        age(root / MANIFEST_NAME, days_ago)
        return root

    def gc(self, max_bytes: int, *, dry_run: bool = False) -> object:
        return collect_garbage(self.settings, max_bytes, dry_run=dry_run)


def age(path: Path, days_ago: float) -> None:
    when = time.time() - days_ago * DAY
    os.utime(path, (when, when))


def total_usage(home: Home) -> int:
    return collect_garbage(home.settings, HUGE, dry_run=True).remaining.total.disk_bytes


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def test_least_recently_used_go_first_whatever_their_kind(home: Home) -> None:
    oldest_blob = home.blob(os.urandom(9000), days_ago=5)
    oldest_space = home.space("old", days_ago=4)
    newer_blob = home.blob(os.urandom(9000), days_ago=2)
    old_entry = home.entry("ab" * 32, newer_blob, days_ago=3)
    newest_space = home.space("new", days_ago=1)
    doomed = [home.store.path_of(oldest_blob), oldest_space, old_entry]
    budget = total_usage(home) - sum(disk_usage(path) for path in doomed)

    report = collect_garbage(home.settings, budget)

    assert [path.exists() for path in doomed] == [False, False, False]
    assert home.store.has(newer_blob)
    assert newest_space.is_dir()
    assert (report.removed.blobs.count, report.removed.entries.count) == (1, 1)
    assert report.removed.spaces.count == 1
    assert report.remaining.total.disk_bytes == budget


def test_usage_ends_at_most_max_size(home: Home) -> None:
    for index in range(10):
        home.blob(os.urandom(5000 + index), days_ago=index)
    home.space("a", days_ago=3)
    limit = total_usage(home) // 2

    report = collect_garbage(home.settings, limit)

    assert 0 < report.remaining.total.disk_bytes <= limit
    assert total_usage(home) == report.remaining.total.disk_bytes
    assert collect_garbage(home.settings, 0).remaining.total.count == 0
    assert list(home.settings.spaces_dir.iterdir()) == [], "spaces go whole, .lock included"


def test_a_build_space_a_build_holds_survives(home: Home) -> None:
    busy = home.space("busy", days_ago=9)
    idle = home.space("idle", days_ago=8)
    with open(busy / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        report = collect_garbage(home.settings, 0)
    assert (busy / "target-0123" / "lib.wasm").exists()
    assert not idle.exists()
    assert report.spaces_in_use == 1
    assert report.remaining.spaces.count == 1


async def test_while_builds_run_blobs_and_entries_stay(home: Home) -> None:
    blob = home.blob(b"artifact", days_ago=30)
    entry = home.entry("cd" * 32, blob, days_ago=30)
    space = home.space("idle", days_ago=30)
    async with build_in_progress(home.settings.home), build_in_progress(home.settings.home):
        report = collect_garbage(home.settings, 0)
    assert home.store.has(blob)
    assert entry.exists()
    assert report.store_busy
    assert report.builds_running == 2
    assert report.removed.blobs.count == report.removed.entries.count == 0
    # The space is emptied; its directory and lock stay for a build that may wait on it.
    assert sorted(p.name for p in space.iterdir()) == [".lock"]
    assert report.removed.spaces.count == 1

    assert not collect_garbage(home.settings, 0).store_busy, "the builds are over"
    assert not home.store.has(blob)
    assert not entry.exists()


async def test_a_build_starting_while_gc_runs_waits_without_blocking(home: Home) -> None:
    home.settings.home.mkdir(parents=True, exist_ok=True)
    waits: list[str] = []
    entered = asyncio.Event()

    async def build() -> None:
        async with build_in_progress(home.settings.home, on_wait=lambda: waits.append("w")):
            entered.set()

    with open(home.settings.home / GC_LOCK, "a") as gc_lock:
        fcntl.flock(gc_lock, fcntl.LOCK_EX)
        task = asyncio.create_task(build())
        await asyncio.sleep(0.3)  # the loop keeps running while the build waits
        assert not entered.is_set()
        assert waits == ["w"]
    await asyncio.wait_for(task, timeout=5)
    assert entered.is_set()


def test_an_entry_whose_artifact_was_collected_is_a_miss(home: Home) -> None:
    blob = home.blob(os.urandom(8192), days_ago=10)
    home.entry("ef" * 32, blob, days_ago=1)
    assert home.cache.get("ef" * 32) is not None
    age(home.store.path_of(blob), 10)
    budget = total_usage(home) - disk_usage(home.store.path_of(blob))

    collect_garbage(home.settings, budget)

    assert not home.store.has(blob)
    assert home.cache.get("ef" * 32) is None


def test_a_use_refreshes_last_use_at_most_once_an_hour(home: Home) -> None:
    recent = home.blob(b"recent", days_ago=0.5 / 24)
    stale = home.blob(b"stale", days_ago=2 / 24)
    recent_mtime = home.store.path_of(recent).stat().st_mtime

    assert home.store.missing([recent, stale]) == []

    assert home.store.path_of(recent).stat().st_mtime == recent_mtime
    assert home.store.path_of(stale).stat().st_mtime > time.time() - 60


def test_reads_puts_and_cache_hits_are_uses(home: Home) -> None:
    read = home.blob(b"read", days_ago=3)
    put = home.blob(b"put", days_ago=3)
    artifact = home.blob(b"artifact", days_ago=3)
    entry = home.entry("0a" * 32, artifact, days_ago=3)
    home.store.read_bytes(read)
    home.store.put_bytes(b"put")
    assert home.cache.get("0a" * 32) is not None
    fresh = time.time() - 60
    paths = [home.store.path_of(d) for d in (read, put, artifact)] + [entry]
    assert all(path.stat().st_mtime > fresh for path in paths)


def test_dry_run_removes_nothing(home: Home) -> None:
    blob = home.blob(os.urandom(5000), days_ago=2)
    home.entry("12" * 32, blob, days_ago=2)
    home.space("s", days_ago=2)
    before = list(home.settings.home.rglob("*"))

    report = collect_garbage(home.settings, 0, dry_run=True)

    assert all(path.exists() for path in before)
    assert report.removed.total.count == 3
    assert report.remaining.total.count == 0, "what would remain"


def test_stale_temporary_files_go_fresh_ones_stay(home: Home) -> None:
    stale = home.store.tmp_dir / "stale.partial"
    fresh = home.store.tmp_dir / "fresh.partial"
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y" * 100)
    age(stale, 2 / 24)

    report = collect_garbage(home.settings, HUGE)

    assert not stale.exists()
    assert fresh.exists()
    assert report.stale_temp_files.count == 1


def test_missing_home_is_an_empty_report(tmp_path: Path) -> None:
    report = collect_garbage(ServerSettings(home=tmp_path / "nowhere"), 0)
    assert report.remaining.total.count == 0
    assert not (tmp_path / "nowhere").exists()


def test_disk_usage_counts_a_hard_linked_file_once(tmp_path: Path) -> None:
    tree = tmp_path / "target"
    tree.mkdir()
    (tree / "lib.wasm").write_bytes(os.urandom(50000))
    alone = disk_usage(tree)
    os.link(tree / "lib.wasm", tree / "deps.wasm")  # as cargo links artifacts into place
    assert disk_usage(tree) == alone
    assert alone >= 50000


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1234", 1234),
        ("512B", 512),
        ("500M", 500 * 1024**2),
        ("10G", 10 * 1024**3),
        ("10g", 10 * 1024**3),
        ("2GiB", 2 * 1024**3),
        ("1.5K", 1536),
        ("3 MiB", 3 * 1024**2),
        ("10GB", 10 * 1000**3),
        ("1T", 1024**4),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1G", "10X", "1e9", "10 GiBs", "1..5G"])
def test_parse_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(UsageError, match=r"invalid size .*e\.g\. 500M, 10G, 2GiB"):
        parse_size(text)


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 1023, 1536, 10 * 1024**3)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "10.0 GiB",
    ]
