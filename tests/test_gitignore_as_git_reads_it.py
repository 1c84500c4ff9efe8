"""`embly build` and `embly watch` with .gitignore files as users write them: lines git
accepts never stop a build, and a watch rebuilds for exactly the files git lists."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import embly
from tests.watching import WatchProcess, finished, is_event, watch_running

pytestmark = pytest.mark.slow

# Lines git reads without complaint that matched no file yet made builds fail with a
# traceback: Windows paths, a lone `!`, a reversed range.
ODD_LINES = ["bin\\", "obj\\Debug\\", "!", "[z-a]*.tmp"]


@pytest.fixture(autouse=True)
def git_config_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def test_a_build_warns_once_for_each_odd_line_and_succeeds(project: Path, embly_home: Path) -> None:
    gitignore = project / ".gitignore"
    first = len(gitignore.read_text().splitlines()) + 1
    gitignore.write_text(gitignore.read_text() + "\n".join(ODD_LINES) + "\n")

    done = embly("build", cwd=project)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for number, line in enumerate(ODD_LINES, start=first):
        said = [s for s in done.stderr.splitlines() if f"{gitignore}:{number}: `{line}`" in s]
        assert len(said) == 1, done.stderr  # once, though three functions are indexed


def test_with_json_the_warnings_are_events_on_stdout(project: Path, embly_home: Path) -> None:
    gitignore = project / ".gitignore"
    number = len(gitignore.read_text().splitlines()) + 1
    gitignore.write_text(gitignore.read_text() + "[z-a]*.tmp\n")

    done = embly("build", "--json", cwd=project)

    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    warnings = [e["text"] for e in events if e["event"] == "warning"]
    assert len(warnings) == 1, events
    assert warnings[0].startswith(f"{gitignore}:{number}: `[z-a]*.tmp`"), warnings
    assert "[z-a]" not in done.stderr  # said once, where the events' reader looks


@pytest.fixture
def watching_git_project(project: Path, embly_home: Path) -> Iterator[WatchProcess]:
    """The example project in a git work tree, whose greeter ignores its data directory but
    for one file, with `data/` there and holding an ignored file already."""
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "greeter" / ".gitignore").write_text("data/**\n!data/words.txt\n")
    (project / "greeter" / "data").mkdir()
    (project / "greeter" / "data" / "cache.bin").write_text("ignored")
    with watch_running(project) as watch:
        watch.wait_for(is_event("watching"))
        yield watch


def test_a_file_under_a_negated_path_rebuilds_and_an_ignored_one_does_not(
    project: Path, watching_git_project: WatchProcess
) -> None:
    watch = watching_git_project
    (project / "greeter" / "data" / "other.txt").write_text("ignored by data/**")
    assert [e for e in watch.quiet_for(2.0) if e["event"] == "round_started"] == []

    (project / "greeter" / "data" / "words.txt").write_text("kept by !data/words.txt")
    started = watch.wait_for(is_event("round_started"), timeout=10)
    assert (started["triggers"], started["functions"]) == (
        ["greeter/data/words.txt"],
        ["greeter"],
    )
    assert watch.wait_for(finished("greeter"))["status"] == "ok"


def test_a_file_added_with_git_add_force_becomes_an_input(
    project: Path, watching_git_project: WatchProcess
) -> None:
    """git lists a tracked file whatever .gitignore says: adding one to the index is a
    change to the inputs, though no input file changed."""
    watch = watching_git_project
    cache = project / "greeter" / "data" / "cache.bin"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(project)]
    subprocess.run([*git, "add", "-f", str(cache)], check=True)
    started = watch.wait_for(is_event("round_started"), timeout=10)
    assert (started["triggers"], started["functions"]) == (
        ["greeter/data/cache.bin"],
        ["greeter"],
    )
    assert watch.wait_for(finished("greeter"))["status"] == "ok"
