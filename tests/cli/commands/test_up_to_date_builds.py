"""`embly build` with nothing changed answers from the record of its last run, and any change
that could alter the result takes the full build again."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from embly_build.client.records.up_to_date import RACY_WINDOW_NS
from tests.conftest import REPO
from tests.helpers import EMBLY, embly, finished_by_function, json_events

pytestmark = pytest.mark.slow


def _settle(*trees: Path) -> None:
    """Wait until nothing in `trees` (but build outputs) changed within the racy window: only
    then can a build vouch for it."""
    newest = 0
    for tree in trees:
        for path in [tree, *tree.rglob("*")]:
            if "embly_build" not in path.relative_to(tree).parts:
                newest = max(newest, path.lstat().st_ctime_ns)
    wait = (newest + RACY_WINDOW_NS - time.time_ns()) / 1e9
    if wait > 0:
        time.sleep(wait + 0.05)


def _build(project: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = embly("build", "--json", *args, cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    return finished_by_function(result.stdout)


def _answered_from_record(finished: dict[str, Any]) -> bool:
    flags = {event.get("up_to_date", False) for event in finished.values()}
    assert len(flags) == 1, f"some functions from the record, some built: {finished}"
    return flags.pop()


def _recorded(project: Path, embly_home: Path, *args: str) -> dict[str, Any]:
    """Build until the run is recorded; the events of the build that recorded it."""
    _build(project, *args)  # provisions the toolchain and builds from cold
    _settle(project, embly_home / "gcroots")
    full = _build(project, *args)
    assert not _answered_from_record(full)
    return full


def test_a_build_with_nothing_changed_answers_from_the_record(
    project: Path, embly_home: Path
) -> None:
    full = _recorded(project, embly_home)

    again = embly("build", "--json", cwd=project)

    assert again.returncode == 0, again.stderr
    events = json_events(again.stdout)
    assert [(e["event"], e["function"]) for e in events] == [
        *(("build_started", f) for f in full),
        *(("build_finished", f) for f in full),
    ]
    for event in events[len(full) :]:
        built = full[event["function"]]
        assert event["up_to_date"] is True
        assert event["cache_hit"] is True
        assert event["uploaded_bytes"] == 0
        assert event["status"] == "ok"
        assert event["artifacts"] == built["artifacts"]
        assert event["artifact_sizes"] == built["artifact_sizes"]
        assert event["action_digest"] == built["action_digest"]
        for path in event["artifacts"].values():
            assert Path(path).is_file()


def test_the_answer_reads_as_the_full_build_reports_a_cache_hit(
    project: Path, embly_home: Path
) -> None:
    embly("build", cwd=project)
    _settle(project, embly_home / "gcroots")
    full = embly("build", cwd=project)  # every function a cache hit; recorded
    answered = embly("build", cwd=project)

    assert (full.returncode, answered.returncode) == (0, 0)
    assert "3 ok (3 cached)" in full.stderr

    def durations_out(text: str) -> str:
        return re.sub(r"\d+\.\ds", "N.Ns", text)

    assert durations_out(answered.stderr) == durations_out(full.stderr)
    assert (full.stdout, answered.stdout) == ("", "")


def _edit_source(project: Path, context: dict[str, Any]) -> None:
    main = project / "greeter" / "src" / "main.rs"
    source = main.read_text()
    assert '"{}"' in source
    main.write_text(source.replace('"{}"', '"{}!"'))


def _touch_source(project: Path, context: dict[str, Any]) -> None:
    (project / "greeter" / "src" / "main.rs").touch()


def _add_file(project: Path, context: dict[str, Any]) -> None:
    (project / "greeter" / "NOTES.md").write_text("notes\n")


def _delete_artifact(project: Path, context: dict[str, Any]) -> None:
    (project / "embly_build" / "counter.cwasm").unlink()


def _overwrite_artifact(project: Path, context: dict[str, Any]) -> None:
    wasm = project / "embly_build" / "shout.wasm"
    context["good wasm"] = wasm.read_bytes()
    wasm.write_bytes(b"\0asm garbage")


def _edit_config(project: Path, context: dict[str, Any]) -> None:
    with (project / "embly.hcl").open("a") as config:
        config.write("\n# a comment\n")


def _create_user_config(project: Path, context: dict[str, Any]) -> None:
    Path(os.environ["EMBLY_CONFIG"]).write_text('opt_level = "O1"\n')


def _make_a_repository_above(project: Path, context: dict[str, Any]) -> None:
    # The .gitignore files that apply now reach up to the new repository's.
    subprocess.run(["git", "init", "-q", str(project.parent)], check=True, capture_output=True)


def _change_the_environment(project: Path, context: dict[str, Any]) -> None:
    context["env"] = {"EMBLY_NIXEXPRS": str(REPO / "nixexprs")}


CHANGES: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "edit a source": _edit_source,
    "touch a source": _touch_source,
    "add a file": _add_file,
    "delete an artifact": _delete_artifact,
    "overwrite an artifact": _overwrite_artifact,
    "edit embly.hcl": _edit_config,
    "create the user config": _create_user_config,
    "make a repository above the project": _make_a_repository_above,
    "change the environment": _change_the_environment,
}


@pytest.mark.parametrize("change", CHANGES)
def test_any_change_takes_the_full_build(project: Path, embly_home: Path, change: str) -> None:
    full = _recorded(project, embly_home)
    assert _answered_from_record(_build(project))

    context: dict[str, Any] = {}
    CHANGES[change](project, context)
    after = _build(project, env=context.get("env"))

    assert not _answered_from_record(after)
    assert all(event["status"] == "ok" for event in after.values())
    for event in after.values():
        for path in event["artifacts"].values():
            assert Path(path).is_file()
    if change == "edit a source":
        assert not after["greeter"]["cache_hit"]
        assert after["greeter"]["action_digest"] != full["greeter"]["action_digest"]
    elif change == "add a file":
        assert after["greeter"]["uploaded_bytes"] == len("notes\n")
    elif change == "overwrite an artifact":
        assert (project / "embly_build" / "shout.wasm").read_bytes() == context["good wasm"]
    elif change == "create the user config":
        assert {event["opt_level"] for event in after.values()} == {"O1"}


def test_a_build_right_after_an_edit_does_not_vouch_for_it(project: Path, embly_home: Path) -> None:
    """The edited file could change again within the same timestamp tick, its stat unchanged."""
    _recorded(project, embly_home)
    main_rs = project / "greeter" / "src" / "main.rs"
    for _ in range(3):
        _touch_source(project, {})  # a change of stat alone: rebuilt from the cache
        rebuilt = _build(project)
        started = time.time_ns()
        at_once = _build(project)
        # On a loaded machine the rebuild can outlast the window; then try again.
        if started - main_rs.stat().st_ctime_ns < RACY_WINDOW_NS * 3 // 4:
            break
    else:
        pytest.skip("no build started within the racy window of an edit on this machine")
    _settle(project)
    recorded = _build(project)
    answered = _build(project)

    assert not _answered_from_record(rebuilt)
    assert not _answered_from_record(at_once)
    assert not _answered_from_record(recorded)
    assert _answered_from_record(answered)


def test_verbose_output_always_asks_the_server(project: Path, embly_home: Path) -> None:
    embly("build", "-v", cwd=project)
    _settle(project, embly_home / "gcroots")
    embly("build", "-v", cwd=project)

    again = embly("build", "-v", cwd=project)

    assert again.returncode == 0, again.stderr
    assert "greeter: started" in again.stderr


def test_a_record_that_cannot_be_written_costs_only_the_shortcut(
    project: Path, embly_home: Path
) -> None:
    """Where the records go is taken by a file: every build still builds and succeeds."""
    (embly_home / "client").mkdir(parents=True)
    (embly_home / "client" / "up-to-date").write_text("not a directory")

    _recorded(project, embly_home)
    again = _build(project)

    assert not _answered_from_record(again)
    assert all(event["cache_hit"] for event in again.values())
    assert (embly_home / "client" / "up-to-date").read_text() == "not a directory"


def test_a_run_with_client_lines_is_not_answered_without_them(
    project: Path, embly_home: Path
) -> None:
    """With `--target` for another machine every run, a cached one too, says that no .cwasm
    can be made; a report printed again would leave that out, so such runs build."""
    args = ("greeter", "--target", "aarch64-unknown-linux-gnu")
    embly("build", *args, cwd=project)
    _settle(project, embly_home / "gcroots")
    for _ in range(2):
        again = embly("build", *args, cwd=project)
        assert again.returncode == 0, again.stderr
        assert "no .cwasm for aarch64-unknown-linux-gnu" in again.stderr


def test_an_answer_whose_reader_has_gone_ends_as_a_full_build_does(
    project: Path, embly_home: Path
) -> None:
    """141, as SIGPIPE ends git and cargo (`embly build --json | head -0`), and quietly."""
    _recorded(project, embly_home)

    with subprocess.Popen(
        [str(EMBLY), "build", "--json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as answering:
        assert answering.stdout is not None and answering.stderr is not None
        answering.stdout.close()
        said = answering.stderr.read()
        assert answering.wait(timeout=60) == 141, said
    assert said == ""
