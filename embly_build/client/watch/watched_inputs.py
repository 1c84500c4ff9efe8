"""What a watch knows of each function's inputs: the last index, which functions could not
be read, and the source graph over them; and indexing them again, in a thread that stops
when the watch does."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path

from embly_build.client.config.project import FunctionConfig, ProjectConfig
from embly_build.client.inputs.cancellation import Cancellation
from embly_build.client.inputs.index import FunctionInputs, index_with_stat_cache
from embly_build.client.inputs.index_delta import index_delta
from embly_build.client.inputs.index_thread import index_in_thread, run_index
from embly_build.client.inputs.reindex import index_after_events_with_stat_cache, reindexes_in_part
from embly_build.client.inputs.source_graph import SourceGraph
from embly_build.client.inputs.walk import IndexCounters
from embly_build.client.progress import IndexProgressReports
from embly_build.client.session.events import BuildFinished
from embly_build.client.watch.events import AnyEvent
from embly_build.client.watch.listable_directories import listable_directories
from embly_build.errors import InputError


class WatchedInputs:
    def __init__(
        self, emit: Callable[[AnyEvent], None], index_progress: IndexProgressReports
    ) -> None:
        self.inputs: dict[str, FunctionInputs] = {}
        # Functions whose inputs could not be read at their last index (reported failed).
        self.unreadable: set[str] = set()
        self._graph: SourceGraph | None = None
        self._emit = emit
        self._index_progress = index_progress  # when a long index reports how far it is

    def graph(self, output_dir: Path) -> SourceGraph:
        """Which functions each path is an input of; built again when asked for after a
        change it could not take in place."""
        if self._graph is None:
            self._graph = SourceGraph(self.inputs, output_dir)
        return self._graph

    def forget_graph(self) -> None:
        """Functions, their directories or the output may differ: the graph is built again."""
        self._graph = None

    def forget(self, name: str) -> None:
        """`name` is no longer watched."""
        self.inputs.pop(name, None)
        self.unreadable.discard(name)

    async def index(
        self,
        config: ProjectConfig,
        names: list[str],
        events: Collection[Path] = (),
        in_full: Collection[str] = (),
    ) -> tuple[list[str], dict[str, BuildFinished]]:
        """Re-index `names`; return those that could be indexed, and the failures of the
        others, to be reported. With `events` (a batch's paths, while OS watches are in place
        since the last index) only what they name is listed again, except for those `in_full`;
        without, everything."""
        indexed = []
        failures: dict[str, BuildFinished] = {}
        for name in names:
            function = config.functions[name]
            previous = self.inputs.get(name)
            # After a failed index, changes since `previous` are not all in `events`.
            from_events = name not in self.unreadable and name not in in_full
            changed = events if previous is not None and from_events else ()
            try:
                self.inputs[name] = new = await self._index(
                    function, config.output_dir, previous, changed
                )
            except InputError as error:
                self._graph = None
                failures[name] = BuildFinished(name, "failed", False, error=str(error))
                self.unreadable.add(name)
                self.inputs[name] = await self._stand_in(function, config.output_dir)
                continue
            self.unreadable.discard(name)
            indexed.append(name)
            # In part, the boundary and the ignore rules stay: the graph takes what changed.
            graph = self._graph
            if not (
                changed
                and previous is not None
                and reindexes_in_part(previous, changed)
                and graph is not None
                and graph.replace(name, previous, new, index_delta(previous, new))
            ):
                self._graph = None  # built again when next asked for
        return indexed, failures

    async def _index(
        self,
        function: FunctionConfig,
        output_dir: Path,
        previous: FunctionInputs | None,
        changed: Collection[Path],
    ) -> FunctionInputs:
        """Index `function` anew, or from `previous` and the paths `changed` since when
        there are any; a large tree's index reports its progress."""
        counters = IndexCounters()

        def index(cancellation: Cancellation) -> FunctionInputs:
            crate, sources = function.path, function.sources
            if previous is not None and changed:
                return index_after_events_with_stat_cache(
                    previous, changed, crate, sources, output_dir, counters, cancellation
                )
            return index_with_stat_cache(
                crate, sources, output_dir, counters, previous, cancellation
            )

        async with index_in_thread(index) as indexing:
            async for so_far in self._index_progress(indexing, counters):
                self._emit(so_far)  # a large tree's first index
        return indexing.result()

    async def _stand_in(self, function: FunctionConfig, output_dir: Path) -> FunctionInputs:
        """What to watch of a function that cannot be read until it can: its last inputs
        (or, when embly.hcl moved it, its declared ones) and every directory now below them,
        since a fix shows up in one of them. Listing them walks the directories: off the
        event loop, as indexing is."""
        known = self.inputs.get(function.name)
        if known is None or function.path not in known.input_dirs:
            return await run_index(functools.partial(_declared_inputs, function, output_dir))
        return await run_index(functools.partial(_watching_more, known, output_dir))


def _declared_inputs(
    function: FunctionConfig, output_dir: Path, cancellation: Cancellation
) -> FunctionInputs:
    """Stand-in inputs of a function that could not be indexed: its declared directories,
    with every directory below them that can be listed, to be watched."""
    dirs = (function.path, *function.sources)
    watched = listable_directories(dirs, output_dir, cancellation)
    return FunctionInputs(
        root=function.path, crate_dir=".", input_dirs=dirs, files=(), directories=watched
    )


def _watching_more(
    known: FunctionInputs, output_dir: Path, cancellation: Cancellation
) -> FunctionInputs:
    """`known` (the last good index) with the directories that appeared since also
    watched: one added with the problem in it (a checkout, say) holds its fix."""
    listable = listable_directories(known.input_dirs, output_dir, cancellation)
    watched = set(known.directories)
    new = [d for d in listable if d not in watched]
    return replace(known, directories=(*known.directories, *new)) if new else known
