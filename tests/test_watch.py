"""`embly watch --json` as a user runs it: edits, ignored files, embly.hcl, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embly_build.client.watch import inotify
from embly_build.client.watch.watcher import VERIFY_AFTER_S
from tests.helpers import EMBLY, embly, inotify_limit_lowered, processes_left_after
from tests.watching import WatchProcess, finished, is_event, watch_running

pytestmark = pytest.mark.slow


@pytest.fixture
def watching(project: Path, embly_home: Path) -> Iterator[WatchProcess]:
    with watch_running(project) as watch:
        watch.wait_for(is_event("watching"))
        yield watch


def test_watch_rebuilds_what_changed_and_nothing_else(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('"{}"', '"{} (watched)"'))
    started = watching.wait_for(is_event("round_started"))
    assert started["triggers"] == ["greeter/src/main.rs"]
    assert started["functions"] == ["greeter"]
    # First the stripped artifacts, as soon as cargo is done: the save's feedback.
    quick = watching.wait_for(finished("greeter"))
    assert (quick["status"], quick["cache_hit"]) == ("ok", False)
    assert (quick["opt_level"], quick["optimising"]) == ("none", True)
    assert watching.wait_for(is_event("round_finished"))["ok"] == 1
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada! (watched)\n"
    # Then the optimised ones, in place of them.
    optimised = watching.wait_for(finished("greeter"))
    assert (optimised["status"], optimised["opt_level"], optimised["optimising"]) == (
        "ok",
        "O2",
        False,
    )
    wasm = project / "embly_build" / "greeter.wasm"
    assert wasm.stat().st_size == optimised["artifact_sizes"]["wasm"]
    assert optimised["artifact_sizes"]["wasm"] < quick["artifact_sizes"]["wasm"]
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada! (watched)\n"

    os.utime(main_rs)  # a save that leaves the bytes as they were
    (project / "greeter" / "notes.log").write_text("ignored by the project's .gitignore")
    (project / "greeter" / "src" / ".main.rs.swp").write_text(
        "vim's swap file, rewritten as you type"
    )
    (project / "embly_build" / "stray.txt").write_text("the output folder is never watched")
    assert watching.quiet_for(2.0) == []


def test_a_burst_of_writes_is_one_round(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    """As a `git checkout` writes: many files a few ms apart, one round for all of them."""
    # Right after `watching`, the watcher compares the inputs once more (so nothing written
    # while it started is lost); a burst racing that check would be caught half there.
    time.sleep(1.0)
    for function in ("greeter", "counter"):
        main_rs = project / function / "src" / "main.rs"
        main_rs.write_text(main_rs.read_text() + "\n// checked out\n")
        for number in range(60):
            (project / function / "src" / f"notes{number}.txt").write_text("checked out")
            time.sleep(0.002)
    started = watching.wait_for(is_event("round_started"))
    assert started["functions"] == ["greeter", "counter"]
    assert started["trigger_count"] == 122
    assert len(started["triggers"]) == 100, "a JSON line lists the first 100 triggers"
    watching.wait_for(is_event("round_finished"))
    rounds = [e for e in watching.quiet_for(1.0) if e["event"] == "round_started"]
    assert rounds == [], "the burst was split into several rounds"


def test_failed_build_keeps_the_last_good_artifact(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    wasm = project / "embly_build" / "greeter.wasm"
    good = wasm.read_bytes()
    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace("println!", "printline!"))
    failed = watching.wait_for(finished("greeter"))
    assert failed["status"] == "failed"
    assert wasm.read_bytes() == good
    logs = [e["text"] for e in watching.seen if e["event"] == "log"]
    assert any("greeter/src/main.rs:3:5" in text for text in logs), "the user's real path"


def test_broken_embly_hcl_is_reported_and_the_last_good_one_kept(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    config = project / "embly.hcl"
    good = config.read_text()
    config.write_text(good + "\nfunction {\n")
    problem = watching.wait_for(is_event("config_error"))
    assert "embly.hcl:" in problem["message"]

    main_rs = project / "counter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace("visitor", "guest"))
    assert watching.wait_for(finished("counter"))["status"] == "ok", "still served"

    config.write_text(good.replace('function "shout"', 'function "yell"'))
    reloaded = watching.wait_for(is_event("config_reloaded"))
    assert reloaded["added"] == ["yell"] and reloaded["removed"] == ["shout"]
    started = watching.wait_for(is_event("round_started"))
    assert (started["triggers"], started["functions"]) == (["embly.hcl"], ["yell"]), (
        "a new function's files are not what changed"
    )
    assert watching.wait_for(finished("yell"))["status"] == "ok"
    assert (project / "embly_build" / "yell.wasm").exists()

    config.write_text('dependencies = ["embly/http"]\n')
    problem = watching.wait_for(lambda e: e["event"] in ("config_error", "config_reloaded"))
    assert "declares no function" in problem.get("message", ""), problem


def test_a_removed_embly_hcl_is_reported_not_replaced_by_an_enclosing_project(
    project: Path, embly_home: Path, watching: WatchProcess, tmp_path: Path
) -> None:
    """The watch keeps to the embly.hcl it started with, even when a parent directory holds
    another project's."""
    (tmp_path / "embly.hcl").write_text(
        'function "outer" {\n  runtime = "rust"\n  path = "./hello-project/greeter"\n}\n'
    )
    config = project / "embly.hcl"
    good = config.read_text()
    config.unlink()
    problem = watching.wait_for(lambda e: e["event"] in ("config_error", "config_reloaded"))
    assert problem["event"] == "config_error", f"the enclosing project was loaded: {problem}"
    assert problem["message"] == f"{config} no longer exists; restore it"

    config.write_text(good)
    reloaded = watching.wait_for(is_event("config_reloaded"))
    assert (reloaded["added"], reloaded["removed"]) == ([], [])
    assert reloaded["functions"] == ["greeter", "counter", "shout"]


def test_a_function_whose_directory_comes_back_is_reported_ok_again(
    project: Path, embly_home: Path, watching: WatchProcess, tmp_path: Path
) -> None:
    """As a branch switch or a `mv` there and back does: the same sources, a cache hit."""
    (project / "shout").rename(tmp_path / "shout-away")
    round_started = watching.wait_for(is_event("round_started"))
    assert (round_started["triggers"], round_started["functions"]) == (["shout"], ["shout"])
    gone = watching.wait_for(finished("shout"))
    assert gone["status"] == "failed" and "shout does not exist" in gone["error"]
    assert watching.wait_for(is_event("round_finished"))["failed"] == 1

    (tmp_path / "shout-away").rename(project / "shout")
    round_started = watching.wait_for(is_event("round_started"))
    assert round_started["triggers"] == ["shout"], "its files are as they were"
    back = watching.wait_for(finished("shout"))
    assert (back["status"], back["cache_hit"]) == ("ok", True)


@pytest.mark.parametrize("folder", ["greeter", "greeter/src"])
def test_a_function_that_cannot_be_read_at_start_is_reported_and_built_once_fixed(
    project: Path, embly_home: Path, folder: str
) -> None:
    """The other functions are built and watched; renaming the file builds the function,
    wherever in the crate it is. (The rename's events name a path that is not UTF-8, and
    one that is.)"""
    bad_name = os.fsdecode(b"notes-\xff.txt")
    (project / folder / bad_name).write_text("draft")
    with watch_running(project) as watch:
        first = {e["function"]: e for e in _first_round(watch) if e["event"] == "build_finished"}
        assert first["greeter"]["status"] == "failed"
        assert "notes-\\xff.txt: the file's name is not valid UTF-8" in first["greeter"]["error"]
        assert first["counter"]["status"] == first["shout"]["status"] == "ok"
        watch.wait_for(is_event("watching"))
        assert watch.quiet_for(1.5) == [], "the unreadable file starts nothing by itself"

        (project / folder / bad_name).rename(project / folder / "notes.txt")
        fixed = watch.wait_for(finished("greeter"))
        assert fixed["status"] == "ok"
        assert watch.process.poll() is None, "still watching"


def test_a_new_directory_with_a_problem_is_watched_until_fixed(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    """A directory that appears with a name in it the index refuses (a checkout, say) is
    watched although the index stopped there: renaming the file is seen, also after the
    full check the watch runs once saves are quiet."""
    extra = project / "greeter" / "src" / "extra"
    extra.mkdir()
    bad_name = os.fsdecode(b"notes-\xff.txt")
    (extra / bad_name).write_text("draft")
    assert watching.wait_for(finished("greeter"))["status"] == "failed"
    watching.wait_for(is_event("round_finished"))
    meanwhile = watching.quiet_for(VERIFY_AFTER_S + 1.0)  # the full check finds it as it was
    assert [e["event"] for e in meanwhile if e["event"] != "watching"] == []
    (extra / bad_name).rename(extra / "notes.txt")
    fixed = watching.wait_for(finished("greeter"), timeout=10)
    assert (fixed["status"], fixed["cache_hit"]) == ("ok", False), "a tree with notes.txt"


def _first_round(watch: WatchProcess) -> list[dict[str, object]]:
    watch.wait_for(is_event("round_finished"))
    return watch.seen


def test_sigint_during_a_build_stops_cleanly(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    lib_rs = project / "common" / "src" / "lib.rs"
    lib_rs.write_text(lib_rs.read_text().replace("Hello", "Bye"))
    watching.wait_for(lambda e: e["event"] == "log" and "Compiling" in e["text"])
    watching.process.send_signal(signal.SIGINT)
    assert watching.process.wait(timeout=30) == 130
    assert processes_left_after(embly_home, 5) == []
    partial = [p.name for p in (project / "embly_build").iterdir() if p.name.startswith(".")]
    assert partial == [], "no partial artifact"


@pytest.mark.parametrize(("stop", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_it_too(
    project: Path, embly_home: Path, watching: WatchProcess, stop: signal.Signals, exit_code: int
) -> None:
    watching.process.send_signal(stop)
    assert watching.process.wait(timeout=30) == exit_code


def test_watch_fails_before_watching_on_a_broken_project(project: Path, embly_home: Path) -> None:
    (project / "embly.hcl").write_text('function "a" {\n  runtime = "cobol"\n  path = "."\n}\n')
    result = subprocess.run(
        [str(EMBLY), "watch"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "unknown runtime 'cobol'" in result.stderr


@pytest.fixture
def exhausted_watch_limit() -> Iterator[None]:
    """The kernel's real inotify limit, lowered so the watcher cannot add its watches."""
    with inotify_limit_lowered("max_user_watches", 2):
        yield


def edit_and_wait(watch: WatchProcess, project: Path, text: str) -> None:
    main_rs = project / "greeter" / "src" / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('"{}', f'"{{}} {text}', 1))
    assert watch.wait_for(finished("greeter"))["status"] == "ok"
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout.endswith(f"{text}\n")


def test_exhausted_watch_limit_falls_back_to_polling(
    project: Path, embly_home: Path, exhausted_watch_limit: None
) -> None:
    with watch_running(project) as watch:
        notice = watch.wait_for(is_event("notice"))
        assert "sysctl fs.inotify.max_user_watches=" in notice["message"]
        assert watch.wait_for(is_event("watching"))["polling"] is True
        edit_and_wait(watch, project, "(polled)")


def _context_switches(pid: int) -> int:
    """How often any thread of `pid` has slept or been preempted so far."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        for line in status.read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


@pytest.mark.skipif(not inotify.available(), reason="inotify is Linux's")
def test_a_watch_waiting_for_a_save_does_not_wake_up(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    """No polling: a thread that checked for events every 10 ms would switch 200 times in
    these 2 s. The few allowed are the kernel's own business (an interrupted sleep)."""
    assert watching.quiet_for(1.0) == []
    before = _context_switches(watching.process.pid)
    time.sleep(2.0)
    assert _context_switches(watching.process.pid) - before < 10
    edit_and_wait(watching, project, "(woken)")


@pytest.fixture
def tiny_event_queue() -> Iterator[Callable[[], None]]:
    """The kernel's real queue limit for file events, lowered for the inotify instances
    made until the returned function (or the test's end) restores it."""
    with inotify_limit_lowered("max_queued_events", 4) as restore:
        yield restore


@pytest.mark.skipif(not inotify.available(), reason="inotify is Linux's")
def test_a_save_whose_events_the_kernel_dropped_is_still_built(
    project: Path, embly_home: Path, tiny_event_queue: Callable[[], None]
) -> None:
    """The watch is stopped while logs (ignored) fill its event queue, then greeter is
    edited: the edit's events overflow the queue and are lost. Told of the overflow, the
    watch compares every input again and builds the edit."""
    with watch_running(project) as watch:
        watch.wait_for(is_event("watching"))
        tiny_event_queue()
        watch.process.send_signal(signal.SIGSTOP)
        try:
            for n in range(8):
                (project / "greeter" / f"run{n}.log").write_text("ignored")
            main_rs = project / "greeter" / "src" / "main.rs"
            main_rs.write_text(main_rs.read_text().replace('"{}', '"{} (overflowed)', 1))
        finally:
            watch.process.send_signal(signal.SIGCONT)
        assert watch.wait_for(is_event("round_started"))["triggers"] == ["greeter/src/main.rs"]
        assert watch.wait_for(finished("greeter"))["status"] == "ok"
        out = embly("run", "greeter", "--", "Ada", cwd=project).stdout
        assert out.endswith("(overflowed)\n")


@pytest.fixture
def exhausted_inotify_instances() -> Iterator[None]:
    """The kernel's real limit on inotify instances, lowered so that none can be made."""
    with inotify_limit_lowered("max_user_instances", 0):
        yield


@pytest.mark.skipif(not inotify.available(), reason="inotify is Linux's")
def test_exhausted_inotify_instances_fall_back_to_polling(
    project: Path, embly_home: Path, exhausted_inotify_instances: None
) -> None:
    with watch_running(project, "greeter") as watch:
        notice = watch.wait_for(is_event("notice"))
        assert "sysctl fs.inotify.max_user_instances=" in notice["message"]
        assert watch.wait_for(is_event("watching"))["polling"] is True
        edit_and_wait(watch, project, "(polled)")


def test_poll_flag_forces_polling(project: Path, embly_home: Path) -> None:
    with watch_running(project, "--poll", "greeter") as watch:
        watching = watch.wait_for(is_event("watching"))
        assert watching["polling"] is True and watching["functions"] == ["greeter"]
        edit_and_wait(watch, project, "(forced)")


def test_no_quick_first_writes_only_the_optimised_artifacts(
    project: Path, embly_home: Path
) -> None:
    with watch_running(project, "--no-quick-first", "greeter") as watch:
        watch.wait_for(is_event("watching"))
        main_rs = project / "greeter" / "src" / "main.rs"
        main_rs.write_text(main_rs.read_text().replace('"{}"', '"{} (slow)"'))
        done = watch.wait_for(finished("greeter"))
        assert (done["status"], done["opt_level"], done["optimising"]) == ("ok", "O2", False)
        assert watch.wait_for(is_event("round_finished"))["ok"] == 1
        assert [e for e in watch.quiet_for(1.0) if e["event"] == "build_finished"] == []


def test_a_revert_during_optimisation_is_the_optimised_cache_hit(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    """Reverting while wasm-opt runs writes back the optimised artifacts of the earlier
    content, from the cache, with no quick result first."""
    main_rs = project / "greeter" / "src" / "main.rs"
    original = main_rs.read_text()
    wasm = project / "embly_build" / "greeter.wasm"
    optimised_before = wasm.read_bytes()
    main_rs.write_text(original.replace('"{}"', '"{} (draft)"'))
    assert watching.wait_for(finished("greeter"))["optimising"] is True
    main_rs.write_text(original)
    watching.wait_for(is_event("round_started"))
    back = watching.wait_for(lambda e: finished("greeter")(e) and not e["optimising"])
    assert (back["status"], back["cache_hit"], back["opt_level"]) == ("ok", True, "O2")
    assert wasm.read_bytes() == optimised_before


def test_watching_says_which_wasm_opt_level_applies(project: Path, embly_home: Path) -> None:
    with watch_running(project, "--opt-level", "none", "greeter") as watch:
        watching = watch.wait_for(is_event("watching"))
        assert watching["opt_level"] == "none"
        assert watching["functions"] == ["greeter"]


def test_a_function_moved_by_embly_hcl_to_an_unreadable_crate_is_watched_there(
    project: Path, embly_home: Path, watching: WatchProcess, tmp_path: Path
) -> None:
    """Its new directory, outside the project, is where the fix is made."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(project / "greeter", elsewhere / "greeter")
    shutil.copytree(project / "common", elsewhere / "common")
    bad_name = os.fsdecode(b"notes-\xff.txt")
    (elsewhere / "greeter" / bad_name).write_text("draft")
    config = project / "embly.hcl"
    config.write_text(config.read_text().replace('"./greeter"', f'"{elsewhere / "greeter"}"'))
    failed = watching.wait_for(finished("greeter"))
    assert failed["status"] == "failed" and "not valid UTF-8" in failed["error"]
    watching.wait_for(is_event("watching"))  # again, with the new directories

    (elsewhere / "greeter" / bad_name).rename(elsewhere / "greeter" / "notes.txt")
    assert watching.wait_for(finished("greeter"), timeout=20)["status"] == "ok"


def test_a_file_in_a_new_directory_is_built(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    """Directories are watched one by one: a new one is watched once it appears."""
    (project / "greeter" / "src" / "extra").mkdir()
    time.sleep(0.5)  # the new directory's own round of watching starts
    (project / "greeter" / "src" / "extra" / "words.rs").write_text('pub const W: &str = "w";\n')
    started = watching.wait_for(is_event("round_started"))
    assert started["triggers"] == ["greeter/src/extra/words.rs"]
    assert watching.wait_for(finished("greeter"))["status"] == "ok"


@pytest.mark.parametrize("how", ["replaced in one go", "moved away and copied back"])
def test_a_directory_made_again_where_a_watched_one_was_is_watched(
    project: Path, embly_home: Path, watching: WatchProcess, tmp_path: Path, how: str
) -> None:
    """A checkout or a restore leaves a new directory at a watched one's path. The OS watch
    followed the old one (deleted, or moved elsewhere), so the new one is watched instead."""
    src = project / "greeter" / "src"
    elsewhere = tmp_path / "src"
    if how == "replaced in one go":
        shutil.copytree(src, elsewhere)
        shutil.rmtree(src)
    else:
        src.rename(elsewhere)
    shutil.copytree(elsewhere, src)
    watching.wait_for(is_event("watching"), timeout=10)  # watching again

    main_rs = src / "main.rs"
    main_rs.write_text(main_rs.read_text().replace('"{}"', '"{} (again)"'))
    optimised = watching.wait_for(lambda e: finished("greeter")(e) and not e["optimising"])
    assert optimised["status"] == "ok"
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada! (again)\n"
    # The old directory, wherever it is now, is no input.
    (elsewhere / "main.rs").write_text("fn main() {}\n")
    assert [e for e in watching.quiet_for(1.5) if e["event"] != "watching"] == []


@pytest.mark.parametrize("rules", [".gitignore", ".git/info/exclude"])
def test_ignore_rules_above_the_inputs_redraw_them(
    project: Path, embly_home: Path, rules: str
) -> None:
    """The project's own .gitignore, or its repository's info/exclude, is no input of any
    function, but decides what the inputs are: a change to it rebuilds what it redraws."""
    notes = project / "greeter" / "notes.txt"
    notes.write_text("draft\n")
    if rules == ".git/info/exclude":
        subprocess.run(["git", "init", "-q", str(project)], check=True)
    with watch_running(project) as watch:
        watch.wait_for(is_event("watching"))
        rules_file = project / rules
        rules_file.write_text(
            rules_file.read_text() + "notes.txt\n" if rules_file.exists() else "notes.txt\n"
        )
        started = watch.wait_for(is_event("round_started"), timeout=10)
        assert (started["triggers"], started["functions"]) == (["greeter/notes.txt"], ["greeter"])
        assert watch.wait_for(finished("greeter"))["status"] == "ok"


def test_a_cargo_workspace_made_above_a_crate_is_built_with(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    """A Cargo.toml with a `[workspace]` made above a crate makes it a member: its profile
    applies at once, not from the next save on."""
    (project / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["greeter"]\n\n[profile.release]\nopt-level = "z"\n'
    )
    started = watching.wait_for(is_event("round_started"), timeout=10)
    assert started["functions"] == ["greeter"]
    assert "Cargo.toml" in started["triggers"]
    assert watching.wait_for(finished("greeter"))["status"] == "ok"


def test_a_directory_embly_hcl_names_is_built_once_it_is_made(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    config = project / "embly.hcl"
    config.write_text(
        config.read_text() + '\nfunction "hello" {\n  runtime = "rust"\n  path = "./hello"\n}\n'
    )
    assert "hello" in watching.wait_for(is_event("config_error"), timeout=10)["message"]
    shutil.copytree(project / "greeter", project / "hello")
    reloaded = watching.wait_for(is_event("config_reloaded"), timeout=10)
    assert reloaded["added"] == ["hello"]
    assert watching.wait_for(finished("hello"))["status"] == "ok"


def test_a_missing_path_dependency_is_built_once_its_crate_is_made(
    project: Path, embly_home: Path, watching: WatchProcess
) -> None:
    manifest = project / "greeter" / "Cargo.toml"
    manifest.write_text(manifest.read_text() + 'extra = { path = "../extra" }\n')
    failed = watching.wait_for(finished("greeter"), timeout=10)
    assert failed["status"] == "failed" and "../extra" in failed["error"]
    watching.wait_for(is_event("round_finished"))
    watching.quiet_for(VERIFY_AFTER_S + 1.0)  # past the full check once saves are quiet
    (project / "extra" / "src").mkdir(parents=True)
    (project / "extra" / "src" / "lib.rs").write_text("pub fn extra() {}\n")
    (project / "extra" / "Cargo.toml").write_text(
        '[package]\nname = "extra"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    assert watching.wait_for(finished("greeter"), timeout=30)["status"] == "ok"


def test_ignored_trees_take_no_os_watch(project: Path, embly_home: Path) -> None:
    """`target/` (however deep) costs no inotify watch; the crate's sources have theirs."""
    deep = project / "greeter" / "target" / "release" / "deps" / "incremental"
    deep.mkdir(parents=True)
    with watch_running(project) as watch:
        watch.wait_for(is_event("watching"))
        watched = _inotify_watched_inodes(watch.process.pid)
    assert (project / "greeter" / "src").stat().st_ino in watched
    assert (project / "common" / "src").stat().st_ino in watched
    for directory in [project / "greeter" / "target", *(project / "greeter" / "target").rglob("*")]:
        assert directory.stat().st_ino not in watched, directory


def _inotify_watched_inodes(pid: int) -> set[int]:
    """The inodes a process holds inotify watches on, from /proc/PID/fdinfo."""
    inodes = set()
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            text = info.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("inotify wd:"):
                fields = dict(part.split(":", 1) for part in line.split()[1:] if ":" in part)
                inodes.add(int(fields["ino"], 16))
    return inodes


def test_a_change_no_file_event_reports_is_found_once_the_files_are_quiet(
    project: Path, embly_home: Path, tmp_path: Path
) -> None:
    """A save re-lists only the directories its events name; a write through a hard link
    outside the project raises no event where the file is watched, and is found by the full
    index that follows once the files have been quiet for a second."""
    main_rs = project / "greeter" / "src" / "main.rs"
    note = project / "greeter" / "docs" / "note.txt"
    note.parent.mkdir()
    note.write_text("first\n")
    link = tmp_path / "main-rs-link"
    os.link(main_rs, link)
    with watch_running(project) as watch:
        watch.wait_for(is_event("watching"))
        note.write_text("second\n")
        started = watch.wait_for(is_event("round_started"))
        assert started["triggers"] == ["greeter/docs/note.txt"]
        with link.open("r+") as through_link:  # the same inode: main.rs changes
            text = through_link.read()
            through_link.seek(0)
            through_link.write(text.replace('"{}"', '"{} (linked)"'))
            through_link.truncate()

        found = watch.wait_for(is_event("round_started"), timeout=30)
        assert found["triggers"] == ["greeter/src/main.rs"]
        assert watch.wait_for(finished("greeter"))["status"] == "ok"
        watch.wait_for(is_event("round_finished"))
    assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada! (linked)\n"
