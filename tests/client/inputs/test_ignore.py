from __future__ import annotations

import os
import subprocess
from pathlib import Path

from embly_build.client.inputs.ignore import (
    ALWAYS_IGNORED_NAMES,
    IgnoreFilter,
    NameFilter,
    PathFilter,
    input_filter,
)
from tests.client.files import write


def kept(root: Path, ignored: IgnoreFilter) -> set[str]:
    """The files a top-down walk keeps, relative to `root`. The filter is asked both about each
    path and about each directory's entries at once, and must answer the same."""
    found: set[str] = set()
    for directory, dirnames, filenames in os.walk(root):
        base = Path(directory)
        at_once = ignored.ignored_entries(directory, dirnames, filenames)
        one_by_one = {d for d in dirnames if ignored(base / d, True)}
        one_by_one.update(f for f in filenames if ignored(base / f, False))
        assert at_once == one_by_one, directory
        dirnames[:] = [d for d in dirnames if d not in one_by_one]
        found.update(
            (base / f).relative_to(root).as_posix() for f in filenames if f not in one_by_one
        )
    return found


def test_nested_gitignore_negation_and_deeper_override(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    write(root / ".gitignore", "*.log\n!important.log\nbuild/\nlocal.txt\n")
    write(root / "sub" / ".gitignore", "!debug.log\n/anchored.txt\n")
    for name in [
        "a.log",
        "important.log",
        "local.txt",
        "anchored.txt",
        "build/out.bin",
        "sub/debug.log",
        "sub/other.log",
        "sub/local.txt",
        "sub/anchored.txt",
        "sub/deeper/anchored.txt",
        "sub/build/out.bin",
        "src/build",  # a file: `build/` only matches directories
    ]:
        write(root / name)

    assert kept(root, input_filter([root], tmp_path / "out")) == {
        ".gitignore",
        "important.log",
        "anchored.txt",
        "sub/.gitignore",
        "sub/debug.log",
        "sub/deeper/anchored.txt",
        "src/build",
    }


def test_file_in_ignored_directory_cannot_be_reincluded(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    write(root / ".gitignore", "generated/\n!generated/keep.rs\n")
    write(root / "generated" / "keep.rs")
    ignored = input_filter([root], tmp_path / "out")

    assert kept(root, ignored) == {".gitignore"}
    # Asked about the deep path directly, as a file watcher does, the answer is the same.
    assert ignored(root / "generated" / "keep.rs", False)


def test_gitignore_above_root_applies_up_to_the_repository(tmp_path: Path) -> None:
    write(tmp_path / ".gitignore", "*.rs\n")  # above the repository: not git's business
    repo = tmp_path / "repo"
    _git("init", "-q", repo)
    write(repo / ".gitignore", "*.tmp\n")
    write(repo / "functions" / ".gitignore", "secret.txt\n")
    root = repo / "functions" / "hello"
    for name in ["src/main.rs", "scratch.tmp", "secret.txt", "notes.txt"]:
        write(root / name)

    assert kept(root, input_filter([root], repo / "embly_build")) == {"src/main.rs", "notes.txt"}


def test_without_repository_the_project_gitignore_covers_its_functions(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project / ".gitignore", "*.tmp\n")
    root = project / "hello"
    write(root / ".gitignore", "*.bak\n")
    write(root / "scratch.tmp")
    write(root / "old.bak")
    write(root / "main.rs")

    assert kept(root, input_filter([root], project / "embly_build")) == {".gitignore", "main.rs"}


def test_without_repository_a_directory_outside_the_project_has_only_its_own(
    tmp_path: Path,
) -> None:
    write(tmp_path / ".gitignore", "*.tmp\n")
    outside = tmp_path / "shared"
    write(outside / ".gitignore", "*.bak\n")
    write(outside / "scratch.tmp")
    write(outside / "old.bak")

    project_output = tmp_path / "project" / "embly_build"
    assert kept(outside, input_filter([outside], project_output)) == {".gitignore", "scratch.tmp"}


def test_root_ignored_by_an_outer_gitignore_is_still_an_input(tmp_path: Path) -> None:
    _git("init", "-q", tmp_path)
    write(tmp_path / ".gitignore", "static/\n*.tmp\n")
    static = tmp_path / "static"
    write(static / "index.html")
    write(static / "draft.tmp")

    ignored = input_filter([static], tmp_path / "embly_build")

    assert kept(static, ignored) == {"index.html"}


def test_cargo_target_ignored_but_module_named_target_kept(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    write(root / "Cargo.toml")
    write(root / "target" / "debug" / "fn.wasm")
    write(root / "src" / "target" / "mod.rs")
    write(root / "nested" / "Cargo.toml")
    write(root / "nested" / "target" / "release" / "x")

    ignored = input_filter([root], tmp_path / "out")

    assert kept(root, ignored) == {"Cargo.toml", "src/target/mod.rs", "nested/Cargo.toml"}
    assert ignored(root / "target" / "debug" / "fn.wasm", False)


def test_output_dir_and_git_dir_ignored(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project / "embly.hcl")
    write(project / "embly_build" / "hello.wasm")
    write(project / ".git" / "HEAD")
    write(project / "sub" / ".git" / "config")

    ignored = input_filter([project], project / "embly_build")

    assert kept(project, ignored) == {"embly.hcl"}
    assert ".git" in ALWAYS_IGNORED_NAMES


def test_paths_outside_every_root_are_not_judged(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    root.mkdir()
    ignored = input_filter([root], tmp_path / "out")

    assert not ignored(tmp_path / "elsewhere" / ".git", True)
    assert ignored(tmp_path / "out" / "x.wasm", False)


def test_filters_compose(tmp_path: Path) -> None:
    both = NameFilter([tmp_path], {"node_modules"}) | PathFilter([tmp_path / "dist"])

    assert both(tmp_path / "web" / "node_modules" / "x.js", False)
    assert both(tmp_path / "dist", True)
    assert not both(tmp_path / "web" / "app.js", False)


def test_a_directory_is_judged_at_once(tmp_path: Path) -> None:
    output = tmp_path / "fn" / "out"
    ignored = PathFilter([output]) | NameFilter([tmp_path / "fn"], {"node_modules"})

    assert ignored.ignored_entries(str(tmp_path / "fn"), ["out", "node_modules", "src"], ["a"]) == {
        "out",
        "node_modules",
    }
    assert ignored.ignored_entries(str(output), ["debug"], ["x.wasm"]) == {"debug", "x.wasm"}
    assert ignored.ignored_entries(str(tmp_path / "elsewhere"), ["node_modules"], []) == set()


def test_nested_root_is_an_input_even_when_the_outer_gitignore_ignores_it(tmp_path: Path) -> None:
    crate = tmp_path / "fn"
    write(crate / ".gitignore", "assets/\n*.tmp\n")
    write(crate / "assets" / "logo.svg")
    write(crate / "assets" / "draft.tmp")
    ignored = input_filter([crate, crate / "assets"], tmp_path / "out")

    assert kept(crate, ignored) == {".gitignore", "assets/logo.svg"}


def test_editor_swap_lock_and_backup_files_are_not_inputs(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    write(root / "src" / "main.rs")
    editor_files = [
        ".main.rs.swp",
        ".main.rs.swo",
        "4913",
        "main.rs~",
        "#main.rs#",
        "main.rs___jb_tmp___",
        ".main.rs.kate-swp",
        ".DS_Store",
    ]
    for name in editor_files:
        write(root / "src" / name)
    write(root / "src" / "a.swp")  # not vim's (no leading dot): kept
    write(root / "src" / "swap" / "mod.rs")

    ignored = input_filter([root], tmp_path / "out")

    assert kept(root, ignored) == {"src/main.rs", "src/a.swp", "src/swap/mod.rs"}


def test_the_repositorys_info_exclude_applies_below_every_gitignore(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _git("init", "-q", repo)
    write(repo / ".git" / "info" / "exclude", "*.log\n/functions/hello/local/\nhello/\n")
    root = repo / "functions" / "hello"
    write(root / ".gitignore", "!keep.log\n")  # a .gitignore outranks info/exclude
    for name in ["src/main.rs", "debug.log", "keep.log", "local/settings.toml"]:
        write(root / name)

    # `hello/` would ignore the input directory itself: naming it as an input wins.
    assert kept(root, input_filter([root], repo / "embly_build")) == {
        ".gitignore",
        "src/main.rs",
        "keep.log",
    }


def _git(*args: str | Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *map(str, args)],
        check=True,
        capture_output=True,
    )


def test_a_worktree_honours_its_main_repositorys_info_exclude(tmp_path: Path) -> None:
    main = tmp_path / "main"
    _git("init", "-q", main)
    _git("-C", main, "commit", "-q", "--allow-empty", "-m", "start")
    worktree = tmp_path / "feature"
    _git("-C", main, "worktree", "add", "-q", worktree)
    assert (worktree / ".git").is_file()  # it points to main/.git/worktrees/feature
    write(main / ".git" / "info" / "exclude", "*.log\n")
    root = worktree / "hello"
    for name in ["src/main.rs", "debug.log"]:
        write(root / name)

    assert kept(root, input_filter([root], worktree / "embly_build")) == {"src/main.rs"}


def test_a_submodule_honours_the_info_exclude_of_its_own_git_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    _git("init", "-q", project)
    module_git = project / ".git" / "modules" / "lib"
    module_git.parent.mkdir()
    _git("init", "-q", "--separate-git-dir", module_git, project / "lib")
    write(module_git / "info" / "exclude", "*.tmp\n")
    write(project / "lib" / ".git", "gitdir: ../.git/modules/lib\n")  # as submodules write it
    root = project / "lib"
    for name in ["src/lib.rs", "scratch.tmp"]:
        write(root / name)

    assert kept(root, input_filter([root], project / "embly_build")) == {"src/lib.rs"}
