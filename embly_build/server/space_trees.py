"""What each build space held when this process last synced it, so the next build of that
space reads, checks and writes only what changed (see protocol/tree_diff.py).

A record is trusted only while the space's manifest is the very file that sync wrote (the
same inode, size and mtime): another process's sync, an interrupted one, or `embly gc`
removing the space each replace or remove it, and the space is then compared file by file.
Records are kept for the spaces used last, up to a total number of files.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from embly_build.protocol.tree_diff import DecodedTree

ManifestToken = tuple[int, int, int]  # st_ino, st_size, st_mtime_ns
# Files of the trees kept in memory, over all spaces (about 300 bytes each).
MAX_REMEMBERED_FILES = 400_000


@dataclass(frozen=True, slots=True)
class SpaceTree:
    tree: DecodedTree  # the tree the space holds
    manifest: ManifestToken  # the manifest written when it was synced
    checked_at: float  # time.monotonic() when every blob of a tree was last found in the store


class SpaceTrees:
    def __init__(self, max_files: int = MAX_REMEMBERED_FILES) -> None:
        self._max_files = max_files
        self._records: OrderedDict[Path, SpaceTree] = OrderedDict()
        self._files = 0

    def get(self, space: Path) -> SpaceTree | None:
        record = self._records.get(space)
        if record is not None:
            self._records.move_to_end(space)
        return record

    def put(self, space: Path, record: SpaceTree) -> None:
        self.forget(space)
        self._records[space] = record
        self._files += len(record.tree.files)
        while self._files > self._max_files and len(self._records) > 1:
            _, oldest = self._records.popitem(last=False)
            self._files -= len(oldest.tree.files)

    def forget(self, space: Path) -> None:
        record = self._records.pop(space, None)
        if record is not None:
            self._files -= len(record.tree.files)
