"""Where `embly watch` watches a function whose inputs cannot be indexed."""

from __future__ import annotations

import os
from pathlib import Path

from embly_build.client.watch.listable_directories import listable_directories


def test_every_directory_the_index_would_walk_and_no_ignored_one(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    for directory in ("src/deep/er", "target/debug", "logs", ".git/objects"):
        (crate / directory).mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "crate"\n')
    (crate / ".gitignore").write_text("/logs/\n")
    (crate / "src" / os.fsdecode(b"bad-\xff.rs")).write_text("a name the index refuses")
    shared = tmp_path / "shared"
    (shared / "src").mkdir(parents=True)
    (crate / "src" / "link").symlink_to(shared)

    found = listable_directories([crate, shared], tmp_path / "embly_build")

    expected = [crate, crate / "src", crate / "src" / "deep", crate / "src" / "deep" / "er"]
    assert sorted(found) == sorted([*expected, shared, shared / "src"])


def test_a_directory_that_cannot_be_listed_is_named_but_not_entered(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    (crate / "src").mkdir(parents=True)
    assert listable_directories([crate], tmp_path / "out") == (crate, crate / "src")
    (crate / "src").rename(tmp_path / "elsewhere")
    (crate / "src").symlink_to(tmp_path / "missing")
    assert listable_directories([crate], tmp_path / "out") == (crate,)
    assert listable_directories([tmp_path / "gone"], tmp_path / "out") == (tmp_path / "gone",)
