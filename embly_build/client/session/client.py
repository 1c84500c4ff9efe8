"""The client: index a project's functions, upload what is missing, build, fetch artifacts.

It speaks only `BuildApi`, so the same code drives an in-process server, a local daemon
or a remote one.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence, Set
from pathlib import Path

from embly_build.client.config.hcl_checks import quoted
from embly_build.client.config.project import (
    FunctionConfig,
    ProjectConfig,
    find_config,
    load_project,
)
from embly_build.client.inputs.cancellation import Cancellation
from embly_build.client.inputs.index import FunctionInputs, index_with_stat_cache
from embly_build.client.inputs.index_thread import index_in_thread
from embly_build.client.inputs.tree_encoder import TreeEncoder
from embly_build.client.inputs.walk import IndexCounters
from embly_build.client.progress import UploadProgressReporter, index_progress
from embly_build.client.records.sent_trees import SentTrees
from embly_build.client.session.events import BuildFinished, ClientEvent
from embly_build.client.session.function_build import (
    BuildSession,
    FunctionJob,
    build_function,
    project_id,
)
from embly_build.client.session.server_errors import server_errors
from embly_build.client.session.upload import TreeInputs, UploadResult, upload_inputs
from embly_build.errors import InputError, UsageError
from embly_build.protocol import pb
from embly_build.protocol.opt_levels import DEFAULT_OPT_LEVEL, wasm_opt_level
from embly_build.tasks import all_or_none, events_of
from embly_build.transport.api import BuildApi
from embly_build.wasm.aot import check_target, host_triple

OnIndexed = Callable[[ProjectConfig, Mapping[str, FunctionInputs]], None]
Emit = Callable[[ClientEvent], None]


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
        self._closed = False
        self._tree_encoder = TreeEncoder()
        if target:
            check_target(target)  # a typo; this machine's own triple needs no check
        self._session = BuildSession(
            api, address, target or host_triple(), wasm_opt_level(opt_level), sent_trees
        )

    @property
    def target(self) -> str:
        """The triple the .cwasm is compiled for."""
        return self._session.target

    @property
    def opt_level(self) -> str:
        """wasm-opt's level; "" when wasm-opt is skipped."""
        return self._session.opt_level

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
        async with server_errors(self._session.address):
            return await self._session.api.get_server_info(pb.GetServerInfoRequest())

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
        # Closed when `on_event` raises too: the builds are cancelled before the error goes on.
        events = self.build_events(config, functions, on_indexed=on_indexed)
        async with contextlib.aclosing(events):
            async for event in events:
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
    ) -> AsyncGenerator[ClientEvent, None]:
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
        async with index_in_thread(
            functools.partial(_index_all, config, to_index, counters)
        ) as indexing:
            async for so_far in index_progress(indexing, counters):
                yield so_far
        known.update(zip((f.name for f in to_index), indexing.result(), strict=True))
        indexed = [known[f.name] for f in selected]
        if on_indexed is not None:
            on_indexed(config, {f.name: known[f.name] for f in selected})
        keys = [_tree_key(config, function) for function in selected]
        trees = [
            TreeInputs(inputs.files, self._tree_encoder.encode(key, inputs))
            for key, inputs in zip(keys, indexed, strict=True)
        ]
        uploads: list[UploadResult] = []  # the upload's result, once it is done

        async def upload(emit: Emit) -> None:
            uploads.append(await self._upload(trees, keys, emit))

        async with contextlib.aclosing(events_of(upload)) as events:
            async for event in events:
                yield event
        sent = _sent_by_function(indexed, uploads[0].missing)
        jobs = [
            FunctionJob(config, *one)
            for one in zip(selected, indexed, trees, keys, sent, strict=True)
        ]

        async def build_all(emit: Emit) -> None:
            await all_or_none(
                [build_function(self._session, job, emit, quick_first=quick_first) for job in jobs]
            )

        async with contextlib.aclosing(events_of(build_all)) as events:
            async for event in events:
                yield event

    async def _upload(
        self, trees: Sequence[TreeInputs], keys: Sequence[str], emit: Emit
    ) -> UploadResult:
        """Upload what the server lacks; of a tree that changed since the last one sent for
        its function, ask only about the new files, and remember the trees sent."""
        sent = self._session.sent_trees
        async with server_errors(self._session.address):
            uploaded = await upload_inputs(
                self._session.api,
                trees,
                UploadProgressReporter(emit),
                files_held=(lambda: sent.files_known(keys)) if sent else frozenset,
            )
        if sent is not None:
            for key, tree in zip(keys, trees, strict=True):
                if tree.tree.sha256 in uploaded.trees_completed:
                    sent.sent(key, tree)
        return uploaded


def _sent_by_function(indexed: Sequence[FunctionInputs], missing: Set[str]) -> list[int]:
    """The bytes uploaded for each function: of the `missing` files it has, those no
    function before it has."""
    claimed: set[str] = set()
    sent = []
    for inputs in indexed:
        ours = {f.sha256: f.size for f in inputs.files if f.sha256 in missing}
        sent.append(sum(size for sha, size in ours.items() if sha not in claimed))
        claimed.update(ours)
    return sent


def _tree_key(config: ProjectConfig, function: FunctionConfig) -> str:
    """Names a function's record in SentTrees: file-name safe (function names are checked)."""
    return f"{project_id(config)}.{function.name}"


def _index_all(
    config: ProjectConfig,
    functions: list[FunctionConfig],
    counters: IndexCounters,
    cancellation: Cancellation,
) -> list[FunctionInputs]:
    output_dir = config.output_dir
    indexed = []
    for f in functions:
        try:
            indexed.append(
                index_with_stat_cache(
                    f.path, f.sources, output_dir, counters, cancellation=cancellation
                )
            )
        except InputError as error:  # a watch says whose inputs failed beside the message
            raise InputError(f"function {quoted(f.name)}: {error}") from error
    return indexed
