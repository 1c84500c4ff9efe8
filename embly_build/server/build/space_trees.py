"""What each build space held when this process last synced it, so the next build of that
space reads, checks and writes only what changed (see protocol/tree_diff.py).

A record is trusted only while the space's manifest is the very file that sync wrote (the
same inode, size and mtime): another process's sync, an interrupted one, or `embly gc`
removing the space each replace or remove it, and the space is then compared file by file.
Records are kept for the spaces used last, up to `MAX_REMEMBERED_FILES` in all (see
`SizeBoundedLru`).
"""

from __future__ import annotations

from dataclasses import dataclass

from embly_build.protocol.tree_diff import DecodedTree

ManifestToken = tuple[int, int, int]  # st_ino, st_size, st_mtime_ns
# Files of the trees kept in memory, over all spaces (about 300 bytes each).
MAX_REMEMBERED_FILES = 400_000


@dataclass(frozen=True, slots=True)
class SpaceTree:
    tree: DecodedTree  # the tree the space holds
    manifest: ManifestToken  # the manifest written when it was synced
    checked_at: float  # time.monotonic() when every blob of a tree was last found in the store
