"""The action cache: action key -> the artifacts a finished build produced.

An entry is a serialised `Finished` message (status, artifacts) stored under the key. An
entry whose blobs are no longer in the store is a miss, never a broken artifact.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from embly_build.protocol import pb
from embly_build.server.store import ContentStore, disk_error


class ActionCache:
    def __init__(self, root: Path, store: ContentStore) -> None:
        self.root = root
        self._store = store
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> pb.Finished | None:
        try:
            entry = pb.Finished().parse(self._path(key).read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        if not all(self._store.has(artifact.digest) for artifact in entry.artifacts):
            return None
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
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(bytes(record))
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
                raise
        except OSError as exc:
            raise disk_error(exc, self.root) from exc

    def entry_count(self) -> int:
        return sum(1 for _ in self.root.glob("*/*"))
