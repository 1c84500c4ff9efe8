"""(1) no-op `embly build` vs no-op `cargo build`; (2) one-line edit rebuild vs cargo in place.

Both sides build the example project's three functions; the cargo baseline builds them as
one workspace in a copy of the project (one cargo process, its fastest form). Medians of
several runs, measured side by side in one run.

A no-op `embly build` answers from the record of its last run when nothing it depends on
changed (client/records/up_to_date.py); a touched file makes it ask the server instead, which finds
every function a cache hit. Both are shown; the target is for the first.

Beside (2), for scale: the same work done by hand in place (cargo, wasm-strip, wasm-opt with
the same options, a wasmtime AOT compile), as a shell script would run it; and what a new
`embly` process spends before it reads a file: starting Python and loading the modules a
build uses.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import CARGO_ENV, EMBLY, info, median_seconds, report, run

from embly_build.server.build.postprocess import WASM_OPT_FEATURES
from tests.example_project import copy_example

CARGO_BUILD = ["/usr/bin/cargo", "build", "--release", "--target", "wasm32-wasi"]


def prepare(work: Path) -> tuple[Path, Path, dict[str, str]]:
    ours = work / "embly-project"
    theirs = work / "cargo-project"
    copy_example(ours)
    copy_example(theirs)
    (theirs / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["greeter", "counter", "shout"]\nresolver = "2"\n'
    )
    env = {**os.environ, "EMBLY_HOME": str(work / "home")}
    copied = time.monotonic()
    run([str(EMBLY), "build", "-q"], ours, env)
    run(CARGO_BUILD, theirs, CARGO_ENV)
    # Files changed within the last 2 s cannot be vouched for by stat; users' files are older.
    time.sleep(max(0.0, copied + 2.1 - time.monotonic()))
    run([str(EMBLY), "build", "-q"], ours, env)  # recorded
    return ours, theirs, env


# `wasmtime compile` for a machine with the Python wheel only.
AOT_COMPILE = (
    "import sys, wasmtime\n"
    "module = wasmtime.Module.from_file(wasmtime.Engine(), sys.argv[1])\n"
    "open(sys.argv[2], 'wb').write(module.serialize())\n"
)


def by_hand(crate: Path, built: Path, work: Path) -> None:
    """cargo, wasm-strip, wasm-opt -O2 and an AOT compile, one after the other."""
    run(CARGO_BUILD, crate, CARGO_ENV)
    stripped, optimised = work / "stripped.wasm", work / "optimised.wasm"
    shutil.copyfile(built, stripped)
    run(["wasm-strip", str(stripped)], work)
    run(["wasm-opt", "-O2", *WASM_OPT_FEATURES, str(stripped), "-o", str(optimised)], work)
    run([sys.executable, "-c", AOT_COMPILE, str(optimised), str(work / "out.cwasm")], work)


# What `embly build` loads before it indexes anything (in-process server, terminal output).
LOAD_BUILD_STACK = (
    "import embly_build.cli.app, embly_build.cli.commands.build, embly_build.server.factory, "
    "rich.console"
)


def one_line_edit(path: Path, original: str, counter: list[int]) -> None:
    counter[0] += 1
    path.write_text(original.replace('"{}"', f'"{{}}{"!" * counter[0]}"'))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="embly-bench-") as temp:
        ours, theirs, env = prepare(Path(temp))
        noop_ours = median_seconds(lambda: run([str(EMBLY), "build", "-q"], ours, env))
        noop_theirs = median_seconds(lambda: run(CARGO_BUILD, theirs, CARGO_ENV))
        report("(1) no-op build, 3 functions", noop_ours, noop_theirs, 1.5)

        touched = ours / "greeter" / "src" / "main.rs"

        def touched_ours() -> None:
            touched.touch()
            run([str(EMBLY), "build", "-q"], ours, env)

        def touched_theirs() -> None:
            (theirs / "greeter" / "src" / "main.rs").touch()
            run(CARGO_BUILD, theirs, CARGO_ENV)

        touched_ours_seconds = median_seconds(touched_ours)
        touched_theirs_seconds = median_seconds(touched_theirs)
        info(
            "    a source touched: embly asks the server",
            touched_ours_seconds,
            touched_theirs_seconds,
        )

        our_main, their_main = (p / "greeter" / "src" / "main.rs" for p in (ours, theirs))
        original = our_main.read_text()
        ours_count, theirs_count = [0], [0]

        def ours_edit() -> None:
            one_line_edit(our_main, original, ours_count)
            run([str(EMBLY), "build", "greeter", "-q"], ours, env)

        def ours_quick_edit() -> None:
            one_line_edit(our_main, original, ours_count)
            run([str(EMBLY), "build", "greeter", "-q", "--opt-level", "none"], ours, env)

        def theirs_edit() -> None:
            one_line_edit(their_main, original, theirs_count)
            run(CARGO_BUILD, theirs / "greeter", CARGO_ENV)

        built = theirs / "target" / "wasm32-wasi" / "release" / "greeter-fn.wasm"
        by_hand_work = theirs.parent / "by-hand"
        by_hand_work.mkdir()

        def by_hand_edit() -> None:
            one_line_edit(their_main, original, theirs_count)
            by_hand(theirs / "greeter", built, by_hand_work)

        edit_ours = median_seconds(ours_edit)
        edit_quick = median_seconds(ours_quick_edit)
        edit_theirs = median_seconds(theirs_edit)
        edit_by_hand = median_seconds(by_hand_edit)
        report("(2) one-line edit rebuild of greeter", edit_ours, edit_theirs, 1.2)
        report("    the same with --opt-level none", edit_quick, edit_theirs, 1.2)
        info("    vs cargo + post-processing by hand", edit_ours, edit_by_hand)
        start_up = median_seconds(lambda: run([sys.executable, "-c", LOAD_BUILD_STACK], ours))
        info("    of which Python start-up and imports", start_up, edit_theirs)


if __name__ == "__main__":
    main()
