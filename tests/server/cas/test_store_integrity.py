"""A blob the disk corrupted after it was stored is never used: reading, checking or
copying it out finds the mismatch, removes it, and it is then missing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from embly_build.errors import BlobNotFound
from embly_build.protocol import enums, pb
from embly_build.server.cas.action_cache import ActionCache
from embly_build.server.cas.store import ContentStore

CONTENT = b'fn main() { println!("Hello"); }\n' * 100


def corrupt(store: ContentStore, digest: pb.Digest) -> None:
    """Flip one byte of the stored blob in place, keeping its size (as a bad disk would)."""
    path = store.path_of(digest)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


def test_a_corrupt_blob_is_not_read_and_is_then_missing(store: ContentStore) -> None:
    digest = store.put_bytes(CONTENT)
    corrupt(store, digest)
    assert store.has(digest), "presence alone is a stat: the corruption is not seen yet"
    with pytest.raises(BlobNotFound, match=r"did not match its digest.*removed"):
        store.read_bytes(digest)
    assert not store.has(digest)
    assert store.missing([digest]) == [digest], "a client is asked to upload it again"


def test_reading_a_sound_blob_returns_its_bytes(store: ContentStore) -> None:
    digest = store.put_bytes(CONTENT)
    assert store.read_bytes(digest) == CONTENT
    assert store.touch_checked(digest)


def test_a_corrupt_blob_is_not_copied_out(store: ContentStore, tmp_path: Path) -> None:
    digest = store.put_bytes(CONTENT)
    corrupt(store, digest)
    target = tmp_path / "copy"
    assert not store.copy_checked(digest.sha256, digest.size_bytes, str(target))
    assert not target.exists(), "no copy of the bad bytes is left behind"
    assert not store.has(digest)


def test_a_sound_blob_is_copied_out(store: ContentStore, tmp_path: Path) -> None:
    digest = store.put_bytes(CONTENT)
    target = tmp_path / "copy"
    assert store.copy_checked(digest.sha256, digest.size_bytes, str(target))
    assert target.read_bytes() == CONTENT


def test_a_corrupt_tree_blob_reads_as_absent(store: ContentStore) -> None:
    digest = store.put_bytes(CONTENT)
    corrupt(store, digest)
    assert store.read_if_present(digest.sha256, digest.size_bytes) is None
    assert not store.has(digest)


def cached_entry(store: ContentStore, cache: ActionCache) -> tuple[str, list[pb.Digest]]:
    wasm = store.put_bytes(b"\0asm" + CONTENT)
    cwasm = store.put_bytes(b"\x7fELF" + CONTENT)
    key = hashlib.sha256(b"action").hexdigest()
    artifacts = [pb.Artifact(kind="wasm", digest=wasm), pb.Artifact(kind="cwasm", digest=cwasm)]
    cache.put(key, pb.Finished(status=enums.SUCCEEDED, artifacts=artifacts))
    return key, [wasm, cwasm]


def test_an_entry_with_a_corrupt_artifact_is_a_miss(store: ContentStore, tmp_path: Path) -> None:
    cache = ActionCache(tmp_path / "cache", store)
    key, (wasm, cwasm) = cached_entry(store, cache)
    assert cache.get(key) is not None
    corrupt(store, wasm)
    corrupt(store, cwasm)
    assert cache.get(key) is None, "the build runs again"
    assert store.missing([wasm, cwasm]) == [wasm, cwasm], "both removed, so both are stored again"
    store.put_bytes(b"\0asm" + CONTENT)
    store.put_bytes(b"\x7fELF" + CONTENT)
    hit = cache.get(key)
    assert hit is not None
    assert [a.digest for a in hit.artifacts] == [wasm, cwasm]
