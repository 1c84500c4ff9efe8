"""Fetch a build's artifacts and write them to <project>/embly_build/ atomically.

Every artifact of a build is fetched into a temporary file first; only when all are
complete are they renamed into place, so a failure leaves the previous ones untouched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from embly_build.client.session.artifact_names import artifact_path
from embly_build.errors import DigestMismatch, StoreError
from embly_build.protocol import pb
from embly_build.transport.api import BuildApi


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
    if exc.errno == errno.ENOSPC:
        return StoreError(
            f"cannot write {path}: no space left on its disk; free disk space, then build "
            "again (the function's previous artifacts are kept)"
        )
    return StoreError(f"cannot write {path}: {exc.strerror or exc}")


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
            os.replace(temp, final)
        self._staged.clear()
        for kind in stale_kinds:
            artifact_path(self._output_dir, self._function, kind).unlink(missing_ok=True)

    def discard(self) -> None:
        for temp, _ in self._staged:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self._staged.clear()
