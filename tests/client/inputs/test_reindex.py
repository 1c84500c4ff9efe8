"""A re-index after file events lists only what the events name, and finds what a full
index finds."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embly_build.client.inputs import walk
from embly_build.client.inputs.index import FunctionInputs, index_function
from embly_build.client.inputs.reindex import index_after_events
from embly_build.client.inputs.stat_cache import StatCache
from tests.client.files import crate, write


def full_index(project: Path, previous: FunctionInputs | None = None) -> FunctionInputs:
    return index_function(
        project / "hello", [project / "assets"], project / "embly_build", previous=previous
    )


def after_events(previous: FunctionInputs, project: Path, changed: set[Path]) -> FunctionInputs:
    return index_after_events(
        previous, changed, project / "hello", [project / "assets"], project / "embly_build"
    )


def assert_same_index(found: FunctionInputs, expected: FunctionInputs) -> None:
    assert [(f.path, f.sha256, f.size, f.executable) for f in found.files] == [
        (f.path, f.sha256, f.size, f.executable) for f in expected.files
    ]
    assert found == expected
    assert sorted(found.directories) == sorted(expected.directories)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return hello_project(tmp_path / "project")


def hello_project(project: Path) -> Path:
    """A crate `hello` with nested modules, and an `assets` directory of sources."""
    hello = crate(project / "hello")
    for number in range(3):
        write(hello / "src" / f"part{number}" / "mod.rs", f"// part {number}\n")
        write(hello / "src" / f"part{number}" / "deep" / "leaf.rs", f"// leaf {number}\n")
    write(project / "assets" / "logo.svg", "<svg/>")
    return project


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The directories the indexer lists, in order (a spy on its one listing call)."""
    seen: list[str] = []
    real = walk._scandir

    def spy(fd: int, directory: str) -> list[os.DirEntry[str]]:
        seen.append(directory)
        return real(fd, directory)

    monkeypatch.setattr(walk, "_scandir", spy)
    yield seen


def test_only_the_directories_named_by_events_are_listed(project: Path, listed: list[str]) -> None:
    before = full_index(project)
    listed.clear()
    part1 = project / "hello" / "src" / "part1"
    write(part1 / "mod.rs", "// part 1, edited\n")

    after = after_events(before, project, {part1 / "mod.rs"})

    assert listed == [str(part1)]
    assert_same_index(after, full_index(project))
    assert after != before


def test_a_change_no_event_reported_is_not_seen(project: Path) -> None:
    """What makes it fast is also its contract: the caller must report every change."""
    before = full_index(project)
    write(project / "hello" / "src" / "part2" / "mod.rs", "// changed, unreported\n")

    assert after_events(before, project, set()) == before
    assert full_index(project) != before


def test_a_new_directory_is_walked_whole(project: Path, listed: list[str]) -> None:
    """A watcher sees the new directory but not the files written into it before a watch on
    it is in place."""
    before = full_index(project)
    new = project / "hello" / "src" / "new"
    write(new / "a.rs", "// a\n")
    write(new / "inner" / "b.rs", "// b\n")
    listed.clear()

    after = after_events(before, project, {new})

    assert sorted(listed) == [str(project / "hello" / "src"), str(new), str(new / "inner")]
    assert_same_index(after, full_index(project))


def test_a_directory_replaced_under_the_same_name_is_walked_again(project: Path) -> None:
    before = full_index(project)
    part0 = project / "hello" / "src" / "part0"
    shutil.rmtree(part0)
    write(part0 / "other.rs", "// replaced\n")

    after = after_events(before, project, {part0})

    assert_same_index(after, full_index(project))
    assert "hello/src/part0/deep/leaf.rs" not in {f.path for f in after.files}


def test_a_symlinked_file_follows_its_target_whose_event_is_reported_elsewhere(
    project: Path,
) -> None:
    target = write(project / "assets" / "words.txt", "one\n")
    links = project / "hello" / "links"
    links.mkdir()
    (links / "words.txt").symlink_to(target)
    before = full_index(project)

    write(target, "two\n")
    after = after_events(before, project, {target})

    assert_same_index(after, full_index(project))
    linked = next(f for f in after.files if f.path == "hello/links/words.txt")
    assert linked.size == len("two\n")


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        (lambda p: write(p / "hello" / ".gitignore", "part1/\n"), "hello/.gitignore"),
        (
            lambda p: write(
                p / "hello" / "Cargo.toml",
                '[package]\nname = "hello"\n[dependencies]\nutil = { path = "../util" }\n',
            ),
            "hello/Cargo.toml",
        ),
    ],
    ids=["gitignore", "cargo-manifest"],
)
def test_changes_to_what_counts_as_input_take_a_full_index(
    project: Path, listed: list[str], change: Callable[[Path], object], reported: str
) -> None:
    crate(project / "util")
    before = full_index(project)
    write(project / "hello" / "src" / ".gitignore", "")  # unreported: a full index sees it
    change(project)
    listed.clear()

    after = after_events(before, project, {project / reported})

    assert_same_index(after, full_index(project))
    assert str(project / "hello" / "src" / "part2" / "deep") in listed


def test_the_stat_cache_learns_what_a_reindex_read(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later index in another process reads nothing the re-index read already."""
    long_ago = 1_000_000_000_000_000_000  # 2001: outside the racy window
    for file in project.rglob("*"):
        os.utime(file, ns=(long_ago, long_ago))
    cache_file = tmp_path / "stat-cache.sqlite3"
    index = index_function
    with StatCache(cache_file) as cache:
        before = index(
            project / "hello", [project / "assets"], project / "embly_build", stat_cache=cache
        )
        edited = write(project / "hello" / "src" / "part1" / "mod.rs", "// edited\n")
        os.utime(edited, ns=(long_ago, long_ago + 1))
        index_after_events(
            before,
            {edited},
            project / "hello",
            [project / "assets"],
            project / "embly_build",
            stat_cache=cache,
        )
    reads: list[str] = []
    monkeypatch.setattr(walk, "hash_file", lambda path, _=None: reads.append(path) or ("", 0))

    with StatCache(cache_file) as cache:
        again = index(
            project / "hello", [project / "assets"], project / "embly_build", stat_cache=cache
        )

    assert reads == []
    assert {f.path: f.size for f in again.files}["hello/src/part1/mod.rs"] == len("// edited\n")


def test_random_changes_reported_as_a_watcher_would_match_a_full_index(project: Path) -> None:
    """Edits, new and removed files and directories, renames and mode changes, each reported
    by its path in its directory (a directory's own contents unreported when it is new)."""
    rng = random.Random(7)
    current = full_index(project)
    for _round in range(40):
        changed: set[Path] = set()
        for _change in range(rng.randint(1, 3)):
            changed |= random_change(project / "hello", rng)
        current = after_events(current, project, changed)
        assert_same_index(current, full_index(project))


def random_change(crate_dir: Path, rng: random.Random) -> set[Path]:
    directories = sorted(
        d for d in (crate_dir / "src").rglob("*") if d.is_dir() and not d.is_symlink()
    )
    files = sorted(f for f in (crate_dir / "src").rglob("*.rs") if f.is_file())
    kind = rng.choice(["edit", "add", "remove", "mkdir", "rmdir", "rename", "chmod"])
    if kind == "edit" and files:
        file = rng.choice(files)
        file.write_text(f"// {rng.random()}\n")
        return {file}
    if kind == "remove" and files:
        file = rng.choice(files)
        file.unlink()
        return {file}
    if kind == "chmod" and files:
        file = rng.choice(files)
        file.chmod(file.stat().st_mode ^ 0o100)
        return {file}
    if kind == "mkdir":
        parent = rng.choice([crate_dir / "src", *directories])
        new = parent / f"d{rng.randrange(10**6)}"
        write(new / "x.rs", "// new\n")
        write(new / "sub" / "y.rs", "// new too\n")
        return {new}
    if kind == "rmdir" and directories:
        gone = rng.choice(directories)
        shutil.rmtree(gone)
        return {gone}
    if kind == "rename" and directories:
        moved = rng.choice(directories)
        renamed = moved.with_name(f"r{rng.randrange(10**6)}")
        moved.rename(renamed)
        return {moved, renamed}
    added = rng.choice([crate_dir / "src", *directories]) / f"f{rng.randrange(10**6)}.rs"
    write(added, "// added\n")
    return {added}
