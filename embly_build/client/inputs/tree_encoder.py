"""Functions' input trees encoded again after an edit at the cost of what changed.

A tree's canonical encoding is one entry per file, end to end, in path order. An index
given the one before (`embly watch`'s, see `index._Walker.earlier`) gives every file it
finds unchanged as the very same `IndexedFile` object, so the entry encoded for that object
last time is still right: only the entries of new objects are encoded. Each function keeps
the entries of its last tree only, and the functions encoded least recently are forgotten
beyond `MAX_REMEMBERED_FILES` entries in all.
"""

from __future__ import annotations

from operator import attrgetter

from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.inputs.walk import IndexedFile
from embly_build.protocol.input_trees import EncodedTree, join_tree_entries, tree_entry
from embly_build.size_bounded_lru import SizeBoundedLru

# An entry by id() of its file, with the file itself: holding the file keeps its id from
# being reused by another object while the entry is kept.
_Entries = dict[int, tuple[IndexedFile, bytes]]
# Entries kept over all functions (about 250 bytes each, with their files).
MAX_REMEMBERED_FILES = 400_000


class TreeEncoder:
    def __init__(self, max_files: int = MAX_REMEMBERED_FILES) -> None:
        self._last: SizeBoundedLru[str, _Entries] = SizeBoundedLru(max_files)  # by function

    def encode(self, function_key: str, inputs: FunctionInputs) -> EncodedTree:
        """The canonical encoding of `inputs`' tree; remembered as the function's last one."""
        known = self._last.pop(function_key) or {}
        entries: _Entries = {}
        parts = []
        # Sorted already (FunctionInputs.files is), which makes this sort a check in one pass.
        for file in sorted(inputs.files, key=attrgetter("path")):
            hit = known.get(id(file))
            if hit is not None and hit[0] is file:
                entry = hit[1]
            else:
                entry = tree_entry(file.path, file.sha256, file.size, file.executable)
            entries[id(file)] = (file, entry)
            parts.append(entry)
        self._last.put(function_key, entries, len(entries))
        return join_tree_entries(parts)
