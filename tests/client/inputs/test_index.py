from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from embly_build.client.inputs.index import FunctionInputs, index_function
from embly_build.client.inputs.walk import hash_file
from embly_build.errors import InputError
from tests.client.files import crate, write


def paths(inputs: FunctionInputs) -> list[str]:
    return [f.path for f in inputs.files]


def test_root_is_common_ancestor_and_paths_are_relative(tmp_path: Path) -> None:
    project = tmp_path / "project"
    hello = crate(project / "functions" / "hello", '[dependencies]\nutil = { path = "../../util" }')
    crate(project / "util")
    write(project / "assets" / "logo.svg", "<svg/>")

    inputs = index_function(hello, [project / "assets"], project / "embly_build")

    assert inputs.root == project
    assert inputs.crate_dir == "functions/hello"
    assert inputs.input_dirs == (hello, project / "assets", project / "util")
    assert paths(inputs) == [
        "assets/logo.svg",
        "functions/hello/Cargo.toml",
        "functions/hello/src/lib.rs",
        "util/Cargo.toml",
        "util/src/lib.rs",
    ]
    logo = inputs.files[0]
    assert logo.absolute == project / "assets" / "logo.svg"
    assert logo.size == len(b"<svg/>")


def test_single_crate_is_its_own_root(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    write(hello / "assets" / "a.txt")

    inputs = index_function(hello, [hello / "assets"], tmp_path / "embly_build")

    assert inputs.root == hello
    assert inputs.crate_dir == "."
    assert paths(inputs) == ["Cargo.toml", "assets/a.txt", "src/lib.rs"]


def test_sha256_and_size_match_the_bytes(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    data = os.urandom(3 * 1024 * 1024 + 17)
    write(hello / "big.bin", data)

    inputs = index_function(hello, [], tmp_path / "out")

    big = next(f for f in inputs.files if f.path == "big.bin")
    assert big.sha256 == hashlib.sha256(data).hexdigest()
    assert big.size == len(data)
    assert hash_file(hello / "big.bin") == (big.sha256, big.size)


def test_executable_bit(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    script = write(hello / "build.sh", "#!/bin/sh\n")
    script.chmod(0o755)

    inputs = index_function(hello, [], tmp_path / "out")

    executable = {f.path: f.executable for f in inputs.files}
    assert executable == {"Cargo.toml": False, "build.sh": True, "src/lib.rs": False}


def test_ignored_files_are_not_indexed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    hello = crate(project)
    write(project / ".gitignore", "*.tmp\n")
    write(project / "scratch.tmp")
    write(project / "target" / "debug" / "hello.wasm")
    write(project / ".git" / "HEAD")
    write(project / "embly_build" / "hello.wasm")

    inputs = index_function(hello, [], project / "embly_build")

    assert paths(inputs) == [".gitignore", "Cargo.toml", "src/lib.rs"]


def test_source_dir_inside_the_crate_is_indexed_even_when_gitignored(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    write(hello / ".gitignore", "assets/\n*.tmp\n")
    write(hello / "assets" / "logo.svg", "<svg/>")
    write(hello / "assets" / "draft.tmp")

    inputs = index_function(hello, [hello / "assets"], tmp_path / "out")

    assert paths(inputs) == [".gitignore", "Cargo.toml", "assets/logo.svg", "src/lib.rs"]


def test_symlinks_inside_inputs_are_followed(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    write(hello / "shared" / "config.toml", "x = 1\n")
    (hello / "config.toml").symlink_to("shared/config.toml")
    (hello / "linked").symlink_to("shared", target_is_directory=True)
    (hello / "shared" / "loop").symlink_to("..", target_is_directory=True)

    inputs = index_function(hello, [], tmp_path / "out")

    assert paths(inputs) == [
        "Cargo.toml",
        "config.toml",
        "linked/config.toml",
        "shared/config.toml",
        "src/lib.rs",
    ]
    by_path = {f.path: f for f in inputs.files}
    assert by_path["config.toml"].sha256 == by_path["shared/config.toml"].sha256


def test_symlink_into_another_input_dir_is_followed(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    write(tmp_path / "assets" / "logo.svg", "<svg/>")
    (hello / "logo.svg").symlink_to(tmp_path / "assets" / "logo.svg")

    inputs = index_function(hello, [tmp_path / "assets"], tmp_path / "out")

    assert "hello/logo.svg" in paths(inputs)


def test_symlink_leaving_inputs_is_refused(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    outside = write(tmp_path / "secrets" / "key.pem")
    (hello / "key.pem").symlink_to(outside)

    with pytest.raises(InputError) as caught:
        index_function(hello, [], tmp_path / "out")

    assert str(caught.value) == (
        f"{hello / 'key.pem'} -> {outside} leaves the function's inputs ({hello}); "
        "copy the file in or add its directory to `sources` in embly.hcl"
    )


def test_dangling_symlink_is_refused(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    (hello / "gone.txt").symlink_to("nowhere.txt")

    with pytest.raises(InputError) as caught:
        index_function(hello, [], tmp_path / "out")

    assert str(caught.value).startswith(
        f"{hello / 'gone.txt'} -> nowhere.txt is a dangling symlink"
    )


@pytest.mark.parametrize("target", ["loop.txt", "other.txt"])
def test_symlink_loop_is_refused_as_a_loop(tmp_path: Path, target: str) -> None:
    hello = crate(tmp_path / "hello")
    (hello / "loop.txt").symlink_to(target)
    (hello / "other.txt").symlink_to("loop.txt")

    with pytest.raises(InputError) as caught:
        index_function(hello, [], tmp_path / "out")

    assert "is a symlink loop" in str(caught.value)
    assert "remove the link or fix its target" in str(caught.value)


def test_ignored_dangling_symlink_is_fine(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    write(hello / ".gitignore", "result\n")
    (hello / "result").symlink_to("/nix/store/does-not-exist")

    assert "result" not in paths(index_function(hello, [], tmp_path / "out"))


def test_emacs_lock_link_is_not_an_input(tmp_path: Path) -> None:
    """Emacs marks a file with unsaved changes by a symlink to nowhere."""
    hello = crate(tmp_path / "hello")
    (hello / "src" / ".#lib.rs").symlink_to("ada@laptop.4242:1700000000")

    assert paths(index_function(hello, [], tmp_path / "out")) == ["Cargo.toml", "src/lib.rs"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    secret = write(hello / "secret.txt")
    secret.chmod(0)

    with pytest.raises(InputError) as caught:
        index_function(hello, [], tmp_path / "out")

    assert str(caught.value).startswith(f"cannot read {secret}: Permission denied")


def test_fifo_is_skipped(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    os.mkfifo(hello / "pipe")

    assert paths(index_function(hello, [], tmp_path / "out")) == ["Cargo.toml", "src/lib.rs"]


def test_a_name_that_is_not_utf8_is_refused_unless_ignored(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    (hello / "data").mkdir()
    with open(os.fsencode(hello / "data") + b"/caf\xe9.txt", "wb") as latin1:
        latin1.write(b"named in latin-1")

    with pytest.raises(InputError, match=r"data/caf\\xe9\.txt: the file's name is not valid UTF-8"):
        index_function(hello, [], hello / "embly_build")

    write(hello / ".gitignore", "/data/\n")
    assert paths(index_function(hello, [], hello / "embly_build")) == [
        ".gitignore",
        "Cargo.toml",
        "src/lib.rs",
    ]


def test_missing_source_dir_is_refused(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")

    with pytest.raises(InputError) as caught:
        index_function(hello, [tmp_path / "assets"], tmp_path / "out")

    assert str(caught.value).startswith(f"{tmp_path / 'assets'} does not exist; restore it")


def test_a_file_named_as_source_dir_is_refused(tmp_path: Path) -> None:
    hello = crate(tmp_path / "hello")
    (tmp_path / "assets").write_text("not a directory")

    with pytest.raises(InputError) as caught:
        index_function(hello, [tmp_path / "assets"], tmp_path / "out")

    assert str(caught.value).startswith(f"{tmp_path / 'assets'} is not a directory")
