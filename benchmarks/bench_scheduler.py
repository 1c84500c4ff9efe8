"""(4) Scheduler overhead: 200 trivial actions through embly's scheduling vs `make -j`.

Each action runs the same real command (`true`). embly's side goes through the server's
bounded-concurrency slots, the shared-action table (each action a distinct key) and the
executors' process-group runner (own group, output read line by line, leftovers killed),
with the child watcher `embly` itself uses; make's side through 200 phony targets with the
same `-j`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

from common import median_seconds, report

from embly_build.server.build.scheduler import SharedActions
from embly_build.server.executors.child_watcher import use_pidfd_child_watcher
from embly_build.server.executors.process_group import run_in_process_group

ACTIONS = 200
JOBS = os.cpu_count() or 2
CWD = Path("/")
ENV = dict(os.environ)


def ignore_line(line: str) -> None:
    return None


async def run_through_scheduler() -> None:
    shared: SharedActions[int] = SharedActions()
    slots = asyncio.Semaphore(JOBS)

    async def action() -> int:
        async with slots:
            return await run_in_process_group(["true"], CWD, ENV, ignore_line, ignore_line)

    results = await asyncio.gather(
        *(shared.run_once(f"action-{n}", action, lambda: None) for n in range(ACTIONS))
    )
    assert all(code == 0 for code, _ in results)


def makefile(directory: Path) -> Path:
    path = directory / "Makefile"
    targets = " ".join(f"a{n}" for n in range(ACTIONS))
    rules = "".join(f"a{n}:\n\t@true\n" for n in range(ACTIONS))
    path.write_text(f".PHONY: all {targets}\nall: {targets}\n{rules}")
    return path


def main() -> None:
    use_pidfd_child_watcher()  # as `embly` does at start-up
    with tempfile.TemporaryDirectory(prefix="embly-bench-") as temp:
        make = makefile(Path(temp))
        ours = median_seconds(lambda: asyncio.run(run_through_scheduler()))
        theirs = median_seconds(
            lambda: subprocess.run(["make", "-s", f"-j{JOBS}", "-f", str(make)], check=True)
        )
        report(f"(4) {ACTIONS} trivial actions, {JOBS} jobs", ours, theirs, 2.0)


if __name__ == "__main__":
    main()
