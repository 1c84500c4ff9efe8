"""The client: index a project's functions, upload what is missing, build, fetch artifacts.

It speaks only `BuildApi`, so the same code drives an in-process server, a local daemon
or a remote one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import inspect
import socket
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any, Generic, TypeVar

import betterproto

from embly_build.client.config.project import (
    FunctionConfig,
    ProjectConfig,
    find_config,
    load_project,
)
from embly_build.client.inputs.index import (
    FunctionInputs,
    IndexCounters,
    index_with_stat_cache,
)
from embly_build.client.inputs.tree_encoder import TreeEncoder
from embly_build.client.progress import UploadProgressReporter, index_progress
from embly_build.client.records.cwasm_trust import record_written_cwasm
from embly_build.client.records.sent_trees import SentTrees
from embly_build.client.session.artifact_names import artifact_path
from embly_build.client.session.artifacts import ArtifactWriter, fetch_blob, file_sha256
from embly_build.client.session.events import BuildFinished, BuildStarted, ClientEvent, LogLine
from embly_build.client.session.log_paths import LogPathMapper
from embly_build.client.session.server_errors import server_errors
from embly_build.client.session.upload import TreeInputs, UploadResult, upload_inputs
from embly_build.errors import BlobNotFound, UsageError
from embly_build.protocol import enums, pb
from embly_build.protocol.opt_levels import DEFAULT_OPT_LEVEL, NO_WASM_OPT, wasm_opt_level
from embly_build.transport.api import BuildApi
from embly_build.wasm.aot import (
    aot_refusal,
    check_target,
    compile_cwasm,
    host_triple,
    wasmtime_version,
)

T = TypeVar("T")
OnIndexed = Callable[[ProjectConfig, Mapping[str, FunctionInputs]], None]
# A build whose inputs or artifacts gc trims from the server is asked for once more.
_ATTEMPTS = 2
_TRIMMED = {
    "upload": "inputs missing from the server's store (trimmed by gc?); sending them again",
    "fetch": "artifacts trimmed from the server's store (gc); building again",
}

_STATUS_NAMES = {
    pb.BuildStatus.SUCCEEDED: "ok",
    pb.BuildStatus.FAILED: "failed",
    pb.BuildStatus.CANCELLED: "cancelled",
}
_STREAM_NAMES = {
    pb.LogStream.STDOUT: "stdout",
    pb.LogStream.STDERR: "stderr",
    pb.LogStream.SERVER: "server",
}


def project_id(project: ProjectConfig) -> str:
    """Names this project's build spaces on the server: stable per machine and directory."""
    origin = f"{socket.gethostname()}:{project.root}"
    return hashlib.sha256(origin.encode()).hexdigest()[:24]


def load(project_dir: Path | str | None = None) -> ProjectConfig:
    return load_project(find_config(Path(project_dir or Path.cwd()).absolute()))


class Client:
    def __init__(
        self,
        api: BuildApi,
        address: str = "inproc",
        *,
        target: str = "",
        opt_level: str = DEFAULT_OPT_LEVEL,
        sent_trees: SentTrees | None = None,
    ) -> None:
        """`sent_trees` remembers the last tree sent for each function, so that of a changed
        tree only its new files are asked about (see sent_trees.py)."""
        self._api = api
        self._address = address
        self._closed = False
        self._sent_trees = sent_trees
        self._tree_encoder = TreeEncoder()
        if target:
            check_target(target)  # a typo; this machine's own triple needs no check
        self.target = target or host_triple()
        self.opt_level = wasm_opt_level(opt_level)

    def mark_closed(self) -> None:
        """The connection behind this client is closed: every later call fails at once."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(
                "this client is closed: its `async with connect()` block has ended;"
                " use the client inside the block, or connect again"
            )

    async def server_info(self) -> pb.ServerInfo:
        self._check_open()
        async with server_errors(self._address):
            return await self._api.get_server_info(pb.GetServerInfoRequest())

    async def build(
        self,
        project: ProjectConfig | Path | str,
        functions: Sequence[str] = (),
        on_event: Callable[[ClientEvent], None] | None = None,
        *,
        on_indexed: OnIndexed | None = None,
    ) -> list[BuildFinished]:
        """Build the named functions (all when none are named); return their results, in the
        order asked for (in embly.hcl's order when none are named). `on_indexed` is given the
        configuration and each function's inputs once indexed."""
        if on_event is not None and inspect.iscoroutinefunction(on_event):
            raise TypeError(
                "on_event is called with each event as it comes and must not be async;"
                " for an async consumer, iterate `client.build_events(...)` instead"
            )
        self._check_open()
        config = project if isinstance(project, ProjectConfig) else load(project)
        results: dict[str, BuildFinished | None] = dict.fromkeys(
            function.name for function in config.select(functions)
        )
        async for event in self.build_events(config, functions, on_indexed=on_indexed):
            if on_event:
                on_event(event)
            if isinstance(event, BuildFinished):
                results[event.function] = event
        return [result for result in results.values() if result is not None]

    async def build_events(
        self,
        project: ProjectConfig | Path | str,
        functions: Sequence[str] = (),
        indexed_inputs: Mapping[str, FunctionInputs] | None = None,
        *,
        quick_first: bool = False,
        on_indexed: OnIndexed | None = None,
    ) -> AsyncIterator[ClientEvent]:
        """Build and report; `indexed_inputs` skips indexing for functions already indexed.

        With `quick_first` (and a wasm-opt level), a function that is not cached gets its
        stripped artifacts written and reported (`BuildFinished.optimising`) as soon as they
        are built, then the optimised ones."""
        self._check_open()
        config = project if isinstance(project, ProjectConfig) else load(project)
        selected = config.select(functions)
        known = dict(indexed_inputs or {})
        to_index = [f for f in selected if f.name not in known]
        counters = IndexCounters()
        indexing = asyncio.ensure_future(asyncio.to_thread(_index_all, config, to_index, counters))
        async for so_far in index_progress(indexing, counters):
            yield so_far
        fresh = indexing.result()
        known.update(zip((f.name for f in to_index), fresh, strict=True))
        indexed = [known[f.name] for f in selected]
        if on_indexed is not None:
            on_indexed(config, {f.name: known[f.name] for f in selected})
        keys = [_tree_key(config, function) for function in selected]
        trees = [
            TreeInputs(inputs.files, self._tree_encoder.encode(key, inputs))
            for key, inputs in zip(keys, indexed, strict=True)
        ]
        upload = _EmittingTask(lambda emit: self._upload(trees, keys, emit))
        async with contextlib.aclosing(upload.events()) as events:
            async for event in events:
                yield event
        uploaded = upload.task.result()
        claimed: set[str] = set()
        sent_by_function = []
        for inputs in indexed:
            ours = {f.sha256: f.size for f in inputs.files if f.sha256 in uploaded.missing}
            sent_by_function.append(sum(size for sha, size in ours.items() if sha not in claimed))
            claimed.update(ours)

        def build_all(emit: Callable[[ClientEvent], None]) -> Coroutine[Any, Any, None]:
            each = zip(selected, indexed, trees, keys, sent_by_function, strict=True)
            return _all_or_none(
                [self._build_one(config, *one, emit, quick_first=quick_first) for one in each]
            )

        builds = _EmittingTask(build_all)
        async with contextlib.aclosing(builds.events()) as events:
            async for event in events:
                yield event

    async def _upload(
        self, trees: Sequence[TreeInputs], keys: Sequence[str], emit: Callable[[ClientEvent], None]
    ) -> UploadResult:
        """Upload what the server lacks; of a tree that changed since the last one sent for
        its function, ask only about the new files, and remember the trees sent."""
        sent = self._sent_trees
        async with server_errors(self._address):
            uploaded = await upload_inputs(
                self._api,
                trees,
                UploadProgressReporter(emit),
                files_held=(lambda: sent.files_known(keys)) if sent else frozenset,
            )
        if sent is not None:
            for key, tree in zip(keys, trees, strict=True):
                if tree.tree.sha256 in uploaded.trees_completed:
                    sent.sent(key, tree)
        return uploaded

    async def _build_one(
        self,
        config: ProjectConfig,
        function: FunctionConfig,
        inputs: FunctionInputs,
        tree: TreeInputs,
        tree_key: str,
        uploaded_bytes: int,
        emit: Callable[[ClientEvent], None],
        *,
        quick_first: bool = False,
    ) -> None:
        started = time.monotonic()
        emit(BuildStarted(function.name, uploaded_bytes))
        mapper = LogPathMapper(inputs.root)
        request = pb.BuildRequest(
            project_id=project_id(config),
            function=pb.FunctionSpec(
                name=function.name, runtime=function.runtime, path=inputs.crate_dir
            ),
            input_tree_digest=tree.tree.digest,
            target=self.target,
            options=pb.BuildOptions(
                strip=True,
                opt_level=self.opt_level,
                aot=True,
                wasmtime_version=wasmtime_version(),
                quick_first=quick_first and bool(self.opt_level),
            ),
        )

        output: list[str] = []  # the compiler's lines, for a failed build's result

        def report(
            finished: pb.Finished, paths: dict[str, str], sizes: dict[str, int], *, quick: bool
        ) -> None:
            status = _STATUS_NAMES.get(finished.status, "failed")
            emit(
                BuildFinished(
                    function=function.name,
                    status=status,
                    cache_hit=finished.cache_hit,
                    artifacts=paths,
                    artifact_sizes=sizes,
                    uploaded_bytes=uploaded_bytes,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    action_digest=finished.action_digest,
                    error=mapper(finished.error),
                    timings=_timings(finished),
                    opt_level=NO_WASM_OPT if quick else self.opt_level or NO_WASM_OPT,
                    optimising=quick,
                    output=tuple(output) if status == "failed" else (),
                )
            )

        async def quick_result(quick: pb.Finished) -> None:
            async with server_errors(self._address):
                paths, sizes = await self._save_artifacts(
                    config, function.name, quick, emit, quick=True
                )
            report(quick, paths, sizes, quick=True)

        for attempt in range(_ATTEMPTS):
            paths: dict[str, str] = {}
            sizes: dict[str, int] = {}
            step = "upload"  # NOT_FOUND from the build: inputs it needs are not stored
            output.clear()
            try:
                final = await self._run_build(
                    request, function.name, mapper, emit, quick_result, output
                )
                if final.status != pb.BuildStatus.SUCCEEDED:
                    break
                step = "fetch"
                async with server_errors(self._address):
                    paths, sizes = await self._save_artifacts(config, function.name, final, emit)
                break
            except BlobNotFound:
                if attempt == _ATTEMPTS - 1:
                    raise
                # gc trimmed the store: since the inputs were sent, or between the build and
                # the download (the server then finds the cache entry incomplete and builds
                # again). Either way, send what is missing and build again.
                emit(LogLine(function.name, "client", _TRIMMED[step], step))
                uploaded_bytes += await self._resend(tree, tree_key)
        report(final, paths, sizes, quick=False)

    async def _resend(self, tree: TreeInputs, key: str) -> int:
        """Upload whatever of the tree the server lacks now, asking about every file; the
        bytes of files sent."""
        if self._sent_trees is not None:
            self._sent_trees.forget(key)
        async with server_errors(self._address):
            resent = await upload_inputs(self._api, [tree], trust_stored_trees=False)
        if self._sent_trees is not None:
            self._sent_trees.sent(key, tree)
        return resent.bytes_uploaded

    async def _run_build(
        self,
        request: pb.BuildRequest,
        function: str,
        mapper: LogPathMapper,
        emit: Callable[[ClientEvent], None],
        on_quick: Callable[[pb.Finished], Awaitable[None]],
        output: list[str],
    ) -> pb.Finished:
        """Run the build; its quick result, if one comes, goes to `on_quick` meanwhile, and
        the lines its tools print to `output` as well as to `emit`."""
        finished = pb.Finished(status=enums.FAILED, error="the server sent no result")
        # The stream is closed at once when this task is cancelled: the server stops the build.
        async with server_errors(self._address), _closing(self._api.build(request)) as events:
            async for event in events:
                kind, value = betterproto.which_one_of(event, "event")
                if isinstance(value, pb.LogLine):
                    stream = _STREAM_NAMES.get(value.stream, "server")
                    text = mapper(value.text)
                    if stream in ("stdout", "stderr"):
                        output.append(text)
                    emit(LogLine(function, stream, text, value.step))
                elif kind == "quick" and isinstance(value, pb.Finished):
                    await on_quick(value)
                elif kind == "finished" and isinstance(value, pb.Finished):
                    finished = value
        return finished

    async def _save_artifacts(
        self,
        config: ProjectConfig,
        function: str,
        finished: pb.Finished,
        emit: Callable[[ClientEvent], None],
        *,
        quick: bool = False,
    ) -> tuple[dict[str, str], dict[str, int]]:
        writer = ArtifactWriter(config.output_dir, function)
        blobs: dict[str, bytes] = {}
        digests: dict[str, str] = {}
        try:
            for artifact in finished.artifacts:
                digests[artifact.kind] = artifact.digest.sha256
                in_place = artifact_path(config.output_dir, function, artifact.kind)
                if file_sha256(in_place) == artifact.digest.sha256:
                    blobs[artifact.kind] = b""  # already in place
                    continue
                blobs[artifact.kind] = await fetch_blob(self._api, artifact.digest)
                writer.stage(artifact.kind, blobs[artifact.kind])
            stale: tuple[str, ...] = ()
            if "cwasm" not in blobs and "wasm" in blobs:
                cwasm = await self._local_aot(
                    config, function, blobs["wasm"], finished, emit, quick=quick
                )
                if cwasm is None:
                    stale = ("cwasm",)
                else:
                    blobs["cwasm"] = cwasm
                    digests["cwasm"] = hashlib.sha256(cwasm).hexdigest()
                    writer.stage("cwasm", cwasm)
            writer.publish(stale_kinds=stale)
        except BaseException:
            writer.discard()
            raise
        if "cwasm" in blobs:
            record_written_cwasm(
                artifact_path(config.output_dir, function, "cwasm"), digests["cwasm"]
            )
        paths = {kind: str(artifact_path(config.output_dir, function, kind)) for kind in blobs}
        sizes = {kind: Path(p).stat().st_size for kind, p in paths.items()}
        return paths, sizes

    async def _local_aot(
        self,
        config: ProjectConfig,
        function: str,
        wasm: bytes,
        finished: pb.Finished,
        emit: Callable[[ClientEvent], None],
        *,
        quick: bool,
    ) -> bytes | None:
        """Compile the .cwasm here when the server could not; None when this machine cannot
        either (another target), checked before any wasmtime object exists."""
        server_reason = finished.aot_skipped_reason or "the server made none"
        refusal = aot_refusal(self.target, "")
        if refusal:
            message = f"no .cwasm for {self.target}: {refusal}; the .wasm is ready"
            emit(LogLine(function, "client", message, "aot"))
            return None
        emit(
            LogLine(function, "client", f"compiling .cwasm on this machine: {server_reason}", "aot")
        )
        wasm = wasm or (config.output_dir / f"{function}.wasm").read_bytes()
        return await asyncio.to_thread(compile_cwasm, wasm, self.target, quick=quick)


class _EmittingTask(Generic[T]):
    """A coroutine, run as a task, that emits events: `events()` gives them as they come
    until it ends, then raises its error if it failed. Left before then, the task is
    cancelled and waited for, so nothing of it goes on in the caller's event loop."""

    def __init__(
        self, start: Callable[[Callable[[ClientEvent], None]], Coroutine[Any, Any, T]]
    ) -> None:
        self._queue: asyncio.Queue[ClientEvent | None] = asyncio.Queue()
        self.task = asyncio.ensure_future(start(self._queue.put_nowait))
        self.task.add_done_callback(lambda _: self._queue.put_nowait(None))

    async def events(self) -> AsyncGenerator[ClientEvent, None]:
        try:
            while (event := await self._queue.get()) is not None:
                yield event
            self.task.result()
        finally:
            if not self.task.done():
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)


async def _all_or_none(jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run `jobs` together; when one fails, cancel the others and wait until they have
    cleaned up (their staged artifacts removed) before the failure goes on."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _timings(finished: pb.Finished) -> dict[str, int]:
    if finished.timings is None:
        return {}
    return {f.name: getattr(finished.timings, f.name) for f in dataclasses.fields(finished.timings)}


@contextlib.asynccontextmanager
async def _closing(stream: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Close a response stream (an async generator on both transports) when leaving."""
    try:
        yield stream
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _tree_key(config: ProjectConfig, function: FunctionConfig) -> str:
    """Names a function's record in SentTrees: file-name safe (function names are checked)."""
    return f"{project_id(config)}.{function.name}"


def _index_all(
    config: ProjectConfig, functions: list[FunctionConfig], counters: IndexCounters
) -> list[FunctionInputs]:
    output_dir = config.output_dir
    return [index_with_stat_cache(f.path, f.sources, output_dir, counters) for f in functions]
