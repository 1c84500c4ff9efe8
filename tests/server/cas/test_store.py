"""The CAS: verified before visible, nothing left behind on a bad upload or a full disk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from embly_build.errors import DigestMismatch, ProtocolError, StoreError
from embly_build.protocol import pb
from embly_build.server.cas.store import ContentStore
from tests.helpers import small_disk


def digest(data: bytes) -> pb.Digest:
    return pb.Digest(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def test_blob_written_in_chunks_becomes_visible_after_commit(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    data = b"x" * 3000
    writer = store.writer(digest(data))
    writer.write(0, data[:1000])
    assert not store.has(digest(data))
    writer.write(1000, data[1000:])
    writer.commit()
    assert store.read_bytes(digest(data)) == data
    assert list(store.tmp_dir.iterdir()) == []


def test_mismatched_content_is_rejected_and_nothing_is_stored(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    claimed = digest(b"the real content")
    writer = store.writer(claimed)
    writer.write(0, b"other content!!!")
    with pytest.raises(DigestMismatch, match="nothing was stored"):
        writer.commit()
    assert not store.has(claimed)
    assert list(store.tmp_dir.iterdir()) == []
    assert store.statistics().blob_count == 0


def test_more_bytes_than_the_digest_says_are_refused(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    writer = store.writer(digest(b"abc"))
    with pytest.raises(DigestMismatch):
        writer.write(0, b"abcd")
    assert list(store.tmp_dir.iterdir()) == []


def test_out_of_order_chunk_is_refused(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    writer = store.writer(digest(b"abcdef"))
    writer.write(0, b"abc")
    with pytest.raises(ProtocolError, match="offset"):
        writer.write(4, b"ef")


def test_missing_lists_only_absent_blobs_once(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    present = store.put_bytes(b"present")
    absent = digest(b"absent")
    assert [d.sha256 for d in store.missing([present, absent, absent])] == [absent.sha256]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "tiny", "64k") as mount_point:
        yield mount_point


def test_full_disk_is_a_clear_error_and_leaves_no_partial_blob(tiny_disk: Path) -> None:
    store = ContentStore(tiny_disk / "store")
    data = bytes(range(256)) * 1024  # 256 KiB, more than the disk holds
    writer = store.writer(digest(data))
    with pytest.raises(StoreError, match=r"no space left.*embly gc"):
        for offset in range(0, len(data), 16384):
            writer.write(offset, data[offset : offset + 16384])
        writer.commit()
    assert not store.has(digest(data))
    assert list(store.tmp_dir.iterdir()) == []
