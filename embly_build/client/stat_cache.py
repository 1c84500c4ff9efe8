"""Which sha256 a file had when it last had a given stat, kept across processes.

An index asks the cache before reading a file: when the file's (size, mtime_ns, ctime_ns,
inode) equal the recorded ones, the recorded sha256 is taken and the file is not read.

One index is one round: `snapshot(root)` loads every row below `root` in one query, lookups are
answered from memory, and `commit()` writes the new and changed rows in one transaction.
The database is SQLite in WAL mode, so several processes can share it. It is only an
optimisation: a corrupt or unreadable file is moved aside and recreated, and a database that
stays locked or cannot be written is skipped, never an error.

Racy files: a file whose mtime is within `RACY_WINDOW_NS` of the moment it was hashed could
be written again within the same timestamp tick without its stat changing, so its row is
marked racy and never answers a lookup: it is hashed again next time.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from embly_build.home import embly_home

RACY_WINDOW_NS = 2_000_000_000  # filesystem timestamps can be as coarse as 2 s (FAT)

_SCHEMA_VERSION = 1
_INODE_SIGN = 1 << 63
_T = TypeVar("_T")
# A row as stored and as kept in memory: path, size, mtime_ns, ctime_ns, inode (signed: SQLite
# integers are signed 64-bit), sha256, racy (0 or 1).
_Row = tuple[str, int, int, int, int, str, int]


def default_stat_cache_path() -> Path:
    """The cache every client process on this machine shares."""
    return embly_home() / "client" / "stat-cache.sqlite3"


class StatCache:
    """A stat cache in one SQLite file; use as a context manager or call `close()`.

    Not for concurrent use from several threads; share the file between processes instead.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        """`busy_timeout`: seconds to wait for another process's write before doing without."""
        self.path = path
        self._busy_timeout = busy_timeout
        self._db = _open_or_recreate(path, busy_timeout)
        self._known: dict[str, _Row] = {}
        self._seen: set[str] = set()
        self._pending: dict[str, _Row] = {}
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
    def indexing(self, prefix: Path | str) -> Iterator[StatCache]:
        """One round: `snapshot(prefix)` now, `commit()` at the end, also after an error
        (what was hashed before it is still right). Rounds do not nest."""
        self.snapshot(prefix)
        try:
            yield self
        finally:
            self.commit()

    def snapshot(self, prefix: Path | str) -> None:
        """Start a round: load every row for a path below `prefix` (absolute) into memory."""
        self._started_ns = time.time_ns()
        self._seen = set()
        self._pending = {}
        low, high = _prefix_range(str(prefix))
        rows: list[_Row] = []
        if _encodable(low):
            rows = self._guarded(lambda db: _select(db, low, high), rows)
        self._known = {row[0]: row for row in rows}

    def lookup(self, path: str, info: os.stat_result) -> str | None:
        """The recorded sha256 of `path` when its stat is still `info`, else None."""
        self._seen.add(path)
        row = self._known.get(path)
        if row is None or row[6] or row[1:5] != _stat_key(info):
            return None
        return row[5]

    def record(self, path: str, info: os.stat_result, sha256: str) -> None:
        """`path` had content `sha256` while its stat was `info`, stat taken before reading."""
        self._seen.add(path)
        racy = info.st_mtime_ns >= self._started_ns - RACY_WINDOW_NS
        row = (path, *_stat_key(info), sha256, int(racy))
        if self._known.get(path) != row:
            self._pending[path] = row

    def commit(self) -> None:
        """End the round: write new and changed rows and drop rows of files that are gone."""
        gone = self._gone()
        if self._pending or gone:
            self._guarded(lambda db: _write(db, self._pending, gone), None)
        self._known.update(self._pending)
        for path in gone:
            del self._known[path]
        self._pending = {}
        self._seen = set()

    def _gone(self) -> list[str]:
        """Rows not seen this round whose file no longer exists. Files are checked one by one
        only in directories this round listed; rows elsewhere (another function's tree below
        the same prefix) go when their directory does."""
        unseen = self._known.keys() - self._seen
        if not unseen:
            return []
        listed = {os.path.dirname(p) for p in self._seen}
        by_dir: dict[str, list[str]] = {}
        for path in unseen:
            by_dir.setdefault(os.path.dirname(path), []).append(path)
        gone: list[str] = []
        for directory, paths in by_dir.items():
            if directory in listed:
                gone.extend(p for p in paths if not os.path.lexists(p))
            elif not os.path.isdir(directory):
                gone.extend(paths)
        return gone

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


def _select(db: sqlite3.Connection, low: str, high: str) -> list[_Row]:
    rows: list[_Row] = db.execute(
        "SELECT path, size, mtime_ns, ctime_ns, inode, sha256, racy FROM files"
        " WHERE path >= ? AND path < ?",
        (low, high),
    ).fetchall()
    return rows


def _write(db: sqlite3.Connection, rows: dict[str, _Row], gone: list[str]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        db.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row for path, row in rows.items() if _encodable(path)],
        )
        db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone if _encodable(p)])
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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
    db.execute("DROP TABLE IF EXISTS files")
    db.execute(
        "CREATE TABLE files ("
        " path TEXT PRIMARY KEY,"
        " size INTEGER NOT NULL,"
        " mtime_ns INTEGER NOT NULL,"
        " ctime_ns INTEGER NOT NULL,"
        " inode INTEGER NOT NULL,"
        " sha256 TEXT NOT NULL,"
        " racy INTEGER NOT NULL"
        ") WITHOUT ROWID"
    )
    db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    db.execute("COMMIT")


def _schema_version(db: sqlite3.Connection) -> int:
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    return version


def _prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds of the paths strictly below `prefix`: '/' < '0' in byte order."""
    base = prefix.rstrip("/")
    return base + "/", base + "0"


def _stat_key(info: os.stat_result) -> tuple[int, int, int, int]:
    inode = info.st_ino
    if inode >= _INODE_SIGN:
        inode -= _INODE_SIGN << 1
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, inode


def _encodable(path: str) -> bool:
    """Paths with undecodable bytes (surrogate escapes) cannot be SQLite text: not cached."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True
