"""A function's index after file events: only the directories the events name are listed again.

A file-system monitor (`embly watch`) reports each change as a path in a watched directory.
When every change since the last index is among those paths, the other directories are as
that index found them, so their files are taken again without a listing, a `stat` or a read:
a re-index costs what changed, not the size of the tree. The caller vouches for "every
change": the watches were in place since that index (see `Watcher`).

Changes that can move the boundary of the inputs are not taken piecemeal: a `.gitignore`, a
crate's `Cargo.toml` (its path dependencies), `.git`, a single input file or an input
directory itself. After one of those, the function is indexed in full.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

from embly_build.client.inputs.cancellation import Cancellation
from embly_build.client.inputs.index import FunctionInputs, index_function, reindex_function
from embly_build.client.inputs.stat_cache import StatCache, default_stat_cache_path
from embly_build.client.inputs.walk import IndexCounters

STRUCTURAL_NAMES = frozenset({".gitignore", "Cargo.toml", ".git"})


def index_after_events(
    previous: FunctionInputs,
    changed: Collection[Path],
    crate_dir: Path,
    sources: Sequence[Path],
    output_dir: Path,
    *,
    stat_cache: StatCache | None = None,
    counters: IndexCounters | None = None,
    cancellation: Cancellation | None = None,
) -> FunctionInputs:
    """The index of a function whose inputs were `previous` before the changes at the
    (absolute) paths `changed`; a full index when the changes call for one."""
    plan = _relisted(previous, changed)
    if plan is None:
        return index_function(
            crate_dir,
            sources,
            output_dir,
            stat_cache=stat_cache,
            counters=counters,
            previous=previous,
            cancellation=cancellation,
        )
    rescan, rewalk = plan
    return reindex_function(
        previous,
        rescan,
        rewalk,
        output_dir,
        stat_cache=stat_cache,
        counters=counters,
        cancellation=cancellation,
    )


def reindexes_in_part(previous: FunctionInputs, changed: Collection[Path]) -> bool:
    """Whether `index_after_events` lists only what the changes name, leaving the
    boundary of the inputs and their ignore rules as `previous` found them."""
    return _relisted(previous, changed) is not None


def index_after_events_with_stat_cache(
    previous: FunctionInputs,
    changed: Collection[Path],
    crate_dir: Path,
    sources: Sequence[Path],
    output_dir: Path,
    counters: IndexCounters | None = None,
    cancellation: Cancellation | None = None,
) -> FunctionInputs:
    """`index_after_events` backed by the persistent stat cache under EMBLY_HOME."""
    with StatCache(default_stat_cache_path()) as cache:
        return index_after_events(
            previous,
            changed,
            crate_dir,
            sources,
            output_dir,
            stat_cache=cache,
            counters=counters,
            cancellation=cancellation,
        )


def _relisted(
    previous: FunctionInputs, changed: Collection[Path]
) -> tuple[set[str], set[str]] | None:
    """The directories to list again alone, and those to walk again with everything below
    them; None when only a full index is right."""
    if not previous.walked:
        return None  # not from an index that kept what it walked
    boundary = {str(path) for path in (*previous.input_dirs, *previous.input_files)}
    rescan: set[str] = set()
    rewalk: set[str] = set()
    for path in changed:
        location = str(path)
        if path.name in STRUCTURAL_NAMES or location in boundary:
            return None
        if location in previous.walked:  # removed, replaced or moved: its contents are new
            rewalk.add(location)
        rescan.add(os.path.dirname(location))
    return rescan, rewalk
