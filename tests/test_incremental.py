"""Later builds do only the work their changes require, and stay correct."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from embly_build import ServerSettings, connect
from embly_build.server.build.build_space import BuildSpace
from tests.example_project import copy_example
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
        copy_example(copy)
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


async def test_one_server_applies_each_change_alone_and_matches_from_scratch_builds(
    project: Path, embly_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resident server (embly watch, embly serve) syncs a space it synced itself by the
    tree's change alone; every result still equals a clean build of the same sources."""
    full_syncs: list[Path] = []
    full_sync = BuildSpace.sync

    def counted_sync(space: BuildSpace, *args: Any, **kwargs: Any) -> Any:
        full_syncs.append(space.root)
        return full_sync(space, *args, **kwargs)

    monkeypatch.setattr(BuildSpace, "sync", counted_sync)
    src = project / "greeter" / "src"
    main_rs = src / "main.rs"
    original = main_rs.read_text()
    steps: list[Callable[[], None]] = [
        lambda: main_rs.write_text(original.replace('"{}"', '"<{}>"')),
        lambda: (src / "extra.rs").write_text("pub const X: u8 = 1;\n"),  # added
        lambda: main_rs.write_text(original),  # reverted: a cache hit, nothing synced
        lambda: (src / "extra.rs").unlink(),  # removed
        lambda: main_rs.write_text(original.replace('"{}"', '"[{}]"')),
    ]
    async with connect(settings=ServerSettings(home=embly_home)) as client:
        (first,) = await client.build(project, ["greeter"])
        assert first.status == "ok"
        assert len(full_syncs) == 1
        for number, step in enumerate(steps):
            step()
            (result,) = await client.build(project, ["greeter"])
            assert result.status == "ok", result.error
            clean = tmp_path / f"clean-{number}"
            shutil.copytree(project, clean, ignore=shutil.ignore_patterns("embly_build"))
            async with connect(settings=ServerSettings(home=tmp_path / f"home-{number}")) as c:
                (clean_result,) = await c.build(clean, ["greeter"])
            assert clean_result.status == "ok"
            ours, theirs = (p / "embly_build" / "greeter.wasm" for p in (project, clean))
            assert ours.read_bytes() == theirs.read_bytes(), f"step {number}"
    space_syncs = [root for root in full_syncs if root.is_relative_to(embly_home)]
    assert len(space_syncs) == 1, "every later sync applied the change alone"
