"""Helpers shared by the benchmarks: timing medians and printing ratios with targets."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EMBLY = Path(sys.executable).parent / "embly"
# The Debian rustc/cargo with the wasm std; a rustup toolchain may shadow them on PATH.
CARGO_ENV = {**os.environ, "RUSTC": "/usr/bin/rustc", "CARGO_TERM_COLOR": "never"}


def median_seconds(action: Callable[[], object], runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)


def start_entr(argv: Sequence[str], sources: Sequence[str]) -> subprocess.Popen[str]:
    """`entr -n -p ARGV` watching `sources` (in a process group of its own, with CARGO_ENV),
    once it has had time to start: entr has no ready signal."""
    process = subprocess.Popen(
        ["entr", "-n", "-p", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=CARGO_ENV,
        text=True,
        start_new_session=True,
    )
    assert process.stdin is not None
    process.stdin.write("\n".join(sources) + "\n")
    process.stdin.close()
    time.sleep(1)
    return process


def report(label: str, ours: float, baseline: float, target: float, *, lower: bool = True) -> str:
    ratio = ours / baseline if baseline else float("inf")
    met = ratio <= target if lower else ratio >= target
    relation = "<=" if lower else ">="
    verdict = "PASS" if met else "MISS"
    line = (
        f"{label:<44} embly {ours * 1000:8.1f} ms  baseline {baseline * 1000:8.1f} ms  "
        f"ratio {ratio:5.2f} (target {relation} {target})  {verdict}"
    )
    print(line, flush=True)
    return verdict


def info(label: str, ours: float, baseline: float) -> None:
    """A figure measured beside a target's, for context: no target of its own."""
    ratio = ours / baseline if baseline else float("inf")
    print(
        f"{label:<44} embly {ours * 1000:8.1f} ms  baseline {baseline * 1000:8.1f} ms  "
        f"ratio {ratio:5.2f}",
        flush=True,
    )
