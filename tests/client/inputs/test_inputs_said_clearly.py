"""What embly says about inputs it cannot take, and about ignore files: which file, which
function, which rule and what to do, in text that cannot drive the terminal."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from embly_build import connect
from embly_build.client.inputs.index import index_function
from embly_build.errors import InputError
from tests.client.files import crate, write
from tests.client.inputs.test_inputs_as_git_lists import (
    embly_selects,
    git_lists,
    repository,
)

# Control characters (C0, DEL, C1) a terminal acts on: none may reach it from a file.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def refusal(function: Path) -> str:
    with pytest.raises(InputError) as refused:
        index_function(function, [], function / "embly_build")
    return str(refused.value)


def test_a_file_with_a_backslash_is_refused_by_its_full_path(tmp_path: Path) -> None:
    work_tree = repository(tmp_path / "fn", {"src/main.rs": "", "bin\\": "built on Windows"})
    assert "bin\\" in git_lists(work_tree), "git lists it: leaving it out would hide it"

    said = refusal(work_tree)

    assert said.startswith(f"{work_tree / 'bin'}\\: ")
    assert "backslash" in said and "rename it, or ignore it in .gitignore" in said

    write(work_tree / ".gitignore", "bin\\\\\n")  # as the message says: then it is no input
    assert embly_selects(work_tree) == git_lists(work_tree)


async def test_a_build_says_which_function_a_refused_file_is_in(
    tmp_path: Path, embly_home: Path
) -> None:
    project = tmp_path / "project"
    write(project / "embly.hcl", 'function "fnx" {\n  runtime = "rust"\n  path = "./fn"\n}\n')
    write(crate(project / "fn") / "bin\\")

    async with connect() as client:
        with pytest.raises(InputError) as refused:
            await client.build(project)

    assert str(refused.value).startswith(f"function 'fnx': {project / 'fn' / 'bin'}\\: ")


def test_a_function_in_an_ignored_directory_is_told_the_rule_and_the_fix(tmp_path: Path) -> None:
    work_tree = repository(tmp_path / "repo", {".gitignore": "*\n!allow/\n!.gitignore\n"})
    function = crate(work_tree / "fn")
    gitignore = work_tree / ".gitignore"

    said = refusal(function)

    assert said.startswith(f"{function / 'Cargo.toml'} is ignored: `*` ({gitignore}:1) ")
    assert f"ignores {function}, so git lists nothing in it" in said
    assert "un-ignore its files with `!/fn/` and `!/fn/**` after that line" in said

    write(gitignore, gitignore.read_text() + "!/fn/\n!/fn/**\n")  # what it says to do
    assert embly_selects(function) == git_lists(work_tree, function) == {"Cargo.toml", "src/lib.rs"}


def test_an_ignored_cargo_toml_is_told_its_own_rule(tmp_path: Path) -> None:
    work_tree = repository(tmp_path / "repo", {})
    function = crate(work_tree / "fn")
    gitignore = write(function / ".gitignore", "# configuration\n*.toml\n")

    said = refusal(function)

    assert said.startswith(f"{function / 'Cargo.toml'} is ignored: `*.toml` ({gitignore}:2) ")
    assert "ignores it, so git does not list it" in said
    assert "un-ignore it with `!/Cargo.toml` after that line" in said

    write(gitignore, gitignore.read_text() + "!/Cargo.toml\n")
    assert embly_selects(function) == git_lists(work_tree, function)


def test_warnings_quote_ignore_files_without_control_characters(
    tmp_path: Path, warned: Callable[[], list[str]]
) -> None:
    lines = [
        b"\x1b]0;PWNED\x07\x1b[31mRED[",  # sets the title, turns red; an unclosed `[`
        b"\xc2\x9b2J[",  # C1 CSI in UTF-8: clears the screen
        b"a\x7f\\",  # DEL; a trailing backslash
        b"x\x00\x1b[5m",  # read up to its NUL: what follows is said, escaped
    ]
    work_tree = repository(tmp_path / "fn", {".gitignore": b"\n".join(lines) + b"\n"})

    embly_selects(work_tree)

    said = warned()
    assert len(said) == len(lines)
    assert not [message for message in said if CONTROL.search(message)]
    assert "`\\x1b]0;PWNED\\x07\\x1b[31mRED[`" in said[0]
    assert "`\\x9b2J[`" in said[1]
    assert "`a\\x7f\\`" in said[2]


def test_a_nul_byte_ends_a_line_as_git_reads_it(
    tmp_path: Path, warned: Callable[[], list[str]]
) -> None:
    work_tree = repository(
        tmp_path / "fn",
        {".gitignore": b"foo\x00bar\nspace \x00\n", "foo": "", "bar": "", "space": "", "x": ""},
    )

    expected = {".gitignore", "Cargo.toml", "bar", "x"}
    assert embly_selects(work_tree) == git_lists(work_tree) == expected
    gitignore = work_tree / ".gitignore"
    assert [m for m in warned() if f"{gitignore}:1: `foo\\x00bar` has a NUL byte" in m]
    assert [m for m in warned() if "git reads the line up to it, as `space `" in m]


def test_a_refused_name_is_shown_escaped(tmp_path: Path) -> None:
    work_tree = repository(tmp_path / "fn", {"src/main.rs": "", "\x1b[2J\\": ""})

    said = refusal(work_tree)

    assert not CONTROL.search(said)
    assert said.startswith(f"{work_tree}/\\x1b[2J\\: ")
