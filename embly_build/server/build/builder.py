"""One build, from a validated request to a stream of events.

The pipeline runs as a task owned by the event stream (`tasks.events_of`): when the stream
is closed (the client went away, or a newer request replaced it) the task is cancelled and
the executor kills the processes it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from embly_build.errors import BuildFailed, StoreError
from embly_build.file_locks import wait_for_lock
from embly_build.protocol import enums, pb
from embly_build.server.build.build_events import (
    Clock,
    Emit,
    emit_finished,
    failed,
    log,
    log_sink,
)
from embly_build.server.build.build_inputs import BuildInputs, check_inputs_present, input_files
from embly_build.server.build.build_space import SPACE_LOCK, BuildSpace, SyncResult
from embly_build.server.build.low_disk import low_disk_hint
from embly_build.server.build.postprocess import (
    postprocess,
    postprocess_description,
    postprocess_signature,
)
from embly_build.server.build.scheduler import SharedActions, Supersession
from embly_build.server.build.slots import Priority, Slot, Slots
from embly_build.server.build.space_trees import MAX_REMEMBERED_FILES, SpaceTree
from embly_build.server.caller_namespaces import caller_namespace, space_owner
from embly_build.server.cas.action_cache import ActionCache
from embly_build.server.cas.action_key import ActionInputs
from embly_build.server.cas.store import ContentStore, disk_error
from embly_build.server.executors.base import Executor
from embly_build.server.gc import build_in_progress
from embly_build.server.requests import ValidBuild
from embly_build.server.runtimes.base import CompileJob, Runtime
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains.base import Toolchain, ToolchainProvider
from embly_build.size_bounded_lru import SizeBoundedLru
from embly_build.tasks import TaskOwner, events_of
from embly_build.wasm.aot import (
    NATIVE_OPT_LEVELS,
    aot_refusal,
    compile_cwasm,
    compiler_ready,
    prepare_compiler,
    wasmtime_version,
)

_LOCK_POLL_SECONDS = 0.05
# Seconds from a build's end to the start of what the next build needs (nix-shells): its
# client fetches and writes the artifacts meanwhile, undisturbed. A save within it builds
# at once, starting its shells then.
NEXT_BUILD_PREPARE_DELAY = 0.05


class Builder:
    def __init__(
        self,
        settings: ServerSettings,
        store: ContentStore,
        cache: ActionCache,
        toolchains: ToolchainProvider,
        executor: Executor,
        runtimes: Mapping[str, Runtime],
    ) -> None:
        self._settings = settings
        self._store = store
        self._cache = cache
        self._toolchains = toolchains
        self._executor = executor
        self._runtimes = runtimes
        self._slots = Slots(settings.jobs)
        self._shared: SharedActions[tuple[pb.Finished, bool]] = SharedActions()
        self._supersession = Supersession()
        # By space root, sized by files.
        self._space_trees: SizeBoundedLru[Path, SpaceTree] = SizeBoundedLru(MAX_REMEMBERED_FILES)
        # Work a build starts and does not wait for (readying the AOT compiler).
        self._background = TaskOwner()

    def build(self, job: ValidBuild) -> AsyncGenerator[pb.BuildEvent, None]:
        return events_of(functools.partial(self._run, job))

    async def close(self) -> None:
        """Stop the work builds left running in the background."""
        await self._background.close()

    async def _run(self, job: ValidBuild, emit: Emit) -> None:
        clock = Clock()
        emit(pb.BuildEvent(queued=pb.Queued()))
        async with build_in_progress(
            self._settings.home,
            lambda: emit(log("server", "waiting for `embly gc` to finish", "queue")),
        ):
            toolchain = await self._toolchains.provision(
                job.runtime.name, on_log=lambda text: emit(log("server", text, "toolchain"))
            )
            clock.lap("toolchain_ms")
            refusal = self._aot_refusal(job)
            key = self._action_inputs(job, job.options, toolchain, refusal).key()
            quick_key = None
            if job.options.quick_first and job.options.opt_level:
                quick_options = _without_wasm_opt(job.options)
                quick_key = self._action_inputs(
                    job, quick_options, toolchain, refusal, quick=True
                ).key()
            slot = (job.caller, job.project_id, job.function.name)
            claim = self._supersession.claim(slot, key)
            try:
                attempt = _Attempt(job, toolchain, refusal, key, quick_key, emit, clock)
                finished, cache_hit = await self._result(attempt)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not claim.superseded or current is None:
                    raise
                current.uncancel()
                finished = pb.Finished(
                    status=enums.CANCELLED,
                    action_digest=key,
                    error="cancelled: a newer build of this function started",
                )
                cache_hit = False
            finally:
                self._supersession.release(slot, claim)
            emit_finished(emit, finished, clock, cache_hit=cache_hit)

    async def _result(self, attempt: _Attempt) -> tuple[pb.Finished, bool]:
        """The action's result: from the cache, from an identical running build, or built."""
        key, emit = attempt.key, attempt.emit
        cached = self._cache.get(key)
        if cached is not None:
            return cached, True
        # Only a build reads the tree and needs its files: under the gc lock, so they stay.
        job = attempt.job
        known = self._space_trees.get(self._space(job).root)
        inputs = await asyncio.to_thread(
            input_files, self._store, job.tree, job.function.path, known
        )

        async def build_it() -> tuple[pb.Finished, bool]:
            async with self._slots.take(Priority.BUILD) as slot:
                attempt.clock.lap("queued_ms")
                emit(pb.BuildEvent(started=pb.Started(toolchain=attempt.toolchain.identity)))
                return await self._execute(attempt, inputs, slot)

        def on_join() -> None:
            emit(log("server", "an identical build is running; waiting for its result", "queue"))

        (finished, found_after_lock), joined = await self._shared.run_once(key, build_it, on_join)
        return finished, joined or found_after_lock

    def _space(self, job: ValidBuild) -> BuildSpace:
        return BuildSpace(self._settings.spaces_dir / space_owner(job) / job.function.name)

    async def _execute(
        self, attempt: _Attempt, inputs: BuildInputs, slot: Slot
    ) -> tuple[pb.Finished, bool]:
        """Build in the function's space; (result, whether the cache had it after all)."""
        job, key, emit = attempt.job, attempt.key, attempt.emit
        space = self._space(job)
        async with _exclusive(space, lambda: emit(_waiting_log())):
            # Another process sharing EMBLY_HOME may have built it while we waited.
            cached = self._cache.get(key)
            if cached is not None:
                return cached, True
            try:
                finished = await self._compile_and_process(space, attempt, inputs, slot)
            except BuildFailed as failure:
                hint = low_disk_hint(self._settings.spaces_dir)
                error = f"{failure}\n{hint}" if hint else str(failure)
                return failed(key, error), False
            except StoreError as failure:  # a full disk while syncing or storing artifacts
                return failed(key, str(failure)), False
            except OSError as failure:  # the space's own files: a full disk, most likely
                written = failure.filename2 or failure.filename  # a copy's: its target
                where = Path(written).parent if written else space.root
                return failed(key, str(disk_error(failure, where))), False
            # Before the space is released: a process waiting for it then finds the result.
            self._cache.put(key, finished)
        return finished, False

    async def _compile_and_process(
        self, space: BuildSpace, attempt: _Attempt, inputs: BuildInputs, slot: Slot
    ) -> pb.Finished:
        job, toolchain, emit, clock = attempt.job, attempt.toolchain, attempt.emit, attempt.clock
        self._space_trees.pop(space.root)  # until it holds what this sync writes
        synced, checked_at = await asyncio.to_thread(self._sync, space, inputs)
        token = space.manifest_token()
        if inputs.tree is not None and token is not None:
            record = SpaceTree(inputs.tree, token, checked_at)
            self._space_trees.put(space.root, record, len(inputs.tree.files))
        emit(
            log(
                "server",
                f"build space: {synced.written} written, "
                f"{synced.removed} removed, {synced.unchanged} unchanged",
                "sync",
            )
        )
        clock.lap("sync_ms")
        if job.options.aot and attempt.refusal is None and not compiler_ready():
            # Not waited for: a failure shows where its result is needed (the AOT step does
            # the same work again and reports it).
            quick = attempt.quick_key is not None
            self._background.start(asyncio.to_thread(prepare_compiler, quick))
        on_log = log_sink(emit, "compile")
        compiled = await job.runtime.compile(
            CompileJob(
                toolchain=toolchain,
                executor=self._executor,
                source_dir=space.src,
                crate_dir=job.function.path,
                target_dir=space.root / f"target-{toolchain.identity[:16]}",
                cargo_home=self._settings.cargo_homes_dir / toolchain.identity[:16],
                on_log=on_log,
            )
        )
        clock.lap("compile_ms")
        options = job.options
        if (quick_key := attempt.quick_key) is not None:
            compiled = await self._quick_result(compiled, space.root / "quick", quick_key, attempt)
            options = pb.BuildOptions(opt_level=options.opt_level)  # stripped already
            await slot.requeue(Priority.OPTIMISE)  # other builds' first artifacts go first
        module = await self._postprocess(compiled, space.root / "out", options, attempt)
        artifacts = await self._artifacts(module.read_bytes(), attempt)
        # For the next build (the next save, in a watch), once this one's artifacts are fetched.
        steps = 3 if attempt.quick_key is not None else 2  # compile, strip (quick), wasm-opt
        self._executor.prepare(toolchain, after=NEXT_BUILD_PREPARE_DELAY, steps=steps)
        return self._succeeded(attempt.key, artifacts, attempt)

    def _sync(self, space: BuildSpace, inputs: BuildInputs) -> tuple[SyncResult, float]:
        """Sync the space, applying only the tree's change when the space holds its base as
        this process left it; and when every blob of the tree was last found in the store."""
        synced = None
        if inputs.base is not None and inputs.change is not None:
            synced = space.sync_change(inputs.base, inputs.change, inputs.files, self._store)
        checked_at = inputs.checked_at
        if synced is None:
            if not inputs.all_found:  # only the change's blobs were looked for
                check_inputs_present(self._store, inputs.files)
                checked_at = time.monotonic()
            synced = space.sync(inputs.files, self._store)
        return synced, checked_at

    async def _quick_result(
        self, compiled: Path, work_dir: Path, quick_key: str, attempt: _Attempt
    ) -> Path:
        """Strip the module and make a quick .cwasm of it, cache that (`quick_key`) and send
        it as the quick result; return the stripped module."""
        stripped = await self._postprocess(
            compiled, work_dir, _without_wasm_opt(attempt.job.options), attempt
        )
        artifacts = await self._artifacts(stripped.read_bytes(), attempt, quick=True)
        quick = self._succeeded(quick_key, artifacts, attempt)
        self._cache.put(quick_key, quick)
        quick.timings = dataclasses.replace(
            attempt.clock.timings, total_ms=attempt.clock.total_ms()
        )
        attempt.emit(pb.BuildEvent(quick=quick))
        return stripped

    async def _postprocess(
        self, compiled: Path, work_dir: Path, options: pb.BuildOptions, attempt: _Attempt
    ) -> Path:
        emit = attempt.emit
        if steps := postprocess_description(options):
            emit(log("server", f"post-processing: {steps}", "postprocess"))
        module = await postprocess(
            compiled,
            work_dir,
            options,
            toolchain=attempt.toolchain,
            executor=self._executor,
            on_log=log_sink(emit, "postprocess"),
        )
        attempt.clock.lap("postprocess_ms")
        return module

    async def _artifacts(
        self, wasm: bytes, attempt: _Attempt, *, quick: bool = False
    ) -> list[pb.Artifact]:
        """Store the module, and its .cwasm when one is asked for and can be made here
        (a `quick` one for a quick result)."""
        job = attempt.job
        artifacts = [
            pb.Artifact(
                kind="wasm",
                digest=self._store.put_bytes(wasm),
                target=attempt.toolchain.wasm_target,
            )
        ]
        if job.options.aot and attempt.refusal is None:
            attempt.emit(log("server", f"AOT-compiling for {job.target}", "aot"))
            cwasm = await asyncio.to_thread(compile_cwasm, wasm, job.target, quick=quick)
            artifacts.append(
                pb.Artifact(kind="cwasm", digest=self._store.put_bytes(cwasm), target=job.target)
            )
        attempt.clock.lap("aot_ms")
        return artifacts

    def _succeeded(self, key: str, artifacts: list[pb.Artifact], attempt: _Attempt) -> pb.Finished:
        return pb.Finished(
            status=enums.SUCCEEDED,
            action_digest=key,
            artifacts=artifacts,
            aot_skipped_reason=(attempt.refusal or "") if attempt.job.options.aot else "",
        )

    def _aot_refusal(self, job: ValidBuild) -> str | None:
        if not job.options.aot:
            return None
        return aot_refusal(job.target, job.options.wasmtime_version)

    def _action_inputs(
        self,
        job: ValidBuild,
        options: pb.BuildOptions,
        toolchain: Toolchain,
        refusal: str | None,
        *,
        quick: bool = False,
    ) -> ActionInputs:
        produces_cwasm = job.options.aot and refusal is None
        return ActionInputs(
            toolchain_identity=toolchain.identity,
            input_tree_digest=job.tree.sha256,
            runtime=job.runtime.name,
            crate_dir=job.function.path,
            command=job.runtime.command(toolchain),
            wasm_target=toolchain.wasm_target,
            postprocess=postprocess_signature(options),
            aot_target=job.target if produces_cwasm else "",
            wasmtime_version=wasmtime_version() if produces_cwasm else "",
            native_opt_level=NATIVE_OPT_LEVELS[quick] if produces_cwasm else "",
            caller_namespace=caller_namespace(job.caller),
        )


@dataclass(frozen=True)
class _Attempt:
    """One build request's way through the pipeline, once its action key is known."""

    job: ValidBuild
    toolchain: Toolchain
    refusal: str | None  # why no .cwasm can be made here, when one is asked for
    key: str
    quick_key: str | None  # the quick action (see quick_first), when one is asked for
    emit: Emit
    clock: Clock


@contextlib.asynccontextmanager
async def _exclusive(space: BuildSpace, on_wait: Callable[[], None]) -> AsyncIterator[None]:
    """Hold the space's lock (shared with other processes using the same EMBLY_HOME)."""
    space.root.mkdir(parents=True, exist_ok=True)
    with open(space.root / SPACE_LOCK, "w") as handle:
        await wait_for_lock(handle, fcntl.LOCK_EX, on_wait, _LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _without_wasm_opt(options: pb.BuildOptions) -> pb.BuildOptions:
    return dataclasses.replace(options, opt_level="", quick_first=False)


def _waiting_log() -> pb.BuildEvent:
    return log("server", "waiting for another build of this function to finish", "sync")
