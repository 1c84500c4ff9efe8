"""The content-addressed store: blobs on disk, named by sha256, visible only once verified.

Layout under the store root: `blobs/<ab>/<sha256>` and `tmp/` for blobs being written.
A blob is written to `tmp/`, hashed as it arrives, and renamed into place only when its
sha256 and size match the digest it was sent under; a mismatch leaves nothing behind.
A blob's mtime is when it was last used (see `mark_used`); `embly gc` evicts by it.

Bytes leave the store checked again: a blob read (`read_bytes`), checked (`touch_checked`)
or copied out (`copy_checked`) is hashed as it is read, so a blob the disk corrupted after
it was stored is never used. It is removed instead, and so becomes missing: a client
uploads it again, a build makes it again. Presence (`has`, `missing`) is a stat alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from embly_build.disk_errors import write_error
from embly_build.errors import BlobNotFound, DigestMismatch, ProtocolError, StoreError
from embly_build.protocol import pb
from embly_build.protocol.digests import (
    blob_chunks,
    check_digest,
    check_digest_fields,
    valid_digest,
)

USE_RESOLUTION_SECONDS = 3600.0
_READ_SIZE = 1024 * 1024


class CorruptBlob(BlobNotFound):
    """A stored blob's bytes no longer match its digest; it was removed, so it is missing."""

    def __init__(self, sha256: str) -> None:
        super().__init__(
            f"blob {sha256} in the server's store did not match its digest (corrupted on "
            "disk); it was removed: upload it again, or build again to make it again"
        )
        self.sha256 = sha256


@dataclass(frozen=True)
class StoreStatistics:
    blob_count: int
    blob_bytes: int


@dataclass(frozen=True)
class StoredFile:
    """A blob or cache entry as gc sees it."""

    path: Path
    disk_bytes: int  # st_blocks * 512: what it occupies on disk, as du counts
    last_used: float  # mtime, accurate to USE_RESOLUTION_SECONDS


def mark_used(path: Path | str, stat: os.stat_result) -> None:
    """Record a use as the file's mtime, at most once per USE_RESOLUTION_SECONDS.

    So using a file that was used recently (a no-op build) costs a stat, not a write.
    Best effort: a use never fails because the mtime could not be set.
    """
    if time.time() - stat.st_mtime >= USE_RESOLUTION_SECONDS:
        with contextlib.suppress(OSError):
            os.utime(path)


def stored_files(paths: Iterable[Path]) -> Iterator[StoredFile]:
    for path in paths:
        try:
            stat = path.lstat()
        except FileNotFoundError:
            continue
        yield StoredFile(path, stat.st_blocks * 512, stat.st_mtime)


def disk_error(exc: OSError, where: Path) -> StoreError:
    """What to say when the server's state under `where` cannot be written."""
    return write_error(
        exc,
        where,
        when_full=f"no space left on the device holding {where}: free disk space or run "
        "`embly gc --max-size SIZE` to trim the store",
    )


class BlobWriter:
    """Receives one blob's chunks in order; `commit` makes it visible after verifying it."""

    def __init__(self, store: ContentStore, digest: pb.Digest) -> None:
        self._store = store
        self.digest = digest
        self._hash = hashlib.sha256()
        self._written = 0
        fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix=digest.sha256[:16] + ".")
        self._temp = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, offset: int, data: bytes) -> None:
        if offset != self._written:
            self.abort()
            raise ProtocolError(
                f"blob {self.digest.sha256}: chunk at offset {offset}, expected {self._written}"
            )
        if self._written + len(data) > self.digest.size_bytes:
            self.abort()
            raise DigestMismatch(
                f"blob {self.digest.sha256}: more bytes than its digest's size "
                f"{self.digest.size_bytes}"
            )
        try:
            self._file.write(data)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self._store.root) from exc
        self._hash.update(data)
        self._written += len(data)

    def commit(self) -> None:
        actual = self._hash.hexdigest()
        if self._written != self.digest.size_bytes or actual != self.digest.sha256:
            self.abort()
            raise DigestMismatch(
                f"blob {self.digest.sha256} ({self.digest.size_bytes} bytes) arrived as "
                f"{actual} ({self._written} bytes); nothing was stored, upload it again"
            )
        try:
            self._file.close()
            self._store.adopt(self._temp, self.digest)
        except OSError as exc:
            self.abort()
            raise disk_error(exc, self._store.root) from exc

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._temp.unlink()


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs_dir = root / "blobs"
        self._blobs_prefix = os.path.join(self.blobs_dir, "")
        self.tmp_dir = root / "tmp"
        try:
            self.blobs_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise disk_error(exc, root) from exc

    def path_of(self, digest: pb.Digest) -> Path:
        return Path(self.blob_path(check_digest(digest).sha256))

    def blob_path(self, sha256: str) -> str:
        """Where a blob is (or would be) stored; `sha256` must be valid (see `valid_digest`)."""
        # Strings, not Paths: a build of 40,000 files asks for each blob more than once.
        return f"{self._blobs_prefix}{sha256[:2]}/{sha256}"

    def has(self, digest: pb.Digest) -> bool:
        check_digest(digest)
        return self._present(digest.sha256, digest.size_bytes) is not None

    def touch(self, digest: pb.Digest) -> bool:
        """Like `has`, and a present blob is marked used (see `mark_used`)."""
        check_digest(digest)
        return self._touch(digest.sha256, digest.size_bytes)

    def _touch(self, sha256: str, size_bytes: int) -> bool:
        stat = self._present(sha256, size_bytes)
        if stat is None:
            return False
        mark_used(self.blob_path(sha256), stat)
        return True

    def _present(self, sha256: str, size_bytes: int) -> os.stat_result | None:
        """The blob's stat when it is stored with the digest's size, else None."""
        try:
            stat = os.stat(self.blob_path(sha256))
        except FileNotFoundError:
            return None
        return stat if stat.st_size == size_bytes else None

    def missing(self, digests: Iterable[pb.Digest]) -> list[pb.Digest]:
        """The absent ones, each once; the present ones are marked used."""
        # Each field read once: reads of message fields are slow.
        keyed = {(digest.sha256, digest.size_bytes): digest for digest in digests}
        return [keyed[key] for key in self.missing_keys(keyed)]

    def missing_keys(self, keys: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """Like `missing`, for (sha256, size_bytes) pairs."""
        seen: set[tuple[str, int]] = set()
        result = []
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            check_digest_fields(*key)
            if not self._touch(*key):
                result.append(key)
        return result

    def writer(self, digest: pb.Digest) -> BlobWriter:
        check_digest(digest)
        try:
            return BlobWriter(self, digest)
        except OSError as exc:
            raise disk_error(exc, self.root) from exc

    def adopt(self, verified_temp: Path, digest: pb.Digest) -> None:
        """Move an already verified temporary file into place (atomic rename)."""
        os.chmod(verified_temp, 0o444)
        self._rename_into_place(str(verified_temp), check_digest(digest).sha256)

    def _rename_into_place(self, temp: str, sha256: str) -> None:
        final = self.blob_path(sha256)
        try:
            os.replace(temp, final)
        except FileNotFoundError:  # the first blob with this prefix
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(temp, final)

    def put_verified(self, sha256: str, data: bytes | memoryview) -> bool:
        """Store a blob whose bytes the caller has checked against `sha256` (a valid one);
        False when it was stored already (it is then marked used)."""
        if self._touch(sha256, len(data)):
            return False
        try:
            fd, temp = tempfile.mkstemp(dir=self.tmp_dir, prefix=sha256[:16] + ".")
        except OSError as exc:
            raise disk_error(exc, self.root) from exc
        try:
            with open(fd, "wb") as handle:
                handle.write(data)
                os.fchmod(fd, 0o444)
            self._rename_into_place(temp, sha256)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise disk_error(exc, self.root) from exc
        return True

    def put_bytes(self, data: bytes) -> pb.Digest:
        sha256 = hashlib.sha256(data).hexdigest()
        self.put_verified(sha256, data)
        return pb.Digest(sha256=sha256, size_bytes=len(data))

    def read_bytes(self, digest: pb.Digest) -> bytes:
        """The blob's bytes, checked against its digest; CorruptBlob when they no longer
        match (the blob is removed)."""
        path = self.path_of(digest)
        try:
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                data = handle.read()
                if hashlib.sha256(data).hexdigest() != digest.sha256:
                    self._remove_corrupt(str(path), stat)
                    raise CorruptBlob(digest.sha256)
        except FileNotFoundError:
            raise StoreError(f"blob {digest.sha256} is not in the store") from None
        mark_used(path, stat)
        return data

    def touch_checked(self, digest: pb.Digest) -> bool:
        """Like `touch`, and the blob's bytes are checked against its digest: one that no
        longer matches is removed, and so is not present."""
        if not self.has(digest):
            return False
        try:
            self.read_bytes(digest)
        except (CorruptBlob, StoreError):
            return False
        return True

    def copy_checked(self, sha256: str, size_bytes: int, target: str) -> bool:
        """Write the blob (`sha256` a valid one) to the new file `target`, hashing it as it
        is copied. False when its bytes do not match the digest: the blob is removed from
        the store and `target` is not left behind. FileNotFoundError when it is absent."""
        path = self.blob_path(sha256)
        digest = hashlib.sha256()
        written = 0
        with open(path, "rb") as source:
            stat = os.fstat(source.fileno())
            with open(target, "wb") as copy:
                while chunk := source.read(_READ_SIZE):
                    digest.update(chunk)
                    copy.write(chunk)
                    written += len(chunk)
            if written == size_bytes and digest.hexdigest() == sha256:
                return True
            os.unlink(target)
            self._remove_corrupt(path, stat)
        return False

    def _remove_corrupt(self, path: str, read: os.stat_result) -> None:
        """Remove the blob at `path` that was read as `read` found it, unless it has been
        replaced since (by an upload of the good bytes)."""
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == read.st_ino:
                os.unlink(path)

    def read_if_present(self, sha256: str, size_bytes: int) -> bytes | None:
        """The blob's bytes, or None when it is not stored with that size."""
        if not valid_digest(sha256, size_bytes) or self._present(sha256, size_bytes) is None:
            return None
        try:
            return self.read_bytes(pb.Digest(sha256=sha256, size_bytes=size_bytes))
        except (StoreError, CorruptBlob):  # removed (by gc) since it was found, or corrupt
            return None

    def read_chunks(self, digest: pb.Digest) -> Iterator[pb.BlobChunk]:
        return blob_chunks(digest, self.read_bytes(digest))

    def blob_files(self) -> Iterator[StoredFile]:
        return stored_files(self.blobs_dir.glob("*/*"))

    def temp_files(self) -> Iterator[StoredFile]:
        """Blobs being written (or left behind by a crash while being written)."""
        return stored_files(self.tmp_dir.iterdir())

    def statistics(self) -> StoreStatistics:
        count = size = 0
        for entry in self.blobs_dir.glob("*/*"):
            with contextlib.suppress(FileNotFoundError):  # removed by a concurrent gc
                size += entry.stat().st_size
                count += 1
        return StoreStatistics(blob_count=count, blob_bytes=size)
