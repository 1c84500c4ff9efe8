"""Reading a tree as a change to an earlier one gives what a full read gives, or its error."""

from __future__ import annotations

import hashlib
import random

import pytest

from embly_build.errors import ProtocolError
from embly_build.protocol.input_trees import TreeFile, encode_input_tree
from embly_build.protocol.tree_diff import DecodedTree, decode_after
from embly_build.server.requests import check_tree, check_tree_change

NAMES = ["a", "b", "lib.rs", "main.rs", "mod", "x-y", "src", "Cargo.toml"]


def random_path(rng: random.Random) -> str:
    return "/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 3)))


def random_file(rng: random.Random, path: str) -> TreeFile:
    size = rng.choice([0, 1, 300, 70_000])
    sha256 = hashlib.sha256(f"{path}{rng.random()}".encode()).hexdigest()
    return TreeFile(path, sha256, size, rng.random() < 0.2)


def edited(rng: random.Random, files: dict[str, TreeFile]) -> dict[str, TreeFile]:
    result = dict(files)
    for _ in range(rng.randint(0, 3)):
        action = rng.choice(["edit", "add", "remove", "mode", "rename"])
        if action == "add" or not result:
            path = random_path(rng)
            result[path] = random_file(rng, path)
            continue
        path = rng.choice(sorted(result))
        if action == "edit":
            result[path] = random_file(rng, path)._replace(executable=result[path].executable)
        elif action == "remove":
            del result[path]
        elif action == "mode":
            result[path] = result[path]._replace(executable=not result[path].executable)
        else:
            new_path = random_path(rng)
            result[new_path] = result.pop(path)._replace(path=new_path)
    return result


def outcome(action: object) -> object:
    """What calling `action` gives: its result, or that it raised a ProtocolError."""
    try:
        return action()  # type: ignore[operator]
    except ProtocolError:
        return ProtocolError


@pytest.mark.parametrize("seed", range(20))
def test_a_change_read_alone_equals_the_full_read(seed: int) -> None:
    rng = random.Random(seed)
    files: dict[str, TreeFile] = {}
    for _ in range(rng.randint(0, 40)):
        path = random_path(rng)
        files[path] = random_file(rng, path)
    base = DecodedTree.decode(encode_input_tree(files.values()).data)
    for _ in range(30):
        files = edited(rng, files)
        data = encode_input_tree(files.values()).data
        tree, change = decode_after(base, data)
        full = DecodedTree.decode(data)
        assert (tree.files, tree.ends) == (full.files, full.ends)
        assert tree.files == [
            *base.files[: change.start],
            *change.added,
            *base.files[change.base_stop :],
        ]
        base = tree


def test_an_edit_reads_only_the_changed_entry() -> None:
    files = [random_file(random.Random(n), f"src/file{n:05}.rs") for n in range(2000)]
    base = DecodedTree.decode(encode_input_tree(files).data)
    files[1234] = files[1234]._replace(sha256="0" * 64)
    tree, change = decode_after(base, encode_input_tree(files).data)
    assert change.added == [files[1234]]
    assert (change.start, change.base_stop) == (1234, 1235)
    assert tree.files == files


@pytest.mark.parametrize("seed", range(10))
def test_damaged_bytes_fail_as_the_full_read_fails(seed: int) -> None:
    rng = random.Random(seed)
    files = {p: random_file(rng, p) for p in {random_path(rng) for _ in range(30)}}
    data = encode_input_tree(files.values()).data
    base = DecodedTree.decode(encode_input_tree(edited(rng, files).values()).data)
    for _ in range(300):
        damaged = bytearray(data)
        position = rng.randrange(len(damaged))
        kind = rng.choice(["flip", "cut", "insert"])
        if kind == "flip":
            damaged[position] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            del damaged[position : position + rng.randint(1, 40)]
        else:
            damaged[position:position] = bytes([rng.randrange(256)])
        damaged_data = bytes(damaged)
        full = outcome(lambda: DecodedTree.decode(damaged_data))  # noqa: B023
        alone = outcome(lambda: decode_after(base, damaged_data)[0])  # noqa: B023
        if full is ProtocolError:
            assert alone is ProtocolError
        else:
            assert isinstance(alone, DecodedTree) and isinstance(full, DecodedTree)
            assert (alone.files, alone.ends) == (full.files, full.ends)


def test_unsorted_or_repeated_entries_next_to_kept_ones_are_refused() -> None:
    files = [random_file(random.Random(n), f"f{n}") for n in range(6)]
    base = DecodedTree.decode(encode_input_tree(files).data)
    entries = [encode_input_tree([file]).data for file in files]
    repeated = b"".join([*entries[:3], entries[2], *entries[3:]])
    swapped = b"".join([*entries[:2], entries[3], entries[2], *entries[4:]])
    for data in (repeated, swapped):
        with pytest.raises(ProtocolError, match="not sorted"):
            decode_after(base, data)


@pytest.mark.parametrize("seed", range(20))
def test_checking_the_change_alone_refuses_what_a_full_check_refuses(seed: int) -> None:
    rng = random.Random(seed)
    names = ["Cargo.toml", "src", "src/main.rs", "src/a", "src/a/b.rs", "../up", "a//b", "ok"]
    valid: dict[str, TreeFile] = {"Cargo.toml": random_file(rng, "Cargo.toml")}
    base = DecodedTree.decode(encode_input_tree(valid.values()).data)
    for _ in range(40):
        files = dict(valid)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(names)
            if path in files and rng.random() < 0.4:
                del files[path]
            else:
                files[path] = random_file(rng, path)
                if rng.random() < 0.1:
                    files[path] = files[path]._replace(sha256="not hex")
        tree, change = decode_after(base, encode_input_tree(files.values()).data)
        full = outcome(lambda: check_tree(tree.files, "."))  # noqa: B023
        alone = outcome(lambda: check_tree_change(tree.files, change.added, "."))  # noqa: B023
        assert alone == full, sorted(files)
        if full is None:  # a checked tree is the base of the next change
            valid, base = files, tree
