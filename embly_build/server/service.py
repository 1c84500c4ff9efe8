"""BuildService: the one implementation of the protocol, served in-process or over gRPC.

It raises embly errors; transport/ turns them into the wire's statuses (transport/statuses.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from importlib.metadata import version

from embly_build.errors import BlobNotFound, EnvironmentProblem, LimitExceeded, ProtocolError
from embly_build.protocol import pb
from embly_build.protocol.blob_batches import batch_blobs
from embly_build.protocol.digests import CHUNK_SIZE, check_digest, digest_key
from embly_build.protocol.limits import MAX_DIGESTS_PER_LOOKUP
from embly_build.server.build.builder import Builder
from embly_build.server.build_activity import BuildActivity
from embly_build.server.build_log import log_ended_build, log_finished_build
from embly_build.server.cas.action_cache import ActionCache
from embly_build.server.cas.store import BlobWriter, ContentStore
from embly_build.server.executors.base import Executor
from embly_build.server.requests import validate_build
from embly_build.server.runtimes import make_runtimes
from embly_build.server.runtimes.base import Runtime
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains.base import ToolchainProvider
from embly_build.transport.caller import current_caller
from embly_build.wasm.aot import host_triple, wasmtime_version

# A FindMissingBlobs of more digests is answered in a worker thread: a stat per digest, and a
# tree of 10,000 files would hold up every other call's events for about 20 ms.
LOOKUPS_ON_THE_LOOP = 256


class BuildService:
    def __init__(
        self,
        settings: ServerSettings,
        toolchains: ToolchainProvider,
        executor: Executor,
        runtimes: dict[str, Runtime] | None = None,
    ) -> None:
        self.settings = settings
        self.store = ContentStore(settings.store_dir)
        self.action_cache = ActionCache(settings.action_cache_dir, self.store)
        self._runtimes: dict[str, Runtime] = runtimes or make_runtimes()
        self._toolchains = toolchains
        self._executor = executor
        self._builder = Builder(
            settings, self.store, self.action_cache, toolchains, executor, self._runtimes
        )
        self._activity = BuildActivity()

    async def close(self) -> None:
        """Stop what the service keeps running between builds (a compiler being readied,
        waiting shells)."""
        await self._builder.close()
        await self._executor.close()

    async def find_missing_blobs(
        self, find_missing_blobs_request: pb.FindMissingBlobsRequest
    ) -> pb.FindMissingBlobsResponse:
        digests = find_missing_blobs_request.digests
        if len(digests) > MAX_DIGESTS_PER_LOOKUP:
            raise LimitExceeded(
                f"FindMissingBlobs asks about {len(digests)} digests; this server answers at "
                f"most {MAX_DIGESTS_PER_LOOKUP} in one call: ask in several"
            )
        # The store checks each digest as it reads it.
        if len(digests) <= LOOKUPS_ON_THE_LOOP:
            missing = self.store.missing(digests)
        else:
            missing = await asyncio.to_thread(self.store.missing, digests)
        return pb.FindMissingBlobsResponse(missing=missing)

    async def upload_blobs(
        self, blob_chunk_iterator: AsyncIterator[pb.BlobChunk]
    ) -> pb.UploadBlobsResponse:
        summary = pb.UploadBlobsResponse()
        writers: dict[tuple[str, int], BlobWriter | None] = {}
        try:
            async for chunk in blob_chunk_iterator:
                self._receive_chunk(chunk, writers, summary)
            if open_blobs := [key for key, w in writers.items() if w is not None]:
                raise ProtocolError(f"the upload ended before blob {open_blobs[0][0]} was complete")
        finally:
            for writer in writers.values():
                if writer is not None:
                    writer.abort()
        return summary

    def _receive_chunk(
        self,
        chunk: pb.BlobChunk,
        writers: dict[tuple[str, int], BlobWriter | None],
        summary: pb.UploadBlobsResponse,
    ) -> None:
        digest = check_digest(chunk.digest, "chunk digest")
        data = chunk.data
        if len(data) > CHUNK_SIZE:
            raise ProtocolError(
                f"blob {digest.sha256}: a chunk of {len(data)} bytes; chunks carry at most "
                f"{CHUNK_SIZE} bytes"
            )
        if chunk.offset < 0 or chunk.offset + len(data) > digest.size_bytes:
            raise ProtocolError(
                f"blob {digest.sha256}: a chunk of {len(data)} bytes at offset {chunk.offset} "
                f"does not fit in its {digest.size_bytes} bytes"
            )
        key = digest_key(digest)
        if key not in writers:
            if chunk.offset != 0:
                raise ProtocolError(f"blob {digest.sha256}: first chunk must start at offset 0")
            if self.store.has(digest):
                summary.blobs_already_present += 1
                writers[key] = None
            else:
                writers[key] = self.store.writer(digest)
        writer = writers[key]
        if writer is None:  # already stored: its chunks are accepted and dropped
            if chunk.last:
                del writers[key]
            return
        writer.write(chunk.offset, data)
        if chunk.last:
            writer.commit()
            del writers[key]
            summary.blobs_stored += 1
            summary.bytes_stored += digest.size_bytes

    async def upload_blob_batch(self, blob_batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        # Off the event loop: thousands of files to write, while other calls go on.
        return await asyncio.to_thread(self._store_batch, blob_batch)

    def _store_batch(self, batch: pb.BlobBatch) -> pb.UploadBlobsResponse:
        blobs = batch_blobs(batch)  # every blob checked before any is stored
        summary = pb.UploadBlobsResponse()
        for sha256, data in blobs:
            if self.store.put_verified(sha256, data):
                summary.blobs_stored += 1
                summary.bytes_stored += len(data)
            else:
                summary.blobs_already_present += 1
        return summary

    async def read_blob(self, read_blob_request: pb.ReadBlobRequest) -> AsyncIterator[pb.BlobChunk]:
        digest = check_digest(read_blob_request.digest)
        if not self.store.has(digest):
            raise BlobNotFound(f"blob {digest.sha256} is not in the store")
        # Hashed as it is read, off the event loop (a corrupt one is removed: NOT_FOUND).
        chunks = await asyncio.to_thread(lambda: list(self.store.read_chunks(digest)))
        for chunk in chunks:
            yield chunk

    async def build(self, build_request: pb.BuildRequest) -> AsyncIterator[pb.BuildEvent]:
        job = validate_build(build_request, self._runtimes, current_caller())
        called = time.monotonic()
        logged = False
        try:
            with self._activity.track() as tracked:
                async with contextlib.aclosing(self._builder.build(job)) as events:
                    async for event in events:
                        if (finished := tracked.saw(event)) is not None:
                            seconds = time.monotonic() - called
                            log_finished_build(
                                job.caller, job.project_id, job.function.name, finished, seconds
                            )
                            logged = True
                        yield event
        except BaseException as ended:
            if not logged:
                cancelled = isinstance(ended, (asyncio.CancelledError, GeneratorExit))
                seconds = time.monotonic() - called
                log_ended_build(job.caller, job.project_id, job.function.name, cancelled, seconds)
            raise

    async def get_server_info(
        self, get_server_info_request: pb.GetServerInfoRequest
    ) -> pb.ServerInfo:
        stats = self.store.statistics()
        toolchains = []
        for runtime in sorted(self._runtimes):
            try:
                toolchain = await self._toolchains.provision(runtime)
            except EnvironmentProblem:
                continue  # `info` still answers on a machine that cannot build yet
            toolchains.append(
                pb.ToolchainInfo(
                    runtime=runtime,
                    provider=toolchain.provider,
                    identity=toolchain.identity,
                    wasm_target=toolchain.wasm_target,
                    versions=dict(toolchain.versions),
                    store_path=str(toolchain.store_path),
                )
            )
        return pb.ServerInfo(
            platform=host_triple(),
            server_version=version("embly-build"),
            wasmtime_version=wasmtime_version(),
            executor=self.settings.executor,
            runtimes=sorted(self._runtimes),
            toolchains=toolchains,
            store=pb.StoreStats(
                blob_count=stats.blob_count,
                blob_bytes=stats.blob_bytes,
                action_cache_entries=self.action_cache.entry_count(),
            ),
            activity=self._activity.message(),
        )
