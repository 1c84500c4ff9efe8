"""Which sha256 a file had when it last had a given stat, kept across processes.

An index asks the cache before reading a file: when the file's (size, mtime_ns, ctime_ns,
inode) equal the recorded ones, the recorded sha256 is taken and the file is not read.

One index is one round: `snapshot(root)` loads every directory at or below `root` in one query
(a re-index after file events loads only the directories it lists again), lookups are
answered from memory, and `commit()` writes the directories with new, changed or deleted
entries in one transaction. A directory is one row (its entries, marshalled), because
decoding a few blobs is much cheaper than fetching a row per file. The database is SQLite in
WAL mode, so several processes can share it. It is only an optimisation: a corrupt or
unreadable file is moved aside and recreated, and a database that stays locked or cannot be
written is skipped, never an error.

Racy files: a file whose mtime is within `RACY_WINDOW_NS` of the moment it was hashed could
be written again within the same timestamp tick without its stat changing, so its entry is
marked racy and never answers a lookup: it is hashed again next time.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from embly_build.home import embly_home

RACY_WINDOW_NS = 2_000_000_000  # filesystem timestamps can be as coarse as 2 s (FAT)

_SCHEMA_VERSION = 2
_T = TypeVar("_T")
# What is known of one file, by its name in its directory: size, mtime_ns, ctime_ns, inode,
# sha256, racy.
_Entry = tuple[int, int, int, int, str, bool]
_Entries = dict[str, _Entry]
# Per directory: the entries recorded this round, and the names of files that are gone.
_Changes = dict[str, tuple[_Entries, list[str]]]


def default_stat_cache_path() -> Path:
    """The cache every client process on this machine shares."""
    return embly_home() / "client" / "stat-cache.sqlite3"


class DirectoryCache:
    """The cache of the files directly in one directory, for one round."""

    __slots__ = ("_racy_from_ns", "entries", "recorded", "seen")

    def __init__(self, entries: _Entries, racy_from_ns: int) -> None:
        self.entries = entries  # as loaded: not changed during the round
        self.recorded: _Entries = {}
        # Names of files listed or looked up: entries of the others are dropped at the commit
        # when their files are gone.
        self.seen: set[str] = set()
        self._racy_from_ns = racy_from_ns

    def lookup(self, name: str, info: os.stat_result) -> str | None:
        """The recorded sha256 of file `name` when its stat is still `info`, else None."""
        self.seen.add(name)
        entry = self.entries.get(name)
        if entry is None:
            return None
        try:
            size, mtime_ns, ctime_ns, inode, sha256, racy = entry
        except (TypeError, ValueError):  # not an entry this module wrote
            return None
        if (
            racy is not False
            or type(sha256) is not str
            or size != info.st_size
            or mtime_ns != info.st_mtime_ns
            or ctime_ns != info.st_ctime_ns
            or inode != info.st_ino
        ):
            return None
        return sha256

    def record(self, name: str, info: os.stat_result, sha256: str) -> None:
        """File `name` had content `sha256` while its stat was `info`, stat taken before
        reading."""
        self.seen.add(name)
        racy = info.st_mtime_ns >= self._racy_from_ns
        entry = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, sha256, racy)
        if self.entries.get(name) != entry:
            self.recorded[name] = entry


class StatCache:
    """A stat cache in one SQLite file; use as a context manager or call `close()`.

    Not for concurrent use from several threads; share the file between processes instead.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        """`busy_timeout`: seconds to wait for another process's write before doing without."""
        self.path = path
        self._busy_timeout = busy_timeout
        self._db = _open_or_recreate(path, busy_timeout)
        self._known: dict[str, _Entries] = {}
        self._listed: dict[str, DirectoryCache] = {}
        self._started_ns = time.time_ns()

    def __enter__(self) -> StatCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def indexing(
        self, *prefixes: Path | str, directories: Iterable[str] = ()
    ) -> Iterator[StatCache]:
        """One round: `snapshot(...)` now, `commit()` at the end, also after an error
        (what was hashed before it is still right). Rounds do not nest."""
        self.snapshot(*prefixes, directories=directories)
        try:
            yield self
        finally:
            self.commit()

    def snapshot(self, *prefixes: Path | str, directories: Iterable[str] = ()) -> None:
        """Start a round: load every directory at or below each of `prefixes`, and each of
        `directories` alone (all absolute), into memory. A directory not loaded is treated as
        one with no entries."""
        self._started_ns = time.time_ns()
        self._listed = {}
        bases = [b for b in (str(p).rstrip("/") for p in prefixes) if _encodable(b)]
        singles = [d for d in directories if _encodable(d)]
        rows: list[tuple[str, bytes]] = []
        if bases or singles:
            rows = self._guarded(lambda db: _select(db, bases, singles), rows)
        self._known = {directory: _decode(blob) for directory, blob in rows}

    def directory(self, directory: str) -> DirectoryCache:
        """The cache of the files directly in `directory` (absolute), listed this round."""
        listed = self._listed.get(directory)
        if listed is None:
            entries = self._known.get(directory, {})
            listed = DirectoryCache(entries, self._started_ns - RACY_WINDOW_NS)
            self._listed[directory] = listed
        return listed

    def lookup(self, path: str, info: os.stat_result) -> str | None:
        """The recorded sha256 of `path` when its stat is still `info`, else None."""
        directory, name = os.path.split(path)
        return self.directory(directory).lookup(name, info)

    def record(self, path: str, info: os.stat_result, sha256: str) -> None:
        """`path` had content `sha256` while its stat was `info`, stat taken before reading."""
        directory, name = os.path.split(path)
        self.directory(directory).record(name, info, sha256)

    def commit(self) -> None:
        """End the round: write new and changed entries and drop those of files that are gone.

        Files are checked one by one only in directories this round listed; entries elsewhere
        (another function's tree below the same prefix) go when their directory does."""
        changes: _Changes = {}
        for directory, listed in self._listed.items():
            unseen = listed.entries.keys() - listed.seen
            gone = [
                name
                for name in unseen  # a name that is not text is no entry this module wrote
                if type(name) is not str or not os.path.lexists(os.path.join(directory, name))
            ]
            if listed.recorded or gone:
                changes[directory] = (listed.recorded, gone)
        vanished = [d for d in self._known.keys() - self._listed.keys() if not os.path.isdir(d)]
        if changes or vanished:
            self._guarded(lambda db: _write(db, changes, vanished), None)
        for directory, (recorded, gone) in changes.items():
            entries = self._known.setdefault(directory, {})
            entries.update(recorded)
            for name in gone:
                del entries[name]
        for directory in vanished:
            del self._known[directory]
        self._listed = {}

    def _guarded(self, action: Callable[[sqlite3.Connection], _T], fallback: _T) -> _T:
        """`action`, recreating a corrupt database once; `fallback` when it cannot be done."""
        try:
            return action(self._db)
        except sqlite3.OperationalError:
            return fallback  # locked by another process for too long, read-only, disk full
        except sqlite3.DatabaseError:
            self._db.close()
            self._db = _recreate(self.path, self._busy_timeout)
        try:
            return action(self._db)
        except sqlite3.Error:
            return fallback


def _select(
    db: sqlite3.Connection, bases: Sequence[str], singles: Sequence[str]
) -> list[tuple[str, bytes]]:
    """The rows of each of `bases` and of every directory below it ('/' < '0' in byte
    order), and those of `singles`."""
    rows: dict[str, bytes] = {}
    for base in bases:
        rows.update(
            db.execute(
                "SELECT directory, entries FROM directories"
                " WHERE directory = ? OR (directory >= ? AND directory < ?)",
                (base, base + "/", base + "0"),
            ).fetchall()
        )
    for single in singles:
        if single not in rows:
            rows.update(
                db.execute(
                    "SELECT directory, entries FROM directories WHERE directory = ?", (single,)
                ).fetchall()
            )
    return list(rows.items())


def _write(db: sqlite3.Connection, changes: _Changes, vanished: list[str]) -> None:
    """Apply `changes` to the directories as they are now: another process may have written
    some of them since the snapshot."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for directory, (recorded, gone) in changes.items():
            if not _encodable(directory):
                continue
            row = db.execute(
                "SELECT entries FROM directories WHERE directory = ?", (directory,)
            ).fetchone()
            entries = _decode(row[0]) if row is not None else {}
            entries.update(recorded)
            for name in gone:
                entries.pop(name, None)
            if entries:
                db.execute(
                    "INSERT OR REPLACE INTO directories VALUES (?, ?)",
                    (directory, marshal.dumps(entries)),
                )
            else:
                db.execute("DELETE FROM directories WHERE directory = ?", (directory,))
        db.executemany(
            "DELETE FROM directories WHERE directory = ?",
            [(d,) for d in vanished if _encodable(d)],
        )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _decode(blob: object) -> _Entries:
    """The entries of one row; none when it does not hold what `_write` stores."""
    if not isinstance(blob, bytes):
        return {}
    try:
        entries = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):
        return {}
    return entries if type(entries) is dict else {}


def _open_or_recreate(path: Path, busy_timeout: float) -> sqlite3.Connection:
    try:
        return _open(path, busy_timeout)
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return _in_memory()  # healthy but held by another process: do without this time
    except OSError:
        return _in_memory()
    return _recreate(path, busy_timeout)


def _recreate(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Move the database aside (kept for inspection) and start an empty one."""
    aside = f".corrupt-{time.time_ns()}"
    try:
        for suffix in ("", "-wal", "-shm"):
            current = path.with_name(path.name + suffix)
            if current.exists():
                current.rename(path.with_name(path.name + aside + suffix))
        return _open(path, busy_timeout)
    except (OSError, sqlite3.Error):
        return _in_memory()


def _open(path: Path, busy_timeout: float) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # losing the last commit on power loss is fine
        _ensure_schema(db)
    except BaseException:
        db.close()
        raise
    return db


def _in_memory() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    _ensure_schema(db)
    return db


def _ensure_schema(db: sqlite3.Connection) -> None:
    if _schema_version(db) == _SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    if _schema_version(db) == _SCHEMA_VERSION:  # another process created it meanwhile
        db.execute("ROLLBACK")
        return
    db.execute("DROP TABLE IF EXISTS files")  # schema 1: a row per file
    db.execute("DROP TABLE IF EXISTS directories")
    db.execute(
        "CREATE TABLE directories (directory TEXT PRIMARY KEY, entries BLOB NOT NULL) WITHOUT ROWID"
    )
    db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    db.execute("COMMIT")


def _schema_version(db: sqlite3.Connection) -> int:
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    return version


def _encodable(path: str) -> bool:
    """Paths with undecodable bytes (surrogate escapes) cannot be SQLite text: not cached."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True
