"""A function's inputs are the files git lists: each case checked against git itself,
`git ls-files --cached --others --exclude-standard`, on a real repository."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from embly_build.client.inputs.index import index_function
from embly_build.client.inputs.input_warnings import printable
from embly_build.errors import InputError
from tests.client.files import crate, write

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always"]


def git(repository: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=repository, check=True, capture_output=True)
    return done.stdout.decode()


def repository(path: Path, files: Mapping[str, str | bytes]) -> Path:
    """A git work tree holding a crate (so that it can be indexed as a function) and `files`."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    write(path / "Cargo.toml", f'[package]\nname = "{path.name}"\n')
    for name, content in files.items():
        write(path / name, content)
    return path


def git_lists(work_tree: Path, directory: Path | None = None) -> set[str]:
    """What git lists below `directory` (the whole work tree by default), relative to it:
    files git has in its index but that no longer exist are no inputs."""
    directory = directory or work_tree
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
        cwd=directory,
        check=True,
        capture_output=True,
    ).stdout
    paths = {os.fsdecode(p) for p in listed.split(b"\0") if p}
    return {p for p in paths if (directory / p).is_file()}


def embly_selects(function: Path) -> set[str]:
    """The files `embly build` would send for a function whose crate is `function`."""
    inputs = index_function(function, [], function / "embly_build")
    return {f.path for f in inputs.files}


def selects_what_git_lists(work_tree: Path, function: Path | None = None) -> bool:
    """Whether embly selects for `function` (the work tree by default) the files git lists
    below it. A file git lists whose path holds a backslash, which no build server takes,
    must be refused by its name instead: each is checked so, then deleted. A Cargo.toml git
    does not list must be refused, naming the rule: checked so, then tracked."""
    function = function or work_tree
    listed = git_lists(work_tree, function)
    refused = {p for p in listed if "\\" in p}
    while refused:
        with pytest.raises(InputError, match="holds a backslash") as error:
            embly_selects(function)
        said = str(error.value)
        named = [p for p in refused if said.startswith(printable(f"{function / p}:"))]
        assert len(named) == 1, said
        (function / named[0]).unlink()
        refused.remove(named[0])
    if "Cargo.toml" not in listed:
        with pytest.raises(InputError, match=r"Cargo\.toml is ignored: `.*` \(.*:\d+\)"):
            embly_selects(function)
        git(function, "add", "-f", "Cargo.toml")  # tracked: listed, and the rest compared
        listed.add("Cargo.toml")
    return embly_selects(function) == {p for p in listed if "\\" not in p}


@pytest.mark.parametrize(
    "lines",
    [
        ["bin\\", "obj\\Debug\\"],  # Windows paths: a trailing backslash escapes nothing
        ["!", "*.log"],  # a lone `!`
        ["[z-a]*.tmp"],  # a reversed range: it stands for its first character
    ],
)
def test_lines_that_match_nothing_never_fail(
    tmp_path: Path, warned: Callable[[], list[str]], lines: list[str]
) -> None:
    files = {"bin/a.txt": "", "bin\\": "", "obj/Debug/x.dll": "", "z.tmp": "", "a.tmp": ""}
    files.update({"!": "", "x.log": "", ".gitignore": "\n".join(lines) + "\n"})
    work_tree = repository(tmp_path / "fn", files)

    assert selects_what_git_lists(work_tree)
    embly_selects(work_tree)  # a second index says nothing again

    gitignore = work_tree / ".gitignore"
    odd = [n for n, line in enumerate(lines, 1) if line != "*.log"]
    assert len(warned()) == len(odd)
    for message, number in zip(warned(), odd, strict=True):
        assert f"{gitignore}:{number}: `{lines[number - 1]}`" in message


@pytest.mark.parametrize(
    ("gitignore", "files"),
    [
        pytest.param(
            "*\n!*/\n!*.rs\n!Cargo.toml\n",
            ["src/main.rs", "src/notes.txt", "src/deep/er/mod.rs", "README.md"],
            id="whitelist-of-directories",
        ),
        pytest.param(
            "data/**\n!data/words.txt\n",
            ["data/words.txt", "data/other.txt", "data/sub/words.txt", "src/lib.rs"],
            id="dir-star-star-then-one-file",
        ),
        pytest.param(
            "storage/**\n!storage/.gitkeep\n",
            ["storage/.gitkeep", "storage/app.log", "storage/cache/x"],
            id="laravel-storage",
        ),
        pytest.param(
            "mixed/**/\n",
            ["mixed/a.txt", "mixed/sub/b.txt", "mixed/sub/deep/c.txt"],
            id="dir-star-star-slash",
        ),
        pytest.param("tab.txt\t\nspace.txt   \n", ["tab.txt", "tab.txt\t", "space.txt"], id="tab"),
        pytest.param("[\\]]q.txt\n", ["]q.txt", "q.txt", "\\q.txt"], id="escaped-bracket"),
        pytest.param("[[:digit:]]*.num\n", ["1a.num", "a1.num", "9.num"], id="character-class"),
        pytest.param("\ufeff*.log\n", ["a.log", "b.txt"], id="byte-order-mark"),
        pytest.param("a\x0cb.txt\n", ["a\x0cb.txt", "a", "b.txt"], id="form-feed"),
        pytest.param("*.log\r\n/x.txt\r\n", ["a.log", "x.txt", "y/x.txt"], id="crlf"),
        pytest.param("/\n//\n///\n*.o\n", ["a.o", "b"], id="slashes-alone"),
        pytest.param(
            "foo**/bar\n/a/**/b\n**/c/\n",
            ["foobar", "foo/x/bar", "a/b", "a/x/y/b", "q/c/f"],
            id="star-star",
        ),
    ],
)
def test_selection_is_what_git_lists(tmp_path: Path, gitignore: str, files: list[str]) -> None:
    contents: dict[str, str | bytes] = dict.fromkeys(files, "x")
    contents[".gitignore"] = gitignore.encode()
    work_tree = repository(tmp_path / "fn", contents)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library's warning (FutureWarning: nested set)
        assert selects_what_git_lists(work_tree)


def test_tracked_files_are_inputs_though_ignored(tmp_path: Path) -> None:
    work_tree = repository(
        tmp_path / "fn",
        {
            ".gitignore": ".env\n*.log\nbuild/\n",
            ".env": "KEY=1",
            "x.log": "",
            "y.log": "",
            "build/b.txt": "",
            "build/c.txt": "",
            "gone.txt": "",
        },
    )
    git(work_tree, "add", "-f", ".env", "x.log", "build/b.txt", "gone.txt")
    (work_tree / "gone.txt").unlink()  # deleted, still in the index: no input

    selected = embly_selects(work_tree)

    assert selected == git_lists(work_tree)
    assert {".env", "x.log", "build/b.txt"} <= selected
    assert not {"y.log", "build/c.txt", "gone.txt"} & selected


def test_a_function_inside_a_whitelist_gets_only_what_git_lists(tmp_path: Path) -> None:
    """Naming a directory as an input overrides ignoring the directory, not the rules for
    the files in it."""
    work_tree = repository(
        tmp_path / "repo", {".gitignore": "*\n!allow/\n!allow/**/\n!*.rs\n!Cargo.toml\n"}
    )
    function = crate(work_tree / "allow" / "fn")
    write(function / "README.md")
    write(function / "notes.txt")

    assert embly_selects(function) == git_lists(work_tree, function) == {"Cargo.toml", "src/lib.rs"}


def test_the_users_excludes_file_and_info_exclude(tmp_path: Path) -> None:
    work_tree = repository(tmp_path / "fn", {"a.swp": "", "b.orig": "", "c.txt": ""})
    write(tmp_path / "home" / ".config" / "git" / "ignore", "*.swp\n")
    write(work_tree / ".git" / "info" / "exclude", "*.orig\n")

    assert embly_selects(work_tree) == git_lists(work_tree) == {"Cargo.toml", "c.txt"}


def test_a_configured_excludes_file(tmp_path: Path) -> None:
    work_tree = repository(tmp_path / "fn", {"a.bak": "", "b.txt": ""})
    write(tmp_path / "my-ignore", "*.bak\n")
    git(work_tree, "config", "core.excludesFile", str(tmp_path / "my-ignore"))

    assert embly_selects(work_tree) == git_lists(work_tree) == {"Cargo.toml", "b.txt"}


def test_a_symlinked_gitignore_is_not_followed(
    tmp_path: Path, warned: Callable[[], list[str]]
) -> None:
    work_tree = repository(tmp_path / "fn", {"rules": "*.log\n", "a.log": ""})
    (work_tree / ".gitignore").symlink_to("rules")

    assert embly_selects(work_tree) == git_lists(work_tree)
    assert "a.log" in embly_selects(work_tree)
    assert any("symlink" in message for message in warned())


def test_a_submodule_is_a_work_tree_of_its_own(tmp_path: Path) -> None:
    library = repository(tmp_path / "lib", {".gitignore": "*.o\n", "lib.c": "", "lib.o": ""})
    git(library, "add", "-A")
    git(library, "commit", "-qm", "lib")
    work_tree = repository(tmp_path / "fn", {".gitignore": "*.c\n", "main.c": ""})
    git(work_tree, "submodule", "add", "-q", str(library), "vendor/lib")
    write(work_tree / "vendor" / "lib" / "new.h", "")  # untracked in the submodule

    expected = git_lists(work_tree) - {"vendor/lib"}
    expected |= {f"vendor/lib/{p}" for p in git_lists(work_tree / "vendor" / "lib")}
    assert embly_selects(work_tree) == expected
    assert {"vendor/lib/lib.c", "vendor/lib/new.h"} <= expected  # the outer `*.c` stops there


@pytest.mark.parametrize(
    "make_git",
    [
        lambda git_path: git_path.mkdir(),  # an empty directory
        lambda git_path: git_path.write_text("gitdir: ../nowhere\n"),  # a file naming nothing
        lambda git_path: (git_path / "objects").mkdir(parents=True),  # no HEAD, no refs/
        lambda git_path: _git_directory(git_path, head="not a ref\n"),
        lambda git_path: git_path.write_text(f"gitdir:{_git_directory(git_path.with_name('g'))}"),
    ],
    ids=["empty-directory", "gitfile-to-nowhere", "no-head", "garbage-head", "gitdir-no-space"],
)
def test_a_dot_git_that_is_no_repository_leaves_the_outer_rules_in_force(
    tmp_path: Path, make_git: Callable[[Path], object]
) -> None:
    """git lists what is beside a `.git` it cannot use as a repository as part of the
    outer work tree, under its rules."""
    work_tree = repository(
        tmp_path / "fn", {".gitignore": "*.log\n", "sub/a.txt": "", "sub/b.log": ""}
    )
    make_git(work_tree / "sub" / ".git")

    assert "sub/a.txt" in git_lists(work_tree) and "sub/b.log" not in git_lists(work_tree)
    assert selects_what_git_lists(work_tree)


def _git_directory(path: Path, head: str = "ref: refs/heads/main\n") -> Path:
    """A git directory made by hand: objects/, refs/ and HEAD."""
    (path / "objects").mkdir(parents=True)
    (path / "refs").mkdir()
    (path / "HEAD").write_text(head)
    return path


def _dangling_head_symlink(git_path: Path) -> None:
    _git_directory(git_path)
    (git_path / "HEAD").unlink()
    (git_path / "HEAD").symlink_to("refs/heads/main")  # the branch has no commit yet


def _refs_an_executable_file(git_path: Path) -> None:
    _git_directory(git_path)
    (git_path / "refs").rmdir()
    (git_path / "refs").write_text("")
    (git_path / "refs").chmod(0o755)  # git asks only whether it can be searched (access X_OK)


@pytest.mark.parametrize(
    "make_git",
    [
        lambda git_path: git(git_path.parent, "init", "-q"),
        _dangling_head_symlink,
        _refs_an_executable_file,
    ],
    ids=["git-init", "head-symlink-into-refs", "refs-executable-file"],
)
def test_a_dot_git_git_takes_for_a_repository_is_a_work_tree_of_its_own(
    tmp_path: Path, make_git: Callable[[Path], object]
) -> None:
    """git lists such a directory as a nested repository (`sub/`), none of its files; embly
    takes its files under its own rules, so the outer `*.log` stops there."""
    work_tree = repository(
        tmp_path / "fn", {".gitignore": "*.log\n", "sub/a.txt": "", "sub/b.log": ""}
    )
    make_git(work_tree / "sub" / ".git")

    listed = subprocess.run(
        ["git", "ls-files", "-z", "--others", "--exclude-standard"],
        cwd=work_tree,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    assert b"sub/" in listed
    assert {"sub/a.txt", "sub/b.log"} <= embly_selects(work_tree)


def test_an_unreadable_dot_git_is_no_repository_and_no_error(tmp_path: Path) -> None:
    """A `.git` the user may not read (another user's, mode 000): git says it is no
    repository; an index neither fails nor takes it for one."""
    if os.geteuid() != 0:
        pytest.skip("reading as another user needs root")
    shared = Path(tempfile.mkdtemp(prefix="embly-unreadable-git-"))  # others may enter it
    work_tree = shared / "fn"
    try:
        shared.chmod(0o755)
        crate(work_tree)
        write(work_tree / ".gitignore", "*.log\n")
        write(work_tree / "sub" / "a.txt", "")
        write(work_tree / "sub" / "b.log", "")
        _git_directory(work_tree / "sub" / ".git").chmod(0o000)
        for path in shared.rglob("*"):
            if path.name != ".git" and path.parent.name != ".git":
                path.chmod(0o755 if path.is_dir() else 0o644)
        with _as_user(65534):  # nobody
            selected = embly_selects(work_tree)
        assert "sub/a.txt" in selected and "sub/b.log" not in selected
    finally:
        if (work_tree / "sub" / ".git").exists():
            (work_tree / "sub" / ".git").chmod(0o755)
        shutil.rmtree(shared)


@contextmanager
def _as_user(uid: int) -> Iterator[None]:
    """This process acts as `uid` (its effective ids) inside the block."""
    os.setegid(uid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_outside_git_the_same_rules_as_git(tmp_path: Path) -> None:
    plain = crate(tmp_path / "plain")
    for name in ["a.log", "keep/a.log", "data/words.txt", "data/x", "[x].txt"]:
        write(plain / name, "x")
    write(plain / ".gitignore", "*.log\n!keep/*.log\ndata/**\n!data/words.txt\n\\[x\\].txt\n")
    selected = embly_selects(plain)

    copy = tmp_path / "copy"
    shutil.copytree(plain, copy)
    git(copy, "init", "-q")
    assert selected == git_lists(copy)


@pytest.mark.parametrize("trouble", ["git-missing", "corrupt-index", "locked-index"])
def test_when_git_cannot_say_what_it_tracks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warned: Callable[[], list[str]], trouble: str
) -> None:
    work_tree = repository(
        tmp_path / "fn", {".gitignore": "*.log\n", "x.log": "", "y.log": "", "a.txt": ""}
    )
    git(work_tree, "add", "-f", "x.log")
    untracked_rules = git_lists(work_tree) - {"x.log"}
    if trouble == "git-missing":
        monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    elif trouble == "corrupt-index":
        (work_tree / ".git" / "index").write_bytes(b"DIRC garbage")
    else:
        write(work_tree / ".git" / "index.lock")  # another git command at work: reading is fine

    selected = embly_selects(work_tree)

    if trouble == "locked-index":
        assert selected == git_lists(work_tree) and "x.log" in selected
        assert warned() == []
    else:
        assert selected == untracked_rules  # the ignore rules alone, and a word why
        assert len(warned()) == 1 and str(work_tree) in warned()[0]


def test_bracket_classes_match_the_bytes_git_matches(tmp_path: Path) -> None:
    # Not '~': a backup file's name, which embly never takes (see EditorFileFilter).
    names = [f"x{chr(b)}" for b in range(1, 128) if chr(b) not in "/.~"] + ["x\u00e9"]
    work_tree = repository(tmp_path / "fn", {})
    for cls in [
        "alnum",
        "alpha",
        "blank",
        "cntrl",
        "digit",
        "graph",
        "lower",
        "print",
        "punct",
        "space",
        "upper",
        "xdigit",
    ]:
        for name in names:
            write(work_tree / name)
        write(work_tree / ".gitignore", f"x[[:{cls}:]]\nx[!a-c]\n!x[[:{cls}:]]\n")
        assert selects_what_git_lists(work_tree), cls


_ATOMS = [
    "a",
    "b",
    "*",
    "**",
    "?",
    "/",
    "[ab]",
    "[!a]",
    "[]a]",
    "[a-]",
    "[[:alpha:]]",
    "\\*",
    "\\",
    "[",
    "]",
    "!",
    "-",
    ".txt",
    "[\\]]",
    "[b-a]",
    "[[:al]",
]
_ATOMS += [" ", "\\ ", "\t"]
_NAMES = ["a", "b", "ab", "ba", "a.txt", "*", "[", "]", "a b", "a ", "!", "-", "\t", "a\\"]


def test_random_rules_select_what_git_lists(tmp_path: Path) -> None:
    """Patterns and trees made at random from the characters wildmatch treats specially."""
    chance = random.Random(26)
    for case in range(40):
        work_tree = repository(tmp_path / str(case), {})
        for _ in range(12):
            parts = [chance.choice(_NAMES) for _ in range(chance.randint(1, 3))]
            path = work_tree.joinpath(*parts)
            if not any(p.is_file() for p in (path, *path.parents)) and not path.is_dir():
                write(path, "x")
        # Not below a name with a backslash: its .gitignore would be refused, and deleted.
        subdirectories = [
            p
            for p in work_tree.rglob("*")
            if p.is_dir() and ".git" not in p.parts and "\\" not in str(p)
        ]
        for directory in (work_tree, chance.choice([*subdirectories, work_tree])):
            lines = []
            for _ in range(chance.randint(1, 4)):
                line = "".join(chance.choice(_ATOMS) for _ in range(chance.randint(1, 4)))
                line = ("!" if chance.random() < 0.25 else "") + line
                lines.append(line + ("/" if chance.random() < 0.2 else ""))
            write(directory / ".gitignore", "\n".join(lines) + "\n")
        rules = (work_tree / ".gitignore").read_text()
        assert selects_what_git_lists(work_tree), rules


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Fails what runs inside on SIGALRM after `seconds` rather than let it hang the suite:
    a bound far above the time it takes, not a measure of speed (see benchmarks/)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_gitignore_of_many_rules_selects_what_git_lists(tmp_path: Path) -> None:
    """Rules in the tens of thousands (a generated .gitignore): each of names by start and
    end, and of paths through `**` with a bracket expression, some of them negated."""
    rules = [f"pat{i}_*.x{i % 7}" for i in range(5000)]
    rules += [f"{'!' if i % 5 == 0 else ''}**/zz{i}/**/y{i}[a-c]*" for i in range(50_000)]
    files = {f"d{i % 5}/pat{i}_q.x{i % 7}": "" for i in range(0, 5000, 29)}
    files.update({f"d{i % 5}/pat{i}_q.x{(i + 1) % 7}": "" for i in range(0, 5000, 31)})
    files.update({f"zz{i}/q/y{i}{c}.t": "" for i in range(0, 50_000, 2499) for c in "bd"})
    files[".gitignore"] = "\n".join(rules) + "\n"
    work_tree = repository(tmp_path / "fn", files)

    with hang_guard(120):
        assert selects_what_git_lists(work_tree)
