"""`embly gc` as a user runs it, on a real EMBLY_HOME."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from embly_build.client.inputs.index import index_function
from embly_build.client.records.cwasm_trust import record_written_cwasm, written_cwasm
from embly_build.client.records.sent_trees import SentTrees, sent_trees_dir
from embly_build.client.records.up_to_date import (
    encode_record,
    invocation_key,
    record_path,
    stat_key,
)
from embly_build.client.session.upload import TreeInputs
from embly_build.protocol import pb
from embly_build.server.cas.store import ContentStore
from embly_build.server.gc import build_in_progress
from embly_build.server.sizes import disk_usage
from tests.helpers import embly


def populate(home: Path, count: int) -> tuple[ContentStore, list[pb.Digest]]:
    """`count` blobs, the first used longest ago."""
    store = ContentStore(home / "store")
    digests = []
    for index in range(count):
        digest = store.put_bytes(os.urandom(8192))
        when = time.time() - (count - index) * 86400
        os.utime(store.path_of(digest), (when, when))
        digests.append(digest)
    return store, digests


def test_gc_trims_the_store_to_max_size_oldest_first(tmp_path: Path, embly_home: Path) -> None:
    store, digests = populate(embly_home, 4)
    keep = sum(disk_usage(store.path_of(d)) for d in digests[2:])

    result = embly("gc", "--max-size", str(keep), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"EMBLY_HOME    {embly_home}" in result.stdout
    assert "removed       2 blobs" in result.stdout
    assert "remaining     2 blobs" in result.stdout
    assert "0 cache entries (0 B), 0 build spaces (0 B)" in result.stdout
    assert [store.has(d) for d in digests] == [False, False, True, True]


def test_dry_run_shows_what_would_go_and_removes_nothing(tmp_path: Path, embly_home: Path) -> None:
    store, digests = populate(embly_home, 3)

    result = embly("gc", "--max-size", "0", "--dry-run", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "would remove  3 blobs" in result.stdout
    assert "would remain  0 blobs" in result.stdout
    assert all(store.has(d) for d in digests)


async def test_running_builds_keep_their_blobs_and_gc_says_so(
    tmp_path: Path, embly_home: Path
) -> None:
    store, digests = populate(embly_home, 2)

    async with build_in_progress(embly_home):
        result = embly("gc", "--max-size", "0", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert (
        "1 build is running; blobs and cache entries were left; "
        "run `embly gc` again when it finishes"
    ) in result.stdout
    assert "remaining     2 blobs" in result.stdout
    assert all(store.has(d) for d in digests)


def test_a_bad_max_size_is_a_usage_error(tmp_path: Path, embly_home: Path) -> None:
    store, digests = populate(embly_home, 1)

    result = embly("gc", "--max-size", "lots", cwd=tmp_path)

    assert result.returncode == 2
    assert "--max-size: invalid size 'lots'" in result.stderr
    assert "500M, 10G, 2GiB" in result.stderr
    assert store.has(digests[0])


def test_gc_removes_up_to_date_records_that_can_no_longer_answer(
    tmp_path: Path, embly_home: Path
) -> None:
    source = tmp_path / "main.rs"
    records = {}
    for name in ("outdated", "current"):
        source.write_text(f"fn main() {{}} // {name}")  # after the first record: outdated
        key = invocation_key(["build", name], str(tmp_path), {})
        path = Path(record_path(key, str(embly_home)))
        path.parent.mkdir(parents=True, exist_ok=True)
        report = {"mode": "quiet", "functions": []}
        path.write_bytes(encode_record(key, [(str(source), stat_key(str(source)))], report))
        records[name] = path
    records["half written"] = records["current"].with_name(".left-by-a-crash")
    records["half written"].write_bytes(records["current"].read_bytes()[:10])

    dry = embly("gc", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would remove  2 outdated up-to-date records" in dry.stdout
    assert all(path.exists() for path in records.values())

    result = embly("gc", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "removed       2 outdated up-to-date records" in result.stdout
    assert {name: path.exists() for name, path in records.items()} == {
        "outdated": False,
        "current": True,
        "half written": False,
    }


def test_gc_removes_sent_tree_records_no_build_wrote_for_a_month(
    tmp_path: Path, embly_home: Path
) -> None:
    crate = tmp_path / "hello"
    crate.mkdir()
    (crate / "Cargo.toml").write_text('[package]\nname = "hello"\n')
    inputs = index_function(crate, [], tmp_path / "embly_build")
    sent = SentTrees(sent_trees_dir("a-server"))
    for function in ("project.old", "project.recent"):
        sent.sent(function, TreeInputs.of(inputs))
    records = {path.name: path for path in sent_trees_dir("a-server").iterdir()}
    left_over = sent_trees_dir("a-server") / ".sent-interrupted"
    left_over.write_text("half")
    for path, age_days in [(records["project.old.files"], 31), (left_over, 0.1)]:
        when = time.time() - age_days * 86400
        os.utime(path, (when, when))

    dry = embly("gc", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would remove  2 sent-tree records unused for 30 days" in dry.stdout
    assert left_over.exists() and all(path.exists() for path in records.values())

    result = embly("gc", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "removed       2 sent-tree records unused for 30 days" in result.stdout
    assert sorted(p.name for p in sent_trees_dir("a-server").iterdir()) == ["project.recent.files"]
    assert SentTrees(sent_trees_dir("a-server")).files_known(["project.recent"]) == {
        f.sha256 for f in inputs.files
    }


def test_gc_removes_cwasm_records_whose_file_is_gone(tmp_path: Path, embly_home: Path) -> None:
    """What a build wrote is still vouched for afterwards; a deleted project's is dropped."""
    kept, deleted = tmp_path / "kept" / "f.cwasm", tmp_path / "deleted" / "f.cwasm"
    for cwasm in (kept, deleted):
        cwasm.parent.mkdir()
        cwasm.write_bytes(b"native code " + cwasm.parent.name.encode())
        record_written_cwasm(cwasm, hashlib.sha256(cwasm.read_bytes()).hexdigest())
    shutil.rmtree(deleted.parent)
    records = embly_home / "client" / "written-cwasm"
    left_over = records / ".written-interrupted"
    left_over.write_text("half")
    hour_ago = time.time() - 3700
    os.utime(left_over, (hour_ago, hour_ago))

    dry = embly("gc", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would remove  2 .cwasm records whose file is gone" in dry.stdout
    assert len(list(records.iterdir())) == 3

    result = embly("gc", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "removed       2 .cwasm records whose file is gone" in result.stdout
    assert len(list(records.iterdir())) == 1
    assert written_cwasm(kept) == kept.read_bytes()


@pytest.mark.parametrize("size", ["99999999999999999999T", "1025T", "1126000GB", "9" * 400])
def test_a_max_size_beyond_1024T_is_refused_naming_the_range(tmp_path: Path, size: str) -> None:
    result = embly("gc", "--max-size", size, "--dry-run", cwd=tmp_path)

    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert "is larger than 1024T (1 PiB)" in result.stderr
    assert "give bytes or a number with a unit from 0 to 1024T, e.g. 500M, 10G" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_max_size_of_1024T_is_taken(tmp_path: Path) -> None:
    result = embly("gc", "--max-size", "1024T", "--dry-run", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "of at most 1024.0 TiB" in result.stdout
