"""Edit latency on a function of real size, side by side with the same work done by hand.

The function is the example's `person`: serde with derive, serde_json and regex, vendored
(a 6 MB module as cargo writes it). The baselines work in place, in a copy of the project
of their own, with the toolchain's tools: `cargo build`, `wasm-strip`, `wasm-opt` with
embly's options, and a wasmtime AOT compile (the wasmtime wheel, in a new process, as
`wasmtime compile` would be).

`embly watch` and `entr` running that work as one recipe take turns, save by save:
(1) a save's latency to embly's quick artifacts (the stripped .wasm and its quick .cwasm)
vs to the recipe's stripped .wasm (cargo + wasm-strip); (2) to embly's optimised artifacts
vs to the recipe's .cwasm (cargo, wasm-strip, wasm-opt -O2, AOT). Then, turn by turn,
(3) a new `embly build` process after an edit vs the same work by hand, and (4) a no-op
`embly build` vs a no-op `cargo build`.

Then where the time goes: the median of each step, as the build events time them on the
server and as the by-hand work takes them.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from bench_build import AOT_COMPILE, CARGO_BUILD
from bench_watch import EmblyWatch
from common import CARGO_ENV, EMBLY, report, run, start_entr

from embly_build.server.build.postprocess import WASM_OPT_FEATURES
from tests.example_project import VENDORED_FUNCTION, copy_example

EDITS = 9
PAUSE = 0.2  # before each save, on both sides: a person does not save as a build ends
COLD_BUILD_S = 900  # the first build of serde, serde_json and regex, on a busy machine
EDIT_BUILD_S = 180
NOOP_RUNS = 21  # short ones: many, for a median that noise moves little
# The server's steps, in the order they run, as its build events time them.
SERVER_STEPS = ("queued", "toolchain", "sync", "compile", "postprocess", "aot")
HAND_STEPS = ("cargo", "wasm-strip", "wasm-opt", "aot")


def edit(main_rs: Path, original: str, number: int) -> None:
    """A one-line edit that changes the program."""
    main_rs.write_text(original.replace("expected a name", f"expected a name (#{number})"))


class Stopwatch:
    """Median seconds of each named sample."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float) -> None:
        self.samples.setdefault(name, []).append(seconds)

    def add_steps(self, prefix: str, timings: Mapping[str, int]) -> None:
        for step in SERVER_STEPS:
            self.add(f"{prefix} {step}", timings.get(f"{step}_ms", 0) / 1000)

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])


class HandWork:
    """The by-hand work on one copy: the crate built in place, then post-processed and
    AOT-compiled beside it."""

    def __init__(self, project: Path) -> None:
        self.crate = project / VENDORED_FUNCTION
        self.built = self.crate / "target" / "wasm32-wasi" / "release" / "person-fn.wasm"
        self.out = project / "by-hand"
        self.out.mkdir()
        self.aot_script = self.out / "aot_compile.py"
        self.aot_script.write_text(AOT_COMPILE)

    def steps(self) -> list[tuple[str, list[str]]]:
        stripped, optimised = self.out / "stripped.wasm", self.out / "optimised.wasm"
        return [
            ("cargo", [*CARGO_BUILD, "-q"]),
            ("wasm-strip", ["cp", str(self.built), str(stripped)]),
            ("wasm-strip", ["wasm-strip", str(stripped)]),
            (
                "wasm-opt",
                ["wasm-opt", "-O2", *WASM_OPT_FEATURES, str(stripped), "-o", str(optimised)],
            ),
            (
                "aot",
                [sys.executable, str(self.aot_script), str(optimised), str(self.out / "out.cwasm")],
            ),
        ]

    def run_timed(self, clock: Stopwatch) -> None:
        took = dict.fromkeys(HAND_STEPS, 0.0)
        for name, argv in self.steps():
            start = time.perf_counter()
            run(argv, self.crate, CARGO_ENV)
            took[name] += time.perf_counter() - start
        for name, seconds in took.items():
            clock.add(f"hand {name}", seconds)
        clock.add("hand", sum(took.values()))


class EntrRecipe:
    """entr running the by-hand work whenever the crate's source changes: the stripped .wasm
    is put in place as soon as it is made (the quick result), the .cwasm at the end."""

    def __init__(self, work: HandWork) -> None:
        self.quick = work.out / "quick.wasm"
        self.final = work.out / "final.cwasm"
        lines = []
        for name, argv in work.steps():
            lines.append(" ".join(argv))
            if name == "wasm-strip" and argv[0] == "wasm-strip":
                lines.append(f"cp {argv[1]} {self.quick}.tmp")
                lines.append(f"mv {self.quick}.tmp {self.quick}")
        lines.append(f"mv {work.out / 'out.cwasm'} {self.final}")
        recipe = work.out / "Makefile"
        recipe.write_text("rebuild:\n" + "".join(f"\t{line}\n" for line in lines))
        self.argv = ["make", "-s", "-C", str(work.crate), "-f", str(recipe)]
        self.sources = [str(p) for p in sorted(work.crate.glob("src/*.rs"))]
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = start_entr(self.argv, self.sources)

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=30)


def wait_for_newer(path: Path, moment: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_mtime > moment:
            return
        time.sleep(0.005)
    raise SystemExit(f"{path} was not rewritten within {timeout} s")


def watch_save(
    watch: EmblyWatch, main_rs: Path, original: str, number: int, clock: Stopwatch
) -> None:
    start = time.perf_counter()
    edit(main_rs, original, number)
    quick = watch.next_event({"build_finished"}, EDIT_BUILD_S)
    assert quick and quick["status"] == "ok" and quick["optimising"], f"no quick result: {quick}"
    clock.add("watch quick", time.perf_counter() - start)
    optimised = watch.next_event({"build_finished"}, EDIT_BUILD_S)
    assert optimised and optimised["status"] == "ok", f"no optimised result: {optimised}"
    clock.add("watch optimised", time.perf_counter() - start)
    quick_steps, all_steps = quick["timings"], optimised["timings"]
    assert isinstance(quick_steps, dict) and isinstance(all_steps, dict)
    clock.add_steps("watch quick", quick_steps)
    clock.add_steps("watch then", {k: all_steps[k] - quick_steps.get(k, 0) for k in all_steps})


def entr_save(
    recipe: EntrRecipe, main_rs: Path, original: str, number: int, clock: Stopwatch
) -> None:
    start_wall, start = time.time(), time.perf_counter()
    edit(main_rs, original, number)
    wait_for_newer(recipe.quick, start_wall, EDIT_BUILD_S)
    clock.add("entr quick", time.perf_counter() - start)
    wait_for_newer(recipe.final, start_wall, EDIT_BUILD_S)
    clock.add("entr optimised", time.perf_counter() - start)


def embly_build(project: Path, env: dict[str, str], clock: Stopwatch | None = None) -> None:
    start = time.perf_counter()
    done = subprocess.run(
        [str(EMBLY), "build", "--json", VENDORED_FUNCTION],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    if clock is None:
        return
    clock.add("build", time.perf_counter() - start)
    finished = json.loads(done.stdout.splitlines()[-1])
    assert finished["event"] == "build_finished" and not finished["cache_hit"], finished
    clock.add_steps("build", finished["timings"])


def interleaved(actions: list[Callable[[int], None]], edits: int) -> None:
    """Each action once per edit, in turns, the order reversed every other edit: a machine
    that slows down or speeds up meanwhile does so for all alike."""
    for number in range(1, edits + 1):
        for action in actions if number % 2 else actions[::-1]:
            time.sleep(PAUSE)
            action(number)


def main() -> None:
    if shutil.which("entr") is None:
        raise SystemExit("entr is not installed: apt-get install entr (make bench does it)")
    clock = Stopwatch()
    with tempfile.TemporaryDirectory(prefix="embly-bench-real-size-") as temp:
        work = Path(temp)
        ours = copy_example(work / "embly", vendored=True)
        theirs = copy_example(work / "by-hand", vendored=True)
        env = {**os.environ, "EMBLY_HOME": str(work / "home")}
        hand = HandWork(theirs)
        ours_main = ours / VENDORED_FUNCTION / "src" / "main.rs"
        theirs_main = hand.crate / "src" / "main.rs"
        original = ours_main.read_text()

        print(f"building {VENDORED_FUNCTION} cold, both sides (a minute or more)", flush=True)
        hand.run_timed(Stopwatch())
        recipe = EntrRecipe(hand)
        watch = EmblyWatch(ours, work / "home", [], VENDORED_FUNCTION)
        try:
            assert watch.next_event({"watching"}, COLD_BUILD_S), "embly watch did not start"
            recipe.start()
            interleaved(
                [
                    lambda n: watch_save(watch, ours_main, original, n, clock),
                    lambda n: entr_save(recipe, theirs_main, original, n, clock),
                ],
                EDITS,
            )
        finally:
            watch.stop()
            recipe.stop()

        def ours_edit(number: int) -> None:
            edit(ours_main, original, EDITS + number)
            embly_build(ours, env, clock)

        def theirs_edit(number: int) -> None:
            edit(theirs_main, original, EDITS + number)
            hand.run_timed(clock)

        interleaved([ours_edit, theirs_edit], EDITS)

        # Files changed within the last 2 s cannot be vouched for by stat; users' files are older.
        time.sleep(2.1)
        embly_build(ours, env)  # recorded
        for _ in range(NOOP_RUNS):
            for name, argv, cwd, run_env in (
                ("noop embly", [str(EMBLY), "build", "-q", VENDORED_FUNCTION], ours, env),
                ("noop cargo", CARGO_BUILD, hand.crate, CARGO_ENV),
            ):
                start = time.perf_counter()
                run(argv, cwd, run_env)
                clock.add(name, time.perf_counter() - start)
        sizes = _sizes(ours / "embly_build", hand.built)

    _report(clock, sizes)


def _sizes(artifacts: Path, built: Path) -> str:
    wasm = (artifacts / f"{VENDORED_FUNCTION}.wasm").stat().st_size
    cwasm = (artifacts / f"{VENDORED_FUNCTION}.cwasm").stat().st_size
    return (
        f"{built.stat().st_size / 1e6:.1f} MB built, {wasm / 1e6:.2f} MB optimised, "
        f"{cwasm / 1e6:.2f} MB .cwasm"
    )


def _report(clock: Stopwatch, sizes: str) -> None:
    m = clock.median
    print(f"real-size function `{VENDORED_FUNCTION}` (serde, serde_json, regex): {sizes}")
    print("by hand: cargo build, wasm-strip, wasm-opt -O2, a wasmtime AOT compile, in place")
    report("(1) watch, quick artifacts vs cargo + strip", m("watch quick"), m("entr quick"), 1.2)
    report("(2) watch, optimised vs by hand (entr)", m("watch optimised"), m("entr optimised"), 1.1)
    report("(3) embly build after an edit vs by hand", m("build"), m("hand"), 1.25)
    report("(4) no-op embly build vs no-op cargo build", m("noop embly"), m("noop cargo"), 1.0)
    print("where the time goes (medians, ms):")
    for label, prefix in (
        ("watch, save to quick", "watch quick"),
        ("watch, quick to optimised", "watch then"),
        ("embly build", "build"),
    ):
        steps = "  ".join(f"{s} {m(f'{prefix} {s}') * 1000:.0f}" for s in SERVER_STEPS)
        print(f"  {label:<26} {steps}")
    hand = "  ".join(f"{s} {m(f'hand {s}') * 1000:.0f}" for s in HAND_STEPS)
    print(f"  {'by hand':<26} {hand}", flush=True)


if __name__ == "__main__":
    main()
