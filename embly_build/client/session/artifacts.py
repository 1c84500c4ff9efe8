"""Fetch a build's artifacts and write them to <project>/embly_build/ atomically.

Every artifact of a build is fetched into a temporary file first; only when all are
complete are they renamed into place, so a failure leaves the previous ones untouched.
A .cwasm the server did not make is compiled here when this machine can.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from embly_build.client.records.cwasm_trust import record_written_cwasm
from embly_build.client.session.artifact_names import artifact_path
from embly_build.client.session.events import ClientEvent, LogLine
from embly_build.disk_errors import write_error
from embly_build.errors import DigestMismatch, StoreError
from embly_build.protocol import pb
from embly_build.transport.api import BuildApi
from embly_build.wasm.aot import aot_refusal, compile_cwasm

T = TypeVar("T")
Fetch = Callable[[pb.Digest], Awaitable[bytes]]


def file_sha256(path: Path) -> str | None:
    """The sha256 of the file at `path`; None when there is no readable file there."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


async def fetch_blob(api: BuildApi, digest: pb.Digest) -> bytes:
    parts: list[bytes] = []
    async for chunk in api.read_blob(pb.ReadBlobRequest(digest=digest)):
        parts.append(chunk.data)
    data = b"".join(parts)
    if hashlib.sha256(data).hexdigest() != digest.sha256 or len(data) != digest.size_bytes:
        raise DigestMismatch(f"the server sent blob {digest.sha256} with other content")
    return data


def _in_the_way(output_dir: Path, artifact: Path) -> str | None:
    """What, in the user's tree, keeps `artifact` from being written; None when nothing."""
    if output_dir.exists() and not output_dir.is_dir():
        return f"{output_dir} is a file"
    if artifact.is_dir() and not artifact.is_symlink():
        return f"{artifact} is a directory"
    return None


def _write_error(path: Path, exc: OSError) -> StoreError:
    """`exc`, raised writing the artifact at `path`, in words: the file, why, and what to
    do. Never a server's problem: the file is on this machine."""
    return write_error(
        exc,
        path,
        when_full=f"cannot write {path}: no space left on its disk; free disk space, then "
        "build again (the function's previous artifacts are kept)",
        otherwise=f"check that {path.parent} exists, that you may write to it (its "
        "permissions) and that its disk has room, then build again",
    )


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


class ArtifactWriter:
    """Stages artifacts for one function and publishes them together."""

    def __init__(self, output_dir: Path, function: str) -> None:
        self._output_dir = output_dir
        self._function = function
        self._staged: list[tuple[Path, Path]] = []

    def stage(self, kind: str, data: bytes) -> Path:
        final = artifact_path(self._output_dir, self._function, kind)
        in_the_way = _in_the_way(self._output_dir, final)
        if in_the_way:
            self.discard()
            raise StoreError(
                f"{in_the_way}, where the build puts its artifacts: move it away, then build again"
            )
        try:
            self._output_dir.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self._output_dir, prefix=f".{final.name}.")
        except OSError as exc:
            self.discard()
            raise _write_error(final, exc) from exc
        self._staged.append((Path(temp), final))  # discarded from here on if anything fails
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o666 & ~_umask())
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            self.discard()
            raise _write_error(final, exc) from exc
        return final

    def publish(self, stale_kinds: tuple[str, ...] = ()) -> None:
        """Rename every staged file into place; remove artifacts of `stale_kinds` that this
        build did not produce, so a .cwasm never outlives the .wasm it was made from."""
        for temp, final in self._staged:
            try:
                os.replace(temp, final)
            except OSError as exc:
                raise _write_error(final, exc) from exc
        self._staged.clear()
        for kind in stale_kinds:
            stale = artifact_path(self._output_dir, self._function, kind)
            try:
                stale.unlink(missing_ok=True)
            except OSError as exc:
                raise _write_error(stale, exc) from exc

    def discard(self) -> None:
        for temp, _ in self._staged:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self._staged.clear()


async def save_artifacts(
    fetch: Fetch,
    output_dir: Path,
    function: str,
    finished: pb.Finished,
    target: str,
    emit: Callable[[ClientEvent], None],
    *,
    quick: bool = False,
) -> tuple[dict[str, str], dict[str, int]]:
    """Write the artifacts of `finished` that are not in place already (each one got with
    `fetch`), together; their paths and sizes, by kind."""
    writer = ArtifactWriter(output_dir, function)
    blobs: dict[str, bytes] = {}
    digests: dict[str, str] = {}
    try:
        for artifact in finished.artifacts:
            digests[artifact.kind] = artifact.digest.sha256
            in_place = artifact_path(output_dir, function, artifact.kind)
            if file_sha256(in_place) == artifact.digest.sha256:
                blobs[artifact.kind] = b""  # already in place
                continue
            blobs[artifact.kind] = await fetch(artifact.digest)
            writer.stage(artifact.kind, blobs[artifact.kind])
        stale: tuple[str, ...] = ()
        if "cwasm" not in blobs and "wasm" in blobs:
            wasm = artifact_path(output_dir, function, "wasm")
            cwasm = await _local_aot(
                function, blobs["wasm"], wasm, finished, target, emit, quick=quick
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
        record_written_cwasm(artifact_path(output_dir, function, "cwasm"), digests["cwasm"])
    paths = {kind: artifact_path(output_dir, function, kind) for kind in blobs}
    sizes = {kind: _read_back(path, os.stat).st_size for kind, path in paths.items()}
    return {kind: str(path) for kind, path in paths.items()}, sizes


async def _local_aot(
    function: str,
    fetched_wasm: bytes,  # empty when the one in place is the build's
    wasm_path: Path,
    finished: pb.Finished,
    target: str,
    emit: Callable[[ClientEvent], None],
    *,
    quick: bool,
) -> bytes | None:
    """Compile the .cwasm here when the server could not; None when this machine cannot
    either (another target), checked before any wasmtime object exists."""
    server_reason = finished.aot_skipped_reason or "the server made none"
    refusal = aot_refusal(target, "")
    if refusal:
        message = f"no .cwasm for {target}: {refusal}; the .wasm is ready"
        emit(LogLine(function, "client", message, "aot"))
        return None
    emit(LogLine(function, "client", f"compiling .cwasm on this machine: {server_reason}", "aot"))
    data = fetched_wasm or _read_back(wasm_path, Path.read_bytes)
    return await asyncio.to_thread(compile_cwasm, data, target, quick=quick)


def _read_back(path: Path, read: Callable[[Path], T]) -> T:
    """`read(path)` of an artifact in place; a failure named as the user's file."""
    try:
        return read(path)
    except OSError as exc:
        raise StoreError(
            f"cannot read {path}: {exc.strerror or exc}; check that nothing else removes or "
            f"changes {path.parent} during a build, then build again"
        ) from exc
