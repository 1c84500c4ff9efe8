"""Several clients building at once against one real `embly serve --jobs 2`: every build
ok, never more compiles at once than --jobs, the server's memory bounded. The full-size
run (8 clients x 5 builds) and its figures are benchmarks/bench_load.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server_load import run_load

JOBS = 2
MAX_RSS_BYTES = 256 * 2**20


@pytest.mark.slow
def test_three_clients_building_at_once_share_the_servers_two_slots(tmp_path: Path) -> None:
    figures = run_load(tmp_path, clients=3, builds=2, jobs=JOBS)

    assert figures.failures == []
    assert len(figures.builds) == 6
    assert figures.max_compiles <= JOBS, "never more compiles at once than --jobs"
    assert figures.max_running <= JOBS
    assert figures.max_compiles == JOBS, "three clients keep both slots busy at some point"
    assert figures.max_queued >= 1, "a third client's build waits for a slot"
    assert figures.samples > 10
    assert 0 < figures.peak_rss_bytes <= MAX_RSS_BYTES
