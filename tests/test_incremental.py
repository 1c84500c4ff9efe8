"""Later builds do only the work their changes require, and stay correct."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE
from tests.helpers import embly, finished_by_function

pytestmark = pytest.mark.slow
FUNCTIONS = ("greeter", "counter", "shout")


def build_json(project: Path, *args: str) -> dict[str, dict[str, object]]:
    result = embly("build", "--json", *args, cwd=project)
    assert result.returncode == 0, result.stderr
    return finished_by_function(result.stdout)


def outputs(project: Path) -> dict[str, str]:
    return {f: embly("run", f, "--", "Ada", cwd=project).stdout for f in FUNCTIONS}


def wasm_digests(project: Path) -> dict[str, str]:
    return {
        f: hashlib.sha256((project / "embly_build" / f"{f}.wasm").read_bytes()).hexdigest()
        for f in FUNCTIONS
    }


def test_same_sources_in_two_directories_give_identical_wasm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = []
    for name in ("first/location", "second"):
        copy = tmp_path / name / "project"
        shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("embly_build"))
        monkeypatch.setenv("EMBLY_HOME", str(tmp_path / name / "home"))
        build_json(copy)
        digests.append(wasm_digests(copy))
    assert digests[0] == digests[1]


def test_editing_one_function_uploads_its_bytes_and_rebuilds_only_it(
    project: Path, embly_home: Path
) -> None:
    build_json(project)
    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('"{}"', '"{}!"'))
    finished = build_json(project)
    assert finished["greeter"]["cache_hit"] is False
    assert finished["greeter"]["uploaded_bytes"] == main_rs.stat().st_size
    for other in ("counter", "shout"):
        assert finished[other]["cache_hit"] is True
        assert finished[other]["uploaded_bytes"] == 0


def test_editing_the_shared_crate_rebuilds_every_user(project: Path, embly_home: Path) -> None:
    build_json(project)
    lib_rs = project / "common" / "src" / "lib.rs"
    lib_rs.write_text(lib_rs.read_text().replace("Hello", "Hi"))
    finished = build_json(project)
    assert all(finished[f]["cache_hit"] is False for f in FUNCTIONS)
    assert outputs(project)["greeter"] == "Hi, Ada!\n"


def test_ignored_file_changes_nothing(project: Path, embly_home: Path) -> None:
    build_json(project)
    (project / "greeter" / "notes.log").write_text("ignored by .gitignore")
    finished = build_json(project)
    assert all(finished[f]["cache_hit"] is True for f in FUNCTIONS)
    assert all(finished[f]["uploaded_bytes"] == 0 for f in FUNCTIONS)


def test_edit_revert_reedit_matches_from_scratch_builds(
    project: Path, embly_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Incremental results equal clean builds of the same sources, step after step."""
    lib_rs = project / "common" / "src" / "lib.rs"
    greeter = project / "greeter" / "src" / "main.rs"
    banner = project / "words" / "banner.txt"
    original = {p: p.read_text() for p in (lib_rs, greeter, banner)}
    steps = [
        {lib_rs: original[lib_rs].replace("Hello", "Hey")},
        {greeter: original[greeter].replace('"{}"', '"<{}>"'), banner: "~~ new banner ~~\n"},
        dict(original),  # revert everything: must be a cache hit
        {lib_rs: original[lib_rs].replace("Hello", "Hey"), banner: "~~ newer ~~\n"},
        {(project / "greeter" / "src" / "extra.rs"): "pub const X: u8 = 1;\n"},  # added file
    ]
    build_json(project)
    first_digests = wasm_digests(project)
    before_added_file = first_digests
    for number, edits in enumerate(steps):
        if number == len(steps) - 1:
            before_added_file = wasm_digests(project)
        for path, text in edits.items():
            path.write_text(text)
        finished = build_json(project)
        if number == 2:
            assert all(finished[f]["cache_hit"] for f in FUNCTIONS), "revert hits the cache"
            assert wasm_digests(project) == first_digests
        clean = tmp_path / f"clean-{number}"
        shutil.copytree(project, clean, ignore=shutil.ignore_patterns("embly_build"))
        monkeypatch.setenv("EMBLY_HOME", str(tmp_path / f"clean-home-{number}"))
        build_json(clean)
        monkeypatch.setenv("EMBLY_HOME", str(embly_home))
        assert wasm_digests(project) == wasm_digests(clean), f"step {number}"
        assert outputs(project) == outputs(clean), f"step {number}"
    (project / "greeter" / "src" / "extra.rs").unlink()  # removed file
    build_json(project)
    assert wasm_digests(project) == before_added_file
