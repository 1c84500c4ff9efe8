"""Build spaces mirror the input tree, writing only what changed so cargo stays incremental."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest

from embly_build.errors import ProtocolError
from embly_build.protocol.input_trees import TreeFile, encode_input_tree
from embly_build.protocol.tree_diff import DecodedTree, decode_after
from embly_build.server.build.build_space import MANIFEST_NAME, BuildSpace
from embly_build.server.build.space_trees import SpaceTree
from embly_build.server.cas.store import ContentStore


def tree(
    store: ContentStore, files: dict[str, bytes], executable: tuple[str, ...] = ()
) -> list[TreeFile]:
    return [stored(store, path, data, path in executable) for path, data in sorted(files.items())]


def stored(store: ContentStore, path: str, data: bytes, executable: bool = False) -> TreeFile:
    digest = store.put_bytes(data)
    return TreeFile(path, digest.sha256, digest.size_bytes, executable)


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


def test_first_sync_writes_every_file_with_its_mode(tmp_path: Path, store: ContentStore) -> None:
    space = BuildSpace(tmp_path / "space")
    result = space.sync(
        tree(store, {"a/Cargo.toml": b"[package]", "a/run.sh": b"#!"}, ("a/run.sh",)), store
    )
    assert result.written == 2
    assert (space.src / "a/Cargo.toml").read_bytes() == b"[package]"
    assert os.access(space.src / "a/run.sh", os.X_OK)
    assert not os.access(space.src / "a/Cargo.toml", os.X_OK)


def test_resync_writes_only_changed_files_and_keeps_other_mtimes(
    tmp_path: Path, store: ContentStore
) -> None:
    space = BuildSpace(tmp_path / "space")
    space.sync(tree(store, {"keep.rs": b"same", "edit.rs": b"old", "gone.rs": b"bye"}), store)
    old = 1_000_000_000
    for name in ("keep.rs", "edit.rs"):
        os.utime(space.src / name, ns=(old, old))
    result = space.sync(tree(store, {"keep.rs": b"same", "edit.rs": b"new"}), store)
    assert (result.written, result.removed, result.unchanged) == (1, 1, 1)
    assert (space.src / "keep.rs").stat().st_mtime_ns == old
    assert (space.src / "edit.rs").stat().st_mtime_ns > old
    assert (space.src / "edit.rs").read_bytes() == b"new"
    assert not (space.src / "gone.rs").exists()


def test_removed_directories_are_cleaned_and_files_may_replace_them(
    tmp_path: Path, store: ContentStore
) -> None:
    space = BuildSpace(tmp_path / "space")
    space.sync(tree(store, {"dir/inner/file.rs": b"1"}), store)
    space.sync(tree(store, {"dir": b"now a file"}), store)
    assert (space.src / "dir").read_bytes() == b"now a file"


def test_interrupted_sync_is_repaired_by_content(tmp_path: Path, store: ContentStore) -> None:
    space = BuildSpace(tmp_path / "space")
    space.sync(tree(store, {"a.rs": b"a", "b.rs": b"b"}), store)
    (space.root / MANIFEST_NAME).unlink()  # what an interrupted sync leaves
    (space.src / "b.rs").write_bytes(b"corrupted")
    (space.src / "stray.rs").write_bytes(b"left over")
    result = space.sync(tree(store, {"a.rs": b"a", "b.rs": b"b"}), store)
    assert (space.src / "b.rs").read_bytes() == b"b"
    assert not (space.src / "stray.rs").exists()
    assert result.unchanged == 1


@pytest.mark.parametrize(
    "manifest",
    [b"", b"not marshal", marshal.dumps([1, 2]), marshal.dumps({"b.rs": 7}), b"\xff" * 8],
)
def test_a_damaged_manifest_is_no_manifest(
    tmp_path: Path, store: ContentStore, manifest: bytes
) -> None:
    """Truncated, garbage, another shape, or from a Python whose marshal differs: the space
    is compared by content, as with no manifest at all."""
    space = BuildSpace(tmp_path / "space")
    space.sync(tree(store, {"a.rs": b"a", "b.rs": b"b"}), store)
    (space.root / MANIFEST_NAME).write_bytes(manifest)
    (space.src / "b.rs").write_bytes(b"c")  # same size, other bytes
    result = space.sync(tree(store, {"a.rs": b"a", "b.rs": b"b"}), store)
    assert (space.src / "b.rs").read_bytes() == b"b"
    assert (result.written, result.unchanged) == (1, 1)
    again = space.sync(tree(store, {"a.rs": b"a", "b.rs": b"b"}), store)
    assert (again.written, again.unchanged) == (0, 2), "the manifest was written anew"


def test_hostile_path_never_touches_the_disk(tmp_path: Path, store: ContentStore) -> None:
    space = BuildSpace(tmp_path / "space")
    hostile = [stored(store, "../escape.rs", b"x")]
    with pytest.raises(ProtocolError):
        space.sync(hostile, store)
    assert not (tmp_path / "space" / "escape.rs").exists()
    assert not (tmp_path / "escape.rs").exists()


def test_a_source_replaced_in_the_space_by_a_symlink_is_written_back(
    tmp_path: Path, store: ContentStore
) -> None:
    """As a build script might do: same size, same bytes behind it, but not the tree's file."""
    space = BuildSpace(tmp_path / "space")
    files = tree(store, {"src/lib.rs": b"pub fn a() {}"})
    space.sync(files, store)
    elsewhere = tmp_path / "elsewhere.rs"
    elsewhere.write_bytes(b"pub fn a() {}")
    (space.src / "src/lib.rs").unlink()
    (space.src / "src/lib.rs").symlink_to(elsewhere)

    assert space.sync(files, store).written == 1
    assert not (space.src / "src/lib.rs").is_symlink()
    assert (space.src / "src/lib.rs").read_bytes() == b"pub fn a() {}"


def remembered(space: BuildSpace, files: list[TreeFile]) -> SpaceTree:
    token = space.manifest_token()
    assert token is not None
    return SpaceTree(DecodedTree.decode(encode_input_tree(files).data), token, 0.0)


def space_contents(space: BuildSpace) -> dict[str, tuple[bytes, bool]]:
    return {
        path.relative_to(space.src).as_posix(): (path.read_bytes(), os.access(path, os.X_OK))
        for path in space.src.rglob("*")
        if path.is_file()
    }


def test_a_change_applied_alone_leaves_what_a_full_sync_leaves(
    tmp_path: Path, store: ContentStore
) -> None:
    space = BuildSpace(tmp_path / "space")
    first = tree(store, {"Cargo.toml": b"[p]", "a": b"file", "src/keep.rs": b"k", "src/x.rs": b"x"})
    space.sync(first, store)
    old = 1_000_000_000
    os.utime(space.src / "src/keep.rs", ns=(old, old))
    base = remembered(space, first)
    # "a" becomes a directory, x.rs is edited and made executable, a file is added.
    second = tree(
        store,
        {"Cargo.toml": b"[p]", "a/b": b"inside", "src/keep.rs": b"k", "src/x.rs": b"x2", "z": b""},
        ("src/x.rs",),
    )
    tree_after, change = decode_after(base.tree, encode_input_tree(second).data)
    result = space.sync_change(base, change, tree_after.files, store)
    assert result is not None
    assert (result.written, result.removed) == (3, 1)
    fresh = BuildSpace(tmp_path / "fresh")
    fresh.sync(second, store)
    assert space_contents(space) == space_contents(fresh)
    assert (space.src / "src/keep.rs").stat().st_mtime_ns == old
    # The manifest it wrote serves a full sync as well: nothing left to write.
    assert space.sync(second, store).written == 0


def test_a_change_is_not_applied_to_a_space_synced_by_someone_else(
    tmp_path: Path, store: ContentStore
) -> None:
    space = BuildSpace(tmp_path / "space")
    first = tree(store, {"Cargo.toml": b"[p]", "main.rs": b"one"})
    space.sync(first, store)
    base = remembered(space, first)
    other = tree(store, {"Cargo.toml": b"[p]", "main.rs": b"other process"})
    BuildSpace(space.root).sync(other, store)  # another process, sharing EMBLY_HOME
    second = tree(store, {"Cargo.toml": b"[p]", "main.rs": b"two"})
    tree_after, change = decode_after(base.tree, encode_input_tree(second).data)
    assert space.sync_change(base, change, tree_after.files, store) is None
    assert (space.src / "main.rs").read_bytes() == b"other process"
    (space.root / MANIFEST_NAME).unlink()  # an interrupted sync
    assert space.sync_change(base, change, tree_after.files, store) is None
