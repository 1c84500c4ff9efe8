"""Save-to-artifact latency of `embly watch` vs `entr` + `cargo build` + `wasm-strip`.

Each setup watches the example's greeter crate in its own copy, all at once, and their
edits take turns (a machine that slows down meanwhile slows all alike); each edit changes
the program. Embly's latency ends when its first `build_finished` event arrives: by
default its quick result (the stripped .wasm and its .cwasm on disk); the baseline's when
its recipe has stripped the new .wasm. The optimised artifacts (wasm-opt -O2) follow;
their latency is compared with a second baseline that also runs `wasm-opt -O2`, as is
`embly watch --no-quick-first`, which writes only those. Then a save that leaves the bytes
as they were: embly should build nothing. Last, the same edits in a copy whose greeter
crate holds 10,000 more files (data it does not compile, as vendored or generated files
would be), with pauses in which the watch checks every file: what an edit costs should not
grow with the files that did not change.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from common import CARGO_ENV, EMBLY, REPO, info, report, start_entr

EXAMPLE = REPO / "examples" / "hello-project"
EDITS = 9
LARGE_FILES = 10_000
PAUSE = 0.2  # before each save, on both sides: a person does not save as a build ends
# Before each save in the large copy: long enough for the full check that `embly watch` runs
# once saves are quiet (VERIFY_AFTER_S after the last) to come between saves, as it does
# between a person's saves.
LARGE_PAUSE = 2.5


class EmblyWatch:
    def __init__(
        self, project: Path, home: Path, options: list[str], function: str = "greeter"
    ) -> None:
        env = {**os.environ, "EMBLY_HOME": str(home)}
        self.process = subprocess.Popen(
            [str(EMBLY), "watch", "--json", *options, function],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.events: queue.Queue[dict[str, object]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def next_event(self, kinds: set[str], timeout: float) -> dict[str, object] | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if event["event"] in kinds:
                return event
        return None

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=30)


class EntrBaseline:
    """entr re-running `cargo build` + `wasm-strip` whenever a watched source changes."""

    def __init__(self, project: Path, optimise: bool) -> None:
        crate = project / "greeter"
        self.marker = project / "stripped.wasm"
        built = crate / "target" / "wasm32-wasi" / "release" / "greeter-fn.wasm"
        recipe = project / "Makefile"
        recipe.write_text(
            "rebuild:\n"
            f"\tcd {crate} && /usr/bin/cargo build -q --release --target wasm32-wasi\n"
            f"\tcp {built} {self.marker}.tmp\n"
            f"\twasm-strip {self.marker}.tmp\n"
            + (f"\twasm-opt -O2 {self.marker}.tmp -o {self.marker}.tmp\n" if optimise else "")
            + f"\tmv {self.marker}.tmp {self.marker}\n"
        )
        subprocess.run(["make", "-s", "-f", str(recipe)], env=CARGO_ENV, check=True)
        sources = [str(p) for p in sorted(project.glob("*/src/*.rs"))]
        self.process = start_entr(["make", "-s", "-f", str(recipe)], sources)

    def rebuilt_after(self, moment: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.marker.exists() and self.marker.stat().st_mtime > moment:
                return time.time()
            time.sleep(0.005)
        return None

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def edit(main_rs: Path, original: str, number: int) -> None:
    main_rs.write_text(original.replace('"{}"', f'"{{}} #{number}"'))


class EmblySetup:
    """`embly watch` on its own copy; each edit's latency to its first artifacts and to its
    optimised ones."""

    def __init__(self, project: Path, home: Path, options: list[str]) -> None:
        self.watch = EmblyWatch(project, home, options)
        assert self.watch.next_event({"watching"}, 300), "embly watch did not start"
        self.main_rs = project / "greeter" / "src" / "main.rs"
        self.original = self.main_rs.read_text()
        self.first: list[float] = []
        self.optimised: list[float] = []

    def edit_and_wait(self, number: int) -> None:
        start = time.perf_counter()
        edit(self.main_rs, self.original, number)
        result = self.watch.next_event({"build_finished"}, 120)
        assert result and result["status"] == "ok", f"no rebuild: {result}"
        self.first.append(time.perf_counter() - start)
        if result["optimising"]:
            result = self.watch.next_event({"build_finished"}, 120)
            assert result and result["status"] == "ok", f"not optimised: {result}"
        self.optimised.append(time.perf_counter() - start)

    def builds_on_unchanged_save(self) -> bool:
        self.main_rs.write_text(self.main_rs.read_text())
        return self.watch.next_event({"build_started"}, 2.0) is not None

    def stop(self) -> None:
        self.watch.stop()


class EntrSetup:
    def __init__(self, project: Path, optimise: bool) -> None:
        self.baseline = EntrBaseline(project, optimise)
        self.main_rs = project / "greeter" / "src" / "main.rs"
        self.original = self.main_rs.read_text()
        self.samples: list[float] = []

    def edit_and_wait(self, number: int) -> None:
        start_wall, start = time.time(), time.perf_counter()
        edit(self.main_rs, self.original, number)
        assert self.baseline.rebuilt_after(start_wall, 120), "entr did not rebuild"
        self.samples.append(time.perf_counter() - start)

    def builds_on_unchanged_save(self) -> bool:
        before = time.time()
        self.main_rs.write_text(self.main_rs.read_text())
        return self.baseline.rebuilt_after(before, 2.0) is not None

    def stop(self) -> None:
        self.baseline.stop()


def add_files(crate: Path, count: int) -> None:
    for number in range(count):
        directory = crate / "data" / f"d{number // 100:03}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{number % 100:03}.txt").write_text(f"file {number}\n" * 20)


def main() -> None:
    if shutil.which("entr") is None:
        raise SystemExit("entr is not installed: apt-get install entr (make bench does it)")
    with tempfile.TemporaryDirectory(prefix="embly-bench-watch-") as temp:
        work = Path(temp)
        ignore = shutil.ignore_patterns("embly_build", "target")
        for name in ("embly", "embly-no-quick", "entr", "entr-opt", "embly-large"):
            shutil.copytree(EXAMPLE, work / name, ignore=ignore)
        add_files(work / "embly-large" / "greeter", LARGE_FILES)
        # Each embly its own home, so that one's edits are not the other's cache hits.
        quick_first = EmblySetup(work / "embly", work / "home", [])
        waiting = EmblySetup(work / "embly-no-quick", work / "home-2", ["--no-quick-first"])
        entr = EntrSetup(work / "entr", optimise=False)
        entr_opt = EntrSetup(work / "entr-opt", optimise=True)
        setups: list[EmblySetup | EntrSetup] = [quick_first, waiting, entr, entr_opt]
        try:
            # Interleaved, edit by edit: a machine that slows down meanwhile slows all alike.
            for number in range(1, EDITS + 1):
                for setup in setups:
                    time.sleep(PAUSE)
                    setup.edit_and_wait(number)
            time.sleep(PAUSE)
            ours_save = quick_first.builds_on_unchanged_save()
            theirs_save = entr.builds_on_unchanged_save()
        finally:
            for setup in setups:
                setup.stop()
        # On its own: its full check of 10,000 files once a save is quiet would slow the others.
        large = EmblySetup(work / "embly-large", work / "home-3", [])
        try:
            for number in range(1, EDITS + 1):
                time.sleep(LARGE_PAUSE)
                large.edit_and_wait(number)
        finally:
            large.stop()
    median = statistics.median
    theirs, theirs_optimised = median(entr.samples), median(entr_opt.samples)
    report("save-to-artifact, vs entr+cargo+wasm-strip", median(quick_first.first), theirs, 1.1)
    report(
        "  then its -O2 one, vs the same + wasm-opt",
        median(quick_first.optimised),
        theirs_optimised,
        1.1,
    )
    report(
        "  --no-quick-first, vs the same + wasm-opt",
        median(waiting.optimised),
        theirs_optimised,
        1.1,
    )
    info(
        f"save-to-artifact, {LARGE_FILES:,} files more vs none",
        median(large.first),
        median(quick_first.first),
    )
    print(
        f"{'save with unchanged bytes':<44} embly built: {'yes' if ours_save else 'no'}; "
        f"entr + cargo rebuilt: {'yes' if theirs_save else 'no'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
