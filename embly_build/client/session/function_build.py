"""One function's build on the server: its request, its event stream, a second try when gc
trimmed the store meanwhile, and its result as a BuildFinished."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import betterproto

from embly_build.client.config.project import FunctionConfig, ProjectConfig
from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.records.sent_trees import SentTrees
from embly_build.client.session.artifacts import fetch_blob, save_artifacts
from embly_build.client.session.events import BuildFinished, BuildStarted, ClientEvent, LogLine
from embly_build.client.session.log_paths import LogPathMapper
from embly_build.client.session.server_errors import server_errors
from embly_build.client.session.upload import TreeInputs, upload_inputs
from embly_build.errors import BlobNotFound
from embly_build.protocol import enums, pb
from embly_build.protocol.opt_levels import NO_WASM_OPT
from embly_build.transport.api import BuildApi, closing
from embly_build.wasm.aot import wasmtime_version

Emit = Callable[[ClientEvent], None]

# A build whose inputs or artifacts left the server's store (trimmed by gc, or removed as
# corrupt when read) is asked for once more.
_ATTEMPTS = 2
_TRIMMED = {
    "upload": (
        "inputs missing from the server's store (trimmed by gc, or found corrupt there);"
        " sending them again"
    ),
    "fetch": "artifacts missing from the server's store (gc, or found corrupt); building again",
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


@dataclass(frozen=True)
class BuildSession:
    """What every build of one client shares: the server, and what is asked of it."""

    api: BuildApi
    address: str  # as the user gave it, for messages
    target: str  # the triple the .cwasm is for
    opt_level: str  # wasm-opt's level; "" for none
    sent_trees: SentTrees | None  # the last tree sent for each function, if remembered


@dataclass(frozen=True)
class FunctionJob:
    """One function's part of a build, its inputs indexed and uploaded."""

    config: ProjectConfig
    function: FunctionConfig
    inputs: FunctionInputs
    tree: TreeInputs
    tree_key: str  # its record in SentTrees
    uploaded_bytes: int  # of its files, sent for this build


def project_id(project: ProjectConfig) -> str:
    """Names this project's build spaces on the server: stable per machine and directory."""
    origin = f"{socket.gethostname()}:{project.root}"
    return hashlib.sha256(origin.encode()).hexdigest()[:24]


async def build_function(
    session: BuildSession, job: FunctionJob, emit: Emit, *, quick_first: bool = False
) -> None:
    """Build `job` and report it: BuildStarted, its log lines, then its BuildFinished (with
    `quick_first`, a quick one first when the server sends one)."""
    started = time.monotonic()
    name = job.function.name
    uploaded_bytes = job.uploaded_bytes
    emit(BuildStarted(name, uploaded_bytes))
    mapper = LogPathMapper(job.inputs.root)
    request = _request(session, job, quick_first=quick_first)
    output: list[str] = []  # the compiler's lines, for a failed build's result

    async def fetch(digest: pb.Digest) -> bytes:
        async with server_errors(session.address):
            return await fetch_blob(session.api, digest)

    def report(
        finished: pb.Finished, paths: dict[str, str], sizes: dict[str, int], *, quick: bool
    ) -> None:
        status = _STATUS_NAMES.get(finished.status, "failed")
        emit(
            BuildFinished(
                function=name,
                status=status,
                cache_hit=finished.cache_hit,
                artifacts=paths,
                artifact_sizes=sizes,
                uploaded_bytes=uploaded_bytes,
                duration_ms=int((time.monotonic() - started) * 1000),
                action_digest=finished.action_digest,
                error=mapper(finished.error),
                timings=_timings(finished),
                opt_level=NO_WASM_OPT if quick else session.opt_level or NO_WASM_OPT,
                optimising=quick,
                output=tuple(output) if status == "failed" else (),
            )
        )

    async def save(finished: pb.Finished, *, quick: bool) -> tuple[dict[str, str], dict[str, int]]:
        output_dir = job.config.output_dir
        return await save_artifacts(
            fetch, output_dir, name, finished, session.target, emit, quick=quick
        )

    async def quick_result(quick: pb.Finished) -> None:
        paths, sizes = await save(quick, quick=True)
        report(quick, paths, sizes, quick=True)

    for attempt in range(_ATTEMPTS):
        paths: dict[str, str] = {}
        sizes: dict[str, int] = {}
        step = "upload"  # NOT_FOUND from the build: inputs it needs are not stored
        output.clear()
        try:
            final = await _run_build(session, request, name, mapper, emit, quick_result, output)
            if final.status != pb.BuildStatus.SUCCEEDED:
                break
            step = "fetch"
            paths, sizes = await save(final, quick=False)
            break
        except BlobNotFound:
            if attempt == _ATTEMPTS - 1:
                raise
            # gc trimmed the store: since the inputs were sent, or between the build and
            # the download (the server then finds the cache entry incomplete and builds
            # again). Either way, send what is missing and build again.
            emit(LogLine(name, "client", _TRIMMED[step], step))
            uploaded_bytes += await _resend(session, job.tree, job.tree_key)
    report(final, paths, sizes, quick=False)


def _request(session: BuildSession, job: FunctionJob, *, quick_first: bool) -> pb.BuildRequest:
    function = job.function
    return pb.BuildRequest(
        project_id=project_id(job.config),
        function=pb.FunctionSpec(
            name=function.name, runtime=function.runtime, path=job.inputs.crate_dir
        ),
        input_tree_digest=job.tree.tree.digest,
        target=session.target,
        options=pb.BuildOptions(
            strip=True,
            opt_level=session.opt_level,
            aot=True,
            wasmtime_version=wasmtime_version(),
            quick_first=quick_first and bool(session.opt_level),
        ),
    )


async def _resend(session: BuildSession, tree: TreeInputs, key: str) -> int:
    """Upload whatever of the tree the server lacks now, asking about every file; the
    bytes of files sent."""
    if session.sent_trees is not None:
        session.sent_trees.forget(key)
    async with server_errors(session.address):
        resent = await upload_inputs(session.api, [tree], trust_stored_trees=False)
    if session.sent_trees is not None:
        session.sent_trees.sent(key, tree)
    return resent.bytes_uploaded


async def _run_build(
    session: BuildSession,
    request: pb.BuildRequest,
    function: str,
    mapper: LogPathMapper,
    emit: Emit,
    on_quick: Callable[[pb.Finished], Awaitable[None]],
    output: list[str],
) -> pb.Finished:
    """Run the build; its quick result, if one comes, goes to `on_quick` meanwhile, and
    the lines its tools print to `output` as well as to `emit`."""
    finished = pb.Finished(status=enums.FAILED, error="the server sent no result")
    # The stream is closed at once when this task is cancelled: the server stops the build.
    api, address = session.api, session.address
    async with server_errors(address), closing(api.build(request)) as events:
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


def _timings(finished: pb.Finished) -> dict[str, int]:
    if finished.timings is None:
        return {}
    return {f.name: getattr(finished.timings, f.name) for f in dataclasses.fields(finished.timings)}
