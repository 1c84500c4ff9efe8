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
import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

from embly_build.client.config.project import FunctionConfig, load_project
from embly_build.client.inputs.deciding_files import DecidingFiles, deciding_files
from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.inputs.index_delta import index_delta
from embly_build.client.inputs.source_graph import SourceGraph
from embly_build.client.inputs.walk import outermost
from embly_build.client.progress import IndexProgressReports, index_progress
from embly_build.client.session.client import Client, load
from embly_build.client.session.events import BuildFinished
from embly_build.client.watch.batches import EventsLost, WatchFailed, watch_batches
from embly_build.client.watch.events import (
    AnyEvent,
    ConfigProblem,
    ConfigReloaded,
    Notice,
    Watching,
)
from embly_build.client.watch.rounds import Rounds
from embly_build.client.watch.watch_limits import describe, limit_advice
from embly_build.client.watch.watched_inputs import WatchedInputs
from embly_build.errors import ConfigError, EmblyError, EnvironmentProblem
from embly_build.protocol.opt_levels import NO_WASM_OPT

# A batch ends when no event came in the last SETTLE_MS (with inotify exactly SETTLE_MS after
# the last event; when watchfiles polls, 10-20 ms after). An editor's save (write + rename) or
# a checkout writes its files well within it; a burst split in two only restarts the build the
# first half started, while every millisecond here is added to each save's feedback.
SETTLE_MS = 10
VERIFY_AFTER_S = 1.0


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
        self._watched = WatchedInputs(emit, index_progress)
        self._built: dict[str, FunctionInputs] = {}  # function -> inputs of its last build
        self._running: dict[str, asyncio.Task[None]] = {}
        self._rounds = Rounds(emit)
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
        self._rounds.begin((), names)
        readable, failures = await self._watched.index(self._config, names)
        for failure in failures.values():
            self._rounds.record(failure)
        self._built.update({name: self._watched.inputs[name] for name in readable})
        if readable:
            events = self._client.build_events(
                self._config, readable, self._watched.inputs, quick_first=self._quick_first
            )
            async with contextlib.aclosing(events):
                async for event in events:
                    self._rounds.record(event)
        self._rounds.end_if_idle()

    async def _watch_forever(self) -> None:
        while True:
            directories = self._watch_directories()
            try:
                await self._watch(directories)
            except WatchFailed as failure:
                advice = limit_advice(failure.error)
                if advice is None or self._poll:
                    instead = "" if self._poll else "; `embly watch --poll` polls for changes"
                    problem = f"cannot watch for changes: {describe(failure.error)}{instead}"
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
        for inputs in self._watched.inputs.values():
            directories.update(inputs.directories or inputs.input_dirs)
            directories.update(d.parent for d in inputs.input_dirs)
            directories.update(f.parent for f in inputs.input_files)
        self._deciding = deciding_files(self._watched.inputs, self._config.root.resolve())
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
        if self._config_broken or self._watched.unreadable:
            return True
        return bool(self._graph().functions_of(candidate))

    def _graph(self) -> SourceGraph:
        return self._watched.graph(self._config.output_dir)

    async def _on_changes(self, paths: set[Path]) -> bool:
        """Handle one batch; True when the watched directories must change."""
        self._stop_verifying()
        restart = False
        if self._config.config_file in paths or self._config_broken:
            restart = await self._reload_config(paths)
        decided = self._deciding.affected(paths)  # their boundary or ignore rules may differ
        restart = restart or self._deciding.watch_more(paths)
        touched = self._graph().affected(paths) | decided | self._watched.unreadable
        affected = [n for n in self._selected() if n in touched]
        before = {name: _watched_inputs(self._watched.inputs[name]) for name in affected}
        await self._rebuild_changed(affected, paths, in_full=decided)
        still = [n for n in affected if n in self._watched.inputs]
        if any(_watched_inputs(self._watched.inputs[n]) != before[n] for n in still):
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
        was_unreadable = self._watched.unreadable.intersection(names)
        readable, failures = await self._watched.index(
            self._config, names, () if self._poll else paths, in_full
        )
        for name in was_unreadable.intersection(failures):
            if not any(name in self._graph().functions_of(p) for p in paths):
                del failures[name]  # still unreadable, nothing in it changed: said already
        # Equal indexes mean equal input trees: same paths, contents and modes.
        changed = [
            n
            for n in readable
            if n in was_unreadable or self._built.get(n) != self._watched.inputs[n]
        ]
        if not changed and not failures:
            return
        triggers = set()
        for name in changed:
            if name in redeclared:  # its files are not what changed
                triggers.add(self._config.config_file)
                continue
            triggers |= set(
                map(Path, index_delta(self._built.get(name), self._watched.inputs[name]).locations)
            )
        # Unreadable, or readable again: the batch's paths in them say why.
        named_by_batch = failures.keys() | was_unreadable.intersection(changed)
        graph = self._graph()
        triggers |= {p for p in paths if graph.functions_of(p) & named_by_batch}
        for name in was_unreadable.intersection(changed):
            # Readable again, as it was, with no event to name (found on watching again).
            if not any(name in graph.functions_of(p) for p in triggers):
                triggers.add(self._config.functions[name].path)
        self._rounds.begin(tuple(self._display(p) for p in sorted(triggers)), [*changed, *failures])
        for name, failure in failures.items():
            self._cancel(name)
            self._rounds.record(failure)
        self._start_builds(changed)
        self._rounds.end_if_idle()

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
        self._watched.forget_graph()  # functions, their directories or the output may differ
        new = set(self._selected())
        for name in old - new:
            self._cancel(name)
            self._rounds.drop(name)
            self._watched.forget(name)
            self._built.pop(name, None)
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
            self._built[name] = self._watched.inputs[name]
            task = self._tasks.create_task(self._build(name, self._watched.inputs[name]))
            self._running[name] = task
            task.add_done_callback(functools.partial(self._finished_task, name))

    async def _build(self, name: str, inputs: FunctionInputs) -> None:
        events = self._client.build_events(
            self._config, [name], {name: inputs}, quick_first=self._quick_first
        )
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    self._rounds.record(event)
        except EmblyError as error:  # keep watching; the next change retries
            self._rounds.record(BuildFinished(name, "failed", False, error=str(error)))

    def _cancel(self, name: str) -> None:
        task = self._running.pop(name, None)
        if task is not None:
            task.cancel()

    def _finished_task(self, name: str, task: asyncio.Task[None]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
            self._rounds.drop(name)  # ended without a result: nothing more will come
        self._rounds.end_if_idle()

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
