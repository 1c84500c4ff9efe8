"""The files that differ between two indexes of a function, found at the cost of what changed.

An index given the one before (`embly watch`'s, see `index._Walker.earlier`) gives every
directory it did not list again, or listed and found as it was, as the very same
`WalkedDirectory`: only the directories that are not the same object are compared file by
file. Indexes that do not both keep what they walked, or that have single input files (kept
outside any walked directory), are compared whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.inputs.walk import IndexedFile


@dataclass(frozen=True)
class IndexDelta:
    removed: tuple[IndexedFile, ...]  # gone, or changed in content or mode: as they were
    added: tuple[IndexedFile, ...]  # new, or changed in content or mode: as they are

    @property
    def locations(self) -> set[str]:
        """Where the files added, removed or changed are."""
        return {file.location for file in (*self.removed, *self.added)}


def index_delta(old: FunctionInputs | None, new: FunctionInputs) -> IndexDelta:
    if old is None:
        return IndexDelta((), new.files)
    if not old.walked or not new.walked or old.input_files or new.input_files:
        return _compared(old.files, new.files)
    removed: list[IndexedFile] = []
    added: list[IndexedFile] = []
    for directory, before in old.walked.items():
        after = new.walked.get(directory)
        if after is before:
            continue
        change = _compared(before.files, after.files if after is not None else ())
        removed += change.removed
        added += change.added
    for directory, after in new.walked.items():
        if directory not in old.walked:
            added += after.files
    return IndexDelta(tuple(removed), tuple(added))


def _compared(old: Iterable[IndexedFile], new: Iterable[IndexedFile]) -> IndexDelta:
    before = {file.location: file for file in old}
    after = {file.location: file for file in new}
    return IndexDelta(
        removed=tuple(file for location, file in before.items() if after.get(location) != file),
        added=tuple(file for location, file in after.items() if before.get(location) != file),
    )
