from __future__ import annotations

import marshal
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from embly_build.client.inputs import walk
from embly_build.client.inputs.cancellation import Cancellation
from embly_build.client.inputs.index import FunctionInputs, index_function
from embly_build.client.inputs.stat_cache import StatCache, default_stat_cache_path
from tests.client.files import write

REPO = Path(__file__).resolve().parents[2]
HOUR_NS = 3600 * 10**9


def age(path: Path, ago_ns: int = HOUR_NS) -> None:
    """Set the mtime well in the past, as for files not edited just now (not racy)."""
    then = time.time_ns() - ago_ns
    os.utime(path, ns=(then, then), follow_symlinks=False)


def project(directory: Path) -> Path:
    """A crate with a few files, a .gitignore, an executable and a symlink, all aged."""
    write(directory / "Cargo.toml", '[package]\nname = "hello"\n')
    write(directory / "src" / "lib.rs", "// code\n")
    write(directory / "src" / "util.rs", "pub fn util() {}\n")
    write(directory / ".gitignore", "*.tmp\n")
    write(directory / "scratch.tmp", "ignored")
    write(directory / "build.sh", "#!/bin/sh\n").chmod(0o755)
    (directory / "lib-link.rs").symlink_to("src/lib.rs")
    for path in directory.rglob("*"):
        age(path)
    return directory


class HashCalls:
    """Counts reads through the indexer's hashing seam."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = walk.hash_file

        def counting(
            path: str | os.PathLike[str], cancellation: Cancellation | None = None
        ) -> tuple[str, int]:
            self.paths.append(os.fspath(path))
            return real(path, cancellation)

        monkeypatch.setattr(walk, "hash_file", counting)


class EntryWithCtime:
    """A fault-injection stand-in for one `os.DirEntry`: the real entry, whose stat reports
    another ctime (a timestamp that has not ticked cannot be made on demand)."""

    def __init__(self, entry: os.DirEntry[str], ctime_ns: int) -> None:
        self._entry = entry
        self._ctime_ns = ctime_ns
        self.name = entry.name

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.is_file(follow_symlinks=follow_symlinks)

    def is_symlink(self) -> bool:
        return self._entry.is_symlink()

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.is_dir(follow_symlinks=follow_symlinks)

    def stat(self) -> os.stat_result:
        info = self._entry.stat()
        return os.stat_result(
            tuple(info), {"st_mtime_ns": info.st_mtime_ns, "st_ctime_ns": self._ctime_ns}
        )


def report_ctime(monkeypatch: pytest.MonkeyPatch, file: Path, ctime_ns: int) -> None:
    """Make the indexer see `ctime_ns` as the ctime of `file`, as on a filesystem whose
    timestamps have not ticked since it was last stat'ed."""
    real = walk._scandir

    def listing(fd: int, directory: str) -> list[os.DirEntry[str]]:
        entries = real(fd, directory)
        if directory != str(file.parent):
            return entries
        return [
            EntryWithCtime(e, ctime_ns) if e.name == file.name else e  # type: ignore[misc]
            for e in entries
        ]

    monkeypatch.setattr(walk, "_scandir", listing)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> HashCalls:
    return HashCalls(monkeypatch)


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    return project(tmp_path / "hello")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "home" / "client" / "stat-cache.sqlite3"


@pytest.fixture
def cache(db: Path) -> Iterator[StatCache]:
    with StatCache(db) as opened:
        yield opened


def indexed(crate: Path, db: Path | None) -> FunctionInputs:
    if db is None:
        return index_function(crate, [], crate / "out")
    with StatCache(db) as cache:
        return index_function(crate, [], crate / "out", stat_cache=cache)


def sha_of(inputs: FunctionInputs, path: str) -> str:
    return next(f.sha256 for f in inputs.files if f.path == path)


def test_warm_index_reads_no_file_content(crate: Path, db: Path, hashes: HashCalls) -> None:
    cold = indexed(crate, db)
    assert len(hashes.paths) == len(cold.files) == 6
    hashes.paths.clear()

    warm = indexed(crate, db)

    assert hashes.paths == []
    assert warm == cold


def test_results_are_identical_with_and_without_cache(crate: Path, db: Path) -> None:
    plain = indexed(crate, None)

    assert indexed(crate, db) == plain  # cold
    assert indexed(crate, db) == plain  # warm


def test_changed_file_is_rehashed(crate: Path, db: Path, hashes: HashCalls) -> None:
    indexed(crate, db)
    lib = crate / "src" / "lib.rs"
    write(lib, "// edit\n")  # same size
    age(lib, HOUR_NS // 2)
    hashes.paths.clear()

    after = indexed(crate, db)

    assert sorted(hashes.paths) == [str(crate / "lib-link.rs"), str(lib)]  # the link too
    assert after == indexed(crate, None)


def test_rewrite_within_one_timestamp_tick_is_found_when_it_was_racy(
    tmp_path: Path, db: Path, hashes: HashCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    crate = write(tmp_path / "hello" / "Cargo.toml", '[package]\nname = "hello"\n').parent
    lib = write(crate / "lib.rs", "// code\n")  # just written: racy when hashed now
    indexed(crate, db)
    recorded = lib.stat()
    write(lib, "// edit\n")  # same size, same inode
    os.utime(lib, ns=(recorded.st_atime_ns, recorded.st_mtime_ns))
    report_ctime(monkeypatch, lib, recorded.st_ctime_ns)  # its stat is now the recorded one
    hashes.paths.clear()

    after = indexed(crate, db)

    assert str(lib) in hashes.paths
    assert sha_of(after, "lib.rs") == sha_of(indexed(crate, None), "lib.rs")


def test_racy_entry_never_answers_even_with_an_identical_stat(
    tmp_path: Path, cache: StatCache
) -> None:
    fresh = write(tmp_path / "fresh.txt", "now")
    old = write(tmp_path / "old.txt", "then")
    age(old)
    cache.snapshot(tmp_path)
    for file in (fresh, old):
        cache.record(str(file), file.stat(), f"sha-of-{file.name}")
    cache.commit()

    cache.snapshot(tmp_path)

    assert cache.lookup(str(fresh), fresh.stat()) is None
    assert cache.lookup(str(old), old.stat()) == "sha-of-old.txt"


def test_changed_stat_does_not_answer(tmp_path: Path, cache: StatCache) -> None:
    file = write(tmp_path / "a.txt", "a")
    age(file)
    cache.snapshot(tmp_path)
    cache.record(str(file), file.stat(), "sha")
    cache.commit()
    age(file, HOUR_NS // 2)

    cache.snapshot(tmp_path)

    assert cache.lookup(str(file), file.stat()) is None


def test_cache_is_shared_between_processes(crate: Path, db: Path, hashes: HashCalls) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from embly_build.client.inputs.index import index_function\n"
        "from embly_build.client.inputs.stat_cache import StatCache\n"
        "crate, db = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "with StatCache(db) as cache:\n"
        "    index_function(crate, [], crate / 'out', stat_cache=cache)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(crate), str(db)], cwd=REPO, check=True, timeout=60
    )

    inputs = indexed(crate, db)

    assert hashes.paths == []
    assert inputs == indexed(crate, None)


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 8192],
    ids=["garbage", "broken-sqlite"],
)
def test_corrupt_database_is_moved_aside_and_recreated(
    crate: Path, db: Path, hashes: HashCalls, content: bytes
) -> None:
    write(db, content)

    assert indexed(crate, db) == indexed(crate, None)
    hashes.paths.clear()
    indexed(crate, db)

    assert hashes.paths == []
    assert [p.read_bytes() for p in db.parent.glob("*.corrupt-*")] == [content]


def test_unopenable_database_path_is_moved_aside(crate: Path, db: Path) -> None:
    db.mkdir(parents=True)  # a directory where the file should be

    assert indexed(crate, db) == indexed(crate, None)
    assert db.is_file()
    assert len(list(db.parent.glob("*.corrupt-*"))) == 1


def test_database_locked_by_another_writer_is_skipped(crate: Path, db: Path) -> None:
    StatCache(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with StatCache(db, busy_timeout=0.05) as cache:
            inputs = index_function(crate, [], crate / "out", stat_cache=cache)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert inputs == indexed(crate, None)


def stored_paths(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT directory, entries FROM directories").fetchall()
    return {
        os.path.join(directory, name) for directory, blob in rows for name in marshal.loads(blob)
    }


def test_rows_of_deleted_files_and_directories_are_dropped(crate: Path, db: Path) -> None:
    write(crate / "docs" / "guide.md", "# guide\n")
    write(crate / "web" / "index.html", "<p/>")
    write(crate / "web" / "css" / "site.css", "p {}")
    indexed(crate, db)
    (crate / "src" / "util.rs").unlink()
    (crate / "docs" / "guide.md").unlink()
    (crate / "docs").rmdir()
    (crate / "web" / "index.html").unlink()  # `web` now holds only a directory

    indexed(crate, db)

    assert str(crate / "src" / "util.rs") not in stored_paths(db)
    assert str(crate / "docs" / "guide.md") not in stored_paths(db)
    assert str(crate / "web" / "index.html") not in stored_paths(db)
    assert str(crate / "src" / "lib.rs") in stored_paths(db)
    assert str(crate / "web" / "css" / "site.css") in stored_paths(db)


def test_rounds_of_two_processes_in_one_directory_keep_both_records(
    tmp_path: Path, db: Path
) -> None:
    first, second = write(tmp_path / "a.txt", "a"), write(tmp_path / "b.txt", "b")
    age(first)
    age(second)
    with StatCache(db) as one, StatCache(db) as other:
        one.snapshot(tmp_path)
        other.snapshot(tmp_path)
        one.record(str(first), first.stat(), "sha-a")
        other.record(str(second), second.stat(), "sha-b")
        one.commit()
        other.commit()  # written over the directory as `one` left it, not as it was

    with StatCache(db) as cache:
        cache.snapshot(tmp_path)
        assert cache.lookup(str(first), first.stat()) == "sha-a"
        assert cache.lookup(str(second), second.stat()) == "sha-b"


def test_rows_this_module_did_not_write_answer_no_lookup(
    crate: Path, db: Path, hashes: HashCalls
) -> None:
    """Entries of the wrong shape (edited by hand, another version's): each file is read
    again, the index is right and nothing raises."""
    age(write(crate / "src" / "extra.rs", "// extra\n"))
    indexed(crate, db)
    lib, util = os.stat(crate / "src" / "lib.rs"), os.stat(crate / "src" / "util.rs")
    stat_of = (lib.st_size, lib.st_mtime_ns, lib.st_ctime_ns, lib.st_ino)
    wrong = {
        "lib.rs": (*stat_of, b"not text", False),  # a sha256 that is not a str
        "util.rs": (util.st_size,),  # too short
        "extra.rs": {0: os.stat(crate / "src" / "extra.rs").st_size},  # a mapping
        "main.rs": "a string, not a tuple",
        5: (1, 2, 3, 4, "a name that is not text", False),
    }
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE directories SET entries = ? WHERE directory = ?",
            (marshal.dumps(wrong), str(crate / "src")),
        )
    conn.close()
    hashes.paths.clear()

    again = indexed(crate, db)

    read = [crate / "src" / name for name in ("lib.rs", "util.rs", "extra.rs")]
    assert sorted(hashes.paths) == sorted(map(str, read))
    assert again == indexed(crate, None)
    assert indexed(crate, db) == again  # the row was written again, whole
    assert str(crate / "src" / "main.rs") not in stored_paths(db)


def test_database_of_an_older_schema_is_replaced(crate: Path, db: Path) -> None:
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE files (path TEXT PRIMARY KEY, sha256 TEXT)")
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    assert indexed(crate, db) == indexed(crate, None)
    assert indexed(crate, db) == indexed(crate, None)
    assert str(crate / "src" / "lib.rs") in stored_paths(db)


def test_rows_of_other_trees_below_the_root_are_kept(tmp_path: Path, db: Path) -> None:
    first = project(tmp_path / "first")
    second = project(tmp_path / "second")
    assets = write(tmp_path / "assets" / "logo.svg", "<svg/>").parent
    indexed(first, db)

    with StatCache(db) as cache:
        inputs = index_function(second, [assets], second / "out", stat_cache=cache)

    assert inputs.root == tmp_path  # so the round's snapshot held the rows of `first` too
    assert str(first / "src" / "lib.rs") in stored_paths(db)


def test_default_path_is_under_embly_home(embly_home: Path) -> None:
    assert default_stat_cache_path() == embly_home / "client" / "stat-cache.sqlite3"
