"""Indexing speed: cold index, warm index (stat cache filled) and `sha256sum`, side by side.

Two warm indexes: a new process's (`embly build`), which must `stat` every file, and one after
file events (`embly watch`, whose OS watches report each change), which lists only the directory
an event names: here one unchanged file's event, as a save that changed nothing.
Beside them GNU find stating every file: the floor of a new process's warm index, which must
learn of changes by stat when no resident process watched the files, and its target's baseline.

    .venv/bin/python benchmarks/bench_index.py [--dirs 100] [--files-per-dir 100]
        [--file-size 4096] [--runs 5]

Generates a crate of dirs x files-per-dir random files of file-size bytes (plus a Cargo.toml
and two .gitignore files) in a temporary directory, with mtimes an hour old: files written
seconds before an index are racy and hashed again by design. Each round runs every variant once, so
noise from other work on the machine spreads evenly; medians are reported. All files are in
the page cache, so this measures CPU cost, not disk speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from embly_build.client.inputs.index import FunctionInputs, index_function
from embly_build.client.inputs.reindex import index_after_events
from embly_build.client.inputs.stat_cache import StatCache

WARM_TARGET = 0.10  # warm index after file events / cold index, at most
# A new process's warm index / find stating every file (the floor it cannot go below), at most.
NEW_PROCESS_TARGET = 2.0
THROUGHPUT_TARGET = 0.50  # cold index throughput / sha256sum throughput, at least


@dataclass(frozen=True)
class Tree:
    crate: Path
    inputs: FunctionInputs

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.inputs.files)


def main() -> None:
    options = _arguments()
    work = Path(tempfile.mkdtemp(prefix="embly-bench-index-"))
    try:
        crate = _generate(work / "crate", options.dirs, options.files_per_dir, options.file_size)
        tree = Tree(crate, index_function(crate, [], crate / "embly_build"))
        _report(tree, _measure(tree, work, options.runs))
    finally:
        shutil.rmtree(work)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dirs", type=int, default=100)
    parser.add_argument("--files-per-dir", type=int, default=100)
    parser.add_argument("--file-size", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args()


def _generate(crate: Path, dirs: int, files_per_dir: int, file_size: int) -> Path:
    crate.mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "bench"\nversion = "0.1.0"\n')
    (crate / ".gitignore").write_text("*.tmp\n/target/\n")
    for d in range(dirs):
        directory = crate / "src" / f"module{d:03}"
        directory.mkdir(parents=True)
        for f in range(files_per_dir):
            (directory / f"file{f:03}.rs").write_bytes(os.urandom(file_size))
    (crate / "src" / "module000" / ".gitignore").write_text("*.bak\n")
    hour_ago = time.time_ns() - 3600 * 10**9
    for path in crate.rglob("*"):
        os.utime(path, ns=(hour_ago, hour_ago))
    return crate


def _measure(tree: Tree, work: Path, runs: int) -> dict[str, float]:
    warm_db = work / "warm.sqlite3"
    _index(tree, warm_db)  # fill
    if _index(tree, warm_db) != tree.inputs:
        raise SystemExit("the warm index differs from an index without cache")
    event = {tree.crate / "src" / "module050" / "file000.rs"}
    if _after_event(tree, warm_db, event) != tree.inputs:
        raise SystemExit("the index after an event differs from an index without cache")
    file_list = b"".join(os.fsencode(f.absolute) + b"\0" for f in tree.inputs.files)
    variants: dict[str, Callable[[int], object]] = {
        "cold, no cache": lambda run: index_function(tree.crate, [], tree.crate / "embly_build"),
        "cold, empty cache": lambda run: _index(tree, work / f"cold-{run}.sqlite3"),
        "warm, filled cache": lambda run: _index(tree, warm_db),
        "warm, one file event": lambda run: _after_event(tree, warm_db, event),
        "sha256sum": lambda run: _sha256sum(file_list),
        "find, a stat per file": lambda run: _find_with_stat(tree.crate),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for run in range(runs):
        for name, variant in variants.items():
            started = time.perf_counter()
            variant(run)
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in timings.items()}


def _index(tree: Tree, db: Path) -> FunctionInputs:
    with StatCache(db) as cache:
        return index_function(tree.crate, [], tree.crate / "embly_build", stat_cache=cache)


def _after_event(tree: Tree, db: Path, event: set[Path]) -> FunctionInputs:
    with StatCache(db) as cache:
        return index_after_events(
            tree.inputs, event, tree.crate, [], tree.crate / "embly_build", stat_cache=cache
        )


def _sha256sum(file_list: bytes) -> None:
    subprocess.run(
        ["xargs", "-0", "sha256sum", "--"],
        input=file_list,
        stdout=subprocess.DEVNULL,
        check=True,
    )


def _find_with_stat(crate: Path) -> None:
    """GNU find printing each file's size, mtime, ctime and inode: the walk and stat that any
    index without a resident file monitor must do, in C."""
    subprocess.run(
        ["find", str(crate), "-type", "f", "-printf", "%s %T@ %C@ %i %p\\0"],
        stdout=subprocess.DEVNULL,
        check=True,
    )


def _report(tree: Tree, medians: dict[str, float]) -> None:
    mib = tree.total_bytes / 2**20
    print(f"{len(tree.inputs.files)} files, {mib:.1f} MiB, in {tree.crate}")
    print("median wall time:")
    for name, seconds in medians.items():
        print(f"  {name:<22} {seconds * 1000:8.1f} ms  {mib / seconds:8.1f} MiB/s")
    # Each ratio against the cold variant that makes its target harder to reach.
    cold_fast = min(medians["cold, no cache"], medians["cold, empty cache"])
    cold_slow = max(medians["cold, no cache"], medians["cold, empty cache"])
    throughput_ratio = medians["sha256sum"] / cold_slow
    floor = medians["find, a stat per file"]
    print(
        f"{'find, a stat per file / fastest cold':<37} {floor / cold_fast:6.3f}  (what no "
        "stat-based warm index in a new process can go below)"
    )
    new_process = medians["warm, filled cache"]
    _verdict(
        "warm (new process) / find floor",
        new_process / floor,
        f"<= {NEW_PROCESS_TARGET:.1f}",
        new_process / floor <= NEW_PROCESS_TARGET,
    )
    print(f"{'warm (new process) / fastest cold':<37} {new_process / cold_fast:6.3f}")
    events = medians["warm, one file event"] / cold_fast
    _verdict(
        "warm (file events) / fastest cold", events, f"<= {WARM_TARGET:.2f}", events <= WARM_TARGET
    )
    _verdict(
        "slowest cold throughput / sha256sum",
        throughput_ratio,
        f">= {THROUGHPUT_TARGET:.2f}",
        throughput_ratio >= THROUGHPUT_TARGET,
    )


def _verdict(name: str, ratio: float, target: str, passed: bool) -> None:
    print(f"{name:<37} {ratio:6.3f}  (target {target})  {'PASS' if passed else 'MISS'}")


if __name__ == "__main__":
    main()
