"""`embly watch`: build, then rebuild exactly what each change needs, until cancelled.

One batch of file events (see `embly_build.client.watch.batches`) is one round. A round
rebuilds only the functions whose inputs changed, decided by content: files are re-indexed
and a function whose input tree digest equals its last build's starts no build (a touch or a
formatter with nothing to do). A change during a build cancels that build (its stream
is closed, so the server kills its processes) and starts a new one. Edits to embly.hcl
reload the configuration; a broken one is reported and the last good one kept.

With `quick_first` (the default) and a wasm-opt level, a function that is not cached has
its stripped artifacts written as soon as they are built, then its optimised ones: a round
ends, and reports, once every function in it has its first result.

After a batch, only the directories its events name are listed again (see
`embly_build.client.inputs.reindex`). OS events can miss a change: one written through a hard link
elsewhere, or (with watchfiles) events the kernel dropped when its queue overflowed; read
directly from inotify, an overflow restarts the watch, which compares every input, as does a
watched directory deleted or moved (a watch follows the directory, not its path). So once
the builds are done and the files have been quiet for `VERIFY_AFTER_S`, the functions are
indexed in full (by stat, as `embly build` does) and a difference is built like any change.

Every build runs as a task of one TaskGroup: cancelling `run` cancels them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from embly_build.client.config.project import FunctionConfig, load_project
from embly_build.client.inputs.deciding_files import DecidingFiles, deciding_files
from embly_build.client.inputs.index import (
    FunctionInputs,
    IndexCounters,
    index_with_stat_cache,
    outermost,
)
from embly_build.client.inputs.index_delta import index_delta
from embly_build.client.inputs.reindex import index_after_events_with_stat_cache, reindexes_in_part
from embly_build.client.inputs.source_graph import SourceGraph
from embly_build.client.progress import IndexProgressReports, index_progress
from embly_build.client.session.client import Client, load
from embly_build.client.session.events import BuildFinished
from embly_build.client.watch.batches import EventsLost, WatchFailed, watch_batches
from embly_build.client.watch.events import (
    AnyEvent,
    ConfigProblem,
    ConfigReloaded,
    Notice,
    RoundFinished,
    RoundStarted,
    Watching,
)
from embly_build.client.watch.inotify import InstanceLimitReached
from embly_build.client.watch.listable_directories import listable_directories
from embly_build.errors import ConfigError, EmblyError, EnvironmentProblem, InputError
from embly_build.protocol.opt_levels import NO_WASM_OPT

# A batch ends when no event came in the last SETTLE_MS (with inotify exactly SETTLE_MS after
# the last event; when watchfiles polls, 10-20 ms after). An editor's save (write + rename) or
# a checkout writes its files well within it; a burst split in two only restarts the build the
# first half started, while every millisecond here is added to each save's feedback.
SETTLE_MS = 10
VERIFY_AFTER_S = 1.0
WATCH_LIMIT_ADVICE = (
    "the system's limit on watched files is reached (inotify: no space left on device); "
    "falling back to polling. To raise the limit: "
    "sudo sysctl fs.inotify.max_user_watches=524288 (add it to /etc/sysctl.conf to keep it)"
)
INSTANCE_LIMIT_ADVICE = (
    "the system's limit on file watchers is reached (inotify: too many instances, or this "
    "process has too many open files); falling back to polling. To raise the limit: "
    "sudo sysctl fs.inotify.max_user_instances=1024 (add it to /etc/sysctl.conf to keep it)"
)


# Index a function: its crate directory, `sources`, output directory, progress counters.
_Indexer = Callable[[Path, Sequence[Path], Path, IndexCounters | None], FunctionInputs]


class Watcher:
    def __init__(
        self,
        client: Client,
        project_dir: Path,
        functions: Sequence[str],
        emit: Callable[[AnyEvent], None],
        *,
        poll: bool = False,
        quick_first: bool = True,
        settle_ms: int = SETTLE_MS,
        index_progress: IndexProgressReports = index_progress,
    ) -> None:
        self._client = client
        self._project_dir = project_dir
        self._requested = tuple(functions)
        self._emit = emit
        self._poll = poll
        self._quick_first = quick_first
        self._settle_ms = settle_ms
        self._index_progress = index_progress  # when a long index reports how far it is
        self._inputs: dict[str, FunctionInputs] = {}
        self._built: dict[str, FunctionInputs] = {}  # function -> inputs of its last build
        # Functions whose inputs could not be read at their last index (reported failed).
        self._unreadable: set[str] = set()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._awaiting: set[str] = set()  # functions of this round with no result yet
        self._round_results: list[BuildFinished] = []
        self._round_started = 0.0
        self._cached_graph: SourceGraph | None = None
        self._unverified: set[str] = set()  # re-indexed from events alone since a full index
        self._verifying: asyncio.Task[None] | None = None
        self._config_broken = False  # the last reload of embly.hcl failed
        # Files outside the inputs that decide what they are, by the functions they decide for.
        self._deciding = DecidingFiles({})

    async def run(self) -> None:
        """Build everything selected, then watch until cancelled. Configuration and
        environment errors before the first build finishes are raised, not watched."""
        self._config = load(self._project_dir)
        self._config.select(self._requested)  # unknown names fail here
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            await self._initial_build()
            await self._watch_forever()

    def _selected(self) -> list[str]:
        names = self._requested or tuple(self._config.functions)
        return [name for name in names if name in self._config.functions]

    async def _initial_build(self) -> None:
        """The first build runs in the foreground, so that a missing nix or toolchain stops
        `embly watch` with its fix before any watching starts."""
        names = self._selected()
        self._begin_round((), names)
        readable, failures = await self._index(names)
        for failure in failures.values():
            self._record(failure)
        self._built.update({name: self._inputs[name] for name in readable})
        if readable:
            async for event in self._client.build_events(
                self._config, readable, self._inputs, quick_first=self._quick_first
            ):
                self._record(event)
        self._end_round_if_idle()

    async def _watch_forever(self) -> None:
        while True:
            directories = self._watch_directories()
            try:
                await self._watch(directories)
            except WatchFailed as failure:
                advice = _limit_advice(failure.error)
                if advice is None or self._poll:
                    instead = "" if self._poll else "; `embly watch --poll` polls for changes"
                    problem = f"cannot watch for changes: {_describe(failure.error)}{instead}"
                    raise EnvironmentProblem(problem) from failure.error
                self._emit(Notice(advice))
                self._poll = True

    async def _watch(self, directories: list[Path]) -> None:
        """Watch until the set of directories must change. The first (possibly empty) batch
        proves the OS watches are in place: only then are the inputs compared once more, so
        no change made meanwhile is lost, and `watching` announced. Events lost (the
        kernel's queue overflowed, a watched directory deleted or moved) end it too:
        watching again compares every input."""
        ready = False
        self._stop_verifying()  # the first batch brings a full index
        batches = watch_batches(
            directories, self._relevant, settle_ms=self._settle_ms, poll=self._poll
        )
        try:
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    if not ready:
                        ready = True
                        await self._rebuild_changed(self._selected(), ())
                        level = self._client.opt_level or NO_WASM_OPT
                        roots = self._watched_roots()
                        self._emit(Watching(roots, tuple(self._selected()), self._poll, level))
                    if batch and await self._on_changes(batch):
                        return
        except EventsLost:
            return

    def _watch_directories(self) -> list[Path]:
        """Every directory whose entries matter, each watched on its own (not recursively,
        so that `target/`, `.git` and other ignored trees take no OS watch): the project's
        (for embly.hcl), each function's walked directories, the parents of its input
        roots (a root moved away and back) and the directories of its single input files.
        A directory that appears is walked by the next index, and watching restarts."""
        directories = {self._config.root.resolve()}
        for inputs in self._inputs.values():
            directories.update(inputs.directories or inputs.input_dirs)
            directories.update(d.parent for d in inputs.input_dirs)
            directories.update(f.parent for f in inputs.input_files)
        self._deciding = deciding_files(self._inputs, self._config.root.resolve())
        directories.update(self._deciding.directories())
        # One that is gone (a function's directory moved away) cannot be watched.
        return sorted(d for d in directories if d.is_dir())

    def _watched_roots(self) -> tuple[str, ...]:
        """The directories watched, as a user thinks of them: the project and each input
        directory outside it (with their subdirectories)."""
        roots = {self._config.root.resolve(), *self._graph().input_dirs()}
        return tuple(map(str, sorted(outermost(roots))))

    def _relevant(self, candidate: Path) -> bool:
        if candidate.is_relative_to(self._config.output_dir):
            return False
        if candidate == self._config.config_file or self._deciding.functions_of(candidate):
            return True
        # While embly.hcl or a function is broken, any change may be its fix (a directory
        # it names made, a path dependency's crate created): each is a reason to try again.
        if self._config_broken or self._unreadable:
            return True
        return bool(self._graph().functions_of(candidate))

    def _graph(self) -> SourceGraph:
        if self._cached_graph is None:
            self._cached_graph = SourceGraph(self._inputs, self._config.output_dir)
        return self._cached_graph

    async def _on_changes(self, paths: set[Path]) -> bool:
        """Handle one batch; True when the watched directories must change."""
        self._stop_verifying()
        restart = False
        if self._config.config_file in paths or self._config_broken:
            restart = await self._reload_config(paths)
        decided = self._deciding.affected(paths)  # their boundary or ignore rules may differ
        touched = self._graph().affected(paths) | decided | self._unreadable
        affected = [n for n in self._selected() if n in touched]
        before = {name: _watched_inputs(self._inputs[name]) for name in affected}
        await self._rebuild_changed(affected, paths, in_full=decided)
        still = [n for n in affected if n in self._inputs]
        if any(_watched_inputs(self._inputs[n]) != before[n] for n in still):
            restart = True
        elif not self._poll:
            self._unverified.update(still)
            self._verifying = self._tasks.create_task(self._verify_when_quiet())
        return restart

    def _stop_verifying(self) -> None:
        """Called before anything that indexes: a full index started before a change must
        not replace an index taken after it."""
        if self._verifying is not None:
            self._verifying.cancel()
            self._verifying = None

    async def _verify_when_quiet(self) -> None:
        """Index the functions re-indexed from events alone in full, once their builds are
        done and no batch came for `VERIFY_AFTER_S`; build what that finds changed."""
        await asyncio.sleep(VERIFY_AFTER_S)
        while self._running:
            await asyncio.sleep(VERIFY_AFTER_S)
        names = [n for n in self._selected() if n in self._unverified]
        await self._rebuild_changed(names, ())
        self._unverified.difference_update(names)
        self._graph()  # built again now, while nothing happens, not on the next save

    async def _rebuild_changed(
        self,
        names: Iterable[str],
        paths: Collection[Path],
        *,
        redeclared: Collection[str] = (),
        in_full: Collection[str] = (),
    ) -> None:
        """Re-index `names` and build those whose content differs from their last build,
        in a round triggered by `paths`, and by embly.hcl for those `redeclared` (their block
        there is new or changed); those `in_full` are indexed in full, not from `paths`. A
        function whose inputs cannot be read is reported failed in the same round; once they
        can, it is built again (if only from the cache) so that it does not stay "failed"."""
        names = list(names)
        was_unreadable = self._unreadable.intersection(names)
        readable, failures = await self._index(names, paths, in_full)
        for name in was_unreadable.intersection(failures):
            if not any(name in self._graph().functions_of(p) for p in paths):
                del failures[name]  # still unreadable, nothing in it changed: said already
        # Equal indexes mean equal input trees: same paths, contents and modes.
        changed = [
            n for n in readable if n in was_unreadable or self._built.get(n) != self._inputs[n]
        ]
        if not changed and not failures:
            return
        triggers = set()
        for name in changed:
            if name in redeclared:  # its files are not what changed
                triggers.add(self._config.config_file)
                continue
            triggers |= set(
                map(Path, index_delta(self._built.get(name), self._inputs[name]).locations)
            )
        # Unreadable, or readable again: the batch's paths in them say why.
        named_by_batch = failures.keys() | was_unreadable.intersection(changed)
        graph = self._graph()
        triggers |= {p for p in paths if graph.functions_of(p) & named_by_batch}
        for name in was_unreadable.intersection(changed):
            # Readable again, as it was, with no event to name (found on watching again).
            if not any(name in graph.functions_of(p) for p in triggers):
                triggers.add(self._config.functions[name].path)
        self._begin_round(tuple(self._display(p) for p in sorted(triggers)), [*changed, *failures])
        for name, failure in failures.items():
            self._cancel(name)
            self._record(failure)
        self._start_builds(changed)
        self._end_round_if_idle()

    async def _index(
        self, names: list[str], events: Collection[Path] = (), in_full: Collection[str] = ()
    ) -> tuple[list[str], dict[str, BuildFinished]]:
        """Re-index `names`; return those that could be indexed, and the failures of the
        others, to be reported. With `events` (a batch's paths, while OS watches are in place
        since the last index) only what they name is listed again, except for those `in_full`;
        without, everything."""
        indexed = []
        failures: dict[str, BuildFinished] = {}
        for name in names:
            function = self._config.functions[name]
            counters = IndexCounters()
            previous = self._inputs.get(name)
            index: _Indexer = functools.partial(index_with_stat_cache, previous=previous)
            # In part, the boundary and the ignore rules stay: the graph takes what changed.
            in_part = False
            # After a failed index, changes since `previous` are not all in `events`.
            if (
                events
                and previous is not None
                and not self._poll
                and name not in self._unreadable
                and name not in in_full
            ):
                index = functools.partial(index_after_events_with_stat_cache, previous, events)
                in_part = reindexes_in_part(previous, events)
            indexing = asyncio.ensure_future(
                asyncio.to_thread(
                    index, function.path, function.sources, self._config.output_dir, counters
                )
            )
            async for so_far in self._index_progress(indexing, counters):
                self._emit(so_far)  # a large tree's first index
            try:
                self._inputs[name] = new = indexing.result()
            except InputError as error:
                self._cached_graph = None
                failures[name] = BuildFinished(name, "failed", False, error=str(error))
                self._unreadable.add(name)
                # Until it can be read, its last inputs (or, when embly.hcl moved it, its
                # declared ones) and every directory now below them are watched: a fix
                # shows up in one of them.
                known = self._inputs.get(name)
                # Listing them walks the directories: off the event loop, as indexing is.
                if known is None or function.path not in known.input_dirs:
                    self._inputs[name] = await asyncio.to_thread(self._declared_inputs, function)
                else:
                    self._inputs[name] = await asyncio.to_thread(self._watching_more, known)
                continue
            self._unreadable.discard(name)
            indexed.append(name)
            graph = self._cached_graph
            if not (
                in_part
                and graph is not None
                and previous is not None
                and graph.replace(name, previous, new, index_delta(previous, new))
            ):
                self._cached_graph = None  # built again when next asked for
        return indexed, failures

    async def _reload_config(self, paths: Collection[Path]) -> bool:
        try:
            # The file found at start, not a new search: with it gone, a search would find
            # an enclosing directory's project and watch that instead.
            config = load_project(self._config.config_file)
            config.select(())  # one with no function left builds nothing: say so
        except ConfigError as error:
            if not self._config_broken or self._config.config_file in paths:
                self._emit(ConfigProblem(str(error)))  # not again for every other change
            self._config_broken = True
            return False
        self._config_broken = False
        old = set(self._selected())
        old_functions = self._config.functions
        self._config = config
        self._cached_graph = None  # functions, their directories or the output may differ
        new = set(self._selected())
        for name in old - new:
            self._cancel(name)
            self._awaiting.discard(name)
            self._inputs.pop(name, None)
            self._built.pop(name, None)
            self._unreadable.discard(name)
        self._emit(
            ConfigReloaded(
                tuple(self._selected()), tuple(sorted(new - old)), tuple(sorted(old - new))
            )
        )
        # Changed blocks (path, sources) show up as changed inputs and rebuild below.
        redeclared = [
            n for n in new if _declared(old_functions.get(n)) != _declared(config.functions[n])
        ]
        await self._rebuild_changed(self._selected(), (), redeclared=redeclared)
        return True

    def _start_builds(self, names: list[str]) -> None:
        for name in names:
            self._cancel(name)
            self._built[name] = self._inputs[name]
            task = self._tasks.create_task(self._build(name, self._inputs[name]))
            self._running[name] = task
            task.add_done_callback(functools.partial(self._finished_task, name))

    def _begin_round(self, triggers: tuple[str, ...], names: list[str]) -> None:
        """Start a round (or, while one still waits for results, add to it)."""
        if not self._awaiting:
            self._round_results = []
            self._round_started = time.monotonic()
        self._awaiting.update(names)
        self._emit(RoundStarted(triggers, tuple(names)))

    async def _build(self, name: str, inputs: FunctionInputs) -> None:
        try:
            async for event in self._client.build_events(
                self._config, [name], {name: inputs}, quick_first=self._quick_first
            ):
                self._record(event)
        except EmblyError as error:  # keep watching; the next change retries
            self._record(BuildFinished(name, "failed", False, error=str(error)))

    def _record(self, event: AnyEvent) -> None:
        """Report `event`; a function's first result in a round counts for the round (a
        quick one, whose optimised result comes later, or the only one)."""
        self._emit(event)
        if isinstance(event, BuildFinished) and event.function in self._awaiting:
            self._awaiting.discard(event.function)
            self._round_results.append(event)
            self._end_round_if_idle()

    def _cancel(self, name: str) -> None:
        task = self._running.pop(name, None)
        if task is not None:
            task.cancel()

    def _finished_task(self, name: str, task: asyncio.Task[None]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
            self._awaiting.discard(name)  # ended without a result: nothing more will come
        self._end_round_if_idle()

    def _end_round_if_idle(self) -> None:
        if self._awaiting or not self._round_results:
            return
        results, self._round_results = self._round_results, []
        self._emit(
            RoundFinished(
                ok=sum(r.ok for r in results),
                failed=sum(r.status == "failed" for r in results),
                cached=sum(r.ok and r.cache_hit for r in results),
                duration_ms=int((time.monotonic() - self._round_started) * 1000),
                cancelled=sum(r.status == "cancelled" for r in results),
            )
        )

    def _declared_inputs(self, function: FunctionConfig) -> FunctionInputs:
        """Stand-in inputs of a function that could not be indexed: its declared directories,
        with every directory below them that can be listed, to be watched."""
        dirs = (function.path, *function.sources)
        watched = listable_directories(dirs, self._config.output_dir)
        return FunctionInputs(
            root=function.path, crate_dir=".", input_dirs=dirs, files=(), directories=watched
        )

    def _watching_more(self, known: FunctionInputs) -> FunctionInputs:
        """`known` (the last good index) with the directories that appeared since also
        watched: one added with the problem in it (a checkout, say) holds its fix."""
        listable = listable_directories(known.input_dirs, self._config.output_dir)
        watched = set(known.directories)
        new = [d for d in listable if d not in watched]
        return replace(known, directories=(*known.directories, *new)) if new else known

    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self._config.root).as_posix()
        except ValueError:
            return str(path)


def _declared(function: FunctionConfig | None) -> tuple[object, ...] | None:
    """What a function's block in embly.hcl says of its build, not where the block is."""
    if function is None:
        return None
    return function.runtime, function.path, function.sources


def _watched_inputs(inputs: FunctionInputs) -> tuple[tuple[Path, ...], ...]:
    return inputs.input_dirs, inputs.input_files, inputs.directories


def _describe(error: OSError) -> str:
    if error.filename is None or error.strerror is None:
        return str(error)
    return f"{error.filename}: {error.strerror}"


def _limit_advice(error: OSError) -> str | None:
    """What to tell a user whose watches failed with `error` on a system limit, else None."""
    if isinstance(error, InstanceLimitReached):
        return INSTANCE_LIMIT_ADVICE
    if error.errno == errno.ENOSPC or "watch limit" in str(error).lower():
        return WATCH_LIMIT_ADVICE
    return None
