"""The record of the last tree sent per function: kept across processes, a hint only."""

from __future__ import annotations

import hashlib
from pathlib import Path

from embly_build.client.inputs.index import index_function
from embly_build.client.records.sent_trees import SentTrees
from embly_build.client.session.upload import TreeInputs
from tests.client.files import crate, write


def tree_of(directory: Path) -> TreeInputs:
    return TreeInputs.of(index_function(directory, [], directory / "embly_build"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_last_tree_sent_is_known_to_a_later_process(tmp_path: Path) -> None:
    function = crate(tmp_path / "hello")
    SentTrees(tmp_path / "sent").sent("project.hello", tree_of(function))

    known = SentTrees(tmp_path / "sent").files_known(["project.hello", "project.other"])
    assert known == {sha256(function / "Cargo.toml"), sha256(function / "src" / "lib.rs")}


def test_a_newer_tree_replaces_the_last_one(tmp_path: Path) -> None:
    function = crate(tmp_path / "hello")
    record = SentTrees(tmp_path / "sent")
    record.sent("project.hello", tree_of(function))
    old_lib = sha256(function / "src" / "lib.rs")
    write(function / "src" / "lib.rs", "// edited\n")
    record.sent("project.hello", tree_of(function))

    for reader in (record, SentTrees(tmp_path / "sent")):
        known = reader.files_known(["project.hello"])
        assert sha256(function / "src" / "lib.rs") in known and old_lib not in known


def test_a_forgotten_or_damaged_record_is_no_record(tmp_path: Path) -> None:
    function = crate(tmp_path / "hello")
    record = SentTrees(tmp_path / "sent")
    record.sent("project.hello", tree_of(function))
    record.forget("project.hello")
    assert record.files_known(["project.hello"]) == set()
    assert SentTrees(tmp_path / "sent").files_known(["project.hello"]) == set()

    record.sent("project.hello", tree_of(function))
    (tmp_path / "sent" / "project.hello.files").write_bytes(b"\x0a\xff not a record")
    assert SentTrees(tmp_path / "sent").files_known(["project.hello"]) == set()


def test_a_record_that_cannot_be_written_does_not_fail_the_build(tmp_path: Path) -> None:
    blocked = write(tmp_path / "sent", "a file where the directory would go")
    function = crate(tmp_path / "hello")
    record = SentTrees(blocked)
    record.sent("project.hello", tree_of(function))  # no error
    assert record.files_known(["project.hello"]), "still known to this process"
    assert SentTrees(blocked).files_known(["project.hello"]) == set()
