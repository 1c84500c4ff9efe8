"""(8) Load: 8 clients x 5 edit builds against one real `embly serve --jobs 2`.

Every client is its own copy of the example project, built by its own `embly build
--remote` processes over the server's unix socket (loopback only, real nix/cargo builds),
each build after an edit of the function's source. Meanwhile the `cargo build` processes
under the server are counted from /proc, the server's own running and queued counts asked
for (GetServerInfo), and its resident memory sampled (tests/server_load.py). The baseline,
measured in the same run against a fresh server: one client making its 5 edit builds alone.
Targets: every build ok, never more compiles at once than --jobs, the server's memory
bounded.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from tests.server_load import LoadFigures, run_load

CLIENTS = 8
BUILDS = 5
JOBS = 2
MAX_RSS_BYTES = 256 * 2**20
MiB = 2**20


def _latencies(figures: LoadFigures) -> list[float]:
    return sorted(build.seconds for build in figures.builds)


def _verdict(met: bool) -> str:
    return "PASS" if met else "MISS"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="embly-bench-load-") as temp:
        alone = run_load(Path(temp) / "alone", clients=1, builds=BUILDS, jobs=JOBS)
        loaded = run_load(Path(temp) / "load", clients=CLIENTS, builds=BUILDS, jobs=JOBS)
    total = CLIENTS * BUILDS
    ok = total - len(loaded.failures)
    latencies, alone_latencies = _latencies(loaded), _latencies(alone)
    median, alone_median = statistics.median(latencies), statistics.median(alone_latencies)
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    one_after_another = CLIENTS * sum(alone_latencies)
    queued = sorted(build.queued_ms for build in loaded.builds)
    print(f"(8) load: {CLIENTS} clients x {BUILDS} edit builds, --jobs {JOBS}, unix socket")
    print(f"    builds ok              {ok} of {total}  {_verdict(ok == total)}", flush=True)
    for failure in loaded.failures[:5]:
        print(f"      {failure}")
    print(
        f"    compiles at once       max {loaded.max_compiles} `cargo build` under the server "
        f"(server's own count: max {loaded.max_running} running, {loaded.max_queued} queued; "
        f"{loaded.samples} samples)  target <= {JOBS}  "
        f"{_verdict(loaded.max_compiles <= JOBS and loaded.max_running <= JOBS)}"
    )
    print(
        f"    wall time              {loaded.wall_seconds:6.1f} s   baseline "
        f"{one_after_another:6.1f} s ({CLIENTS} x one client alone)  "
        f"ratio {loaded.wall_seconds / one_after_another:5.2f}"
    )
    print(
        f"    per-build latency      median {median:5.2f} s  p90 {p90:5.2f} s  "
        f"max {latencies[-1]:5.2f} s   baseline median {alone_median:5.2f} s (alone)  "
        f"ratio {median / alone_median:5.2f}"
    )
    print(
        f"    queued for a slot      median {statistics.median(queued) / 1000:5.2f} s  "
        f"max {queued[-1] / 1000:5.2f} s"
    )
    print(
        f"    server RSS             peak {loaded.peak_rss_bytes / MiB:6.1f} MiB   baseline "
        f"peak {alone.peak_rss_bytes / MiB:6.1f} MiB (one client)  "
        f"ratio {loaded.peak_rss_bytes / alone.peak_rss_bytes:5.2f}  "
        f"target <= {MAX_RSS_BYTES // MiB} MiB  "
        f"{_verdict(loaded.peak_rss_bytes <= MAX_RSS_BYTES)}",
        flush=True,
    )


if __name__ == "__main__":
    main()
