"""The action cache: action key -> the artifacts a finished build produced.

An entry is a serialised `Finished` message (status, artifacts) stored under the key. An
entry whose blobs are no longer in the store, or no longer match their digests (each is
hashed on a hit: artifacts are small), is a miss, never a broken artifact: the build runs
again and stores good bytes. A hit marks the entry and its blobs used (their mtimes, which
`embly gc` evicts by).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from embly_build.atomic_write import write_atomically
from embly_build.protocol import pb
from embly_build.server.cas.store import (
    ContentStore,
    StoredFile,
    disk_error,
    mark_used,
    stored_files,
)

TEMP_PREFIX = ".tmp-"


class ActionCache:
    def __init__(self, root: Path, store: ContentStore) -> None:
        self.root = root
        self._store = store
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> pb.Finished | None:
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                entry = pb.Finished().parse(handle.read())
        except (FileNotFoundError, ValueError):
            return None
        # Each one checked: every corrupt one is removed, so the next build stores it again.
        if not all([self._store.touch_checked(artifact.digest) for artifact in entry.artifacts]):
            return None
        mark_used(path, stat)
        return entry

    def put(self, key: str, finished: pb.Finished) -> None:
        path = self._path(key)
        record = pb.Finished(
            status=finished.status,
            action_digest=key,
            artifacts=list(finished.artifacts),
            aot_skipped_reason=finished.aot_skipped_reason,
        )
        try:
            path.parent.mkdir(exist_ok=True)
            write_atomically(path, bytes(record), temp_prefix=TEMP_PREFIX)
        except OSError as exc:
            raise disk_error(exc, self.root) from exc

    def _entry_paths(self) -> Iterator[Path]:
        return (path for path in self.root.glob("*/*") if not path.name.startswith(TEMP_PREFIX))

    def entry_files(self) -> Iterator[StoredFile]:
        return stored_files(self._entry_paths())

    def temp_files(self) -> Iterator[StoredFile]:
        """Entries being written (or left behind by a crash while being written)."""
        return stored_files(self.root.glob(f"*/{TEMP_PREFIX}*"))

    def entry_count(self) -> int:
        return sum(1 for _ in self._entry_paths())
