"""(4) Scheduler overhead: 200 trivial actions through embly's scheduling vs `make -j`.

Each action runs the same real command (`true`) as a subprocess in its own process group,
as the executor does; embly's side goes through the server's bounded-concurrency slots and
the shared-action table (each action a distinct key), make's side through 200 phony
targets with the same `-j`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

from common import median_seconds, report

from embly_build.server.scheduler import SharedActions

ACTIONS = 200
JOBS = os.cpu_count() or 2


async def run_through_scheduler() -> None:
    shared: SharedActions[int] = SharedActions()
    slots = asyncio.Semaphore(JOBS)

    async def action() -> int:
        async with slots:
            process = await asyncio.create_subprocess_exec("true", start_new_session=True)
            return await process.wait()

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
    with tempfile.TemporaryDirectory(prefix="embly-bench-") as temp:
        make = makefile(Path(temp))
        ours = median_seconds(lambda: asyncio.run(run_through_scheduler()))
        theirs = median_seconds(
            lambda: subprocess.run(["make", "-s", f"-j{JOBS}", "-f", str(make)], check=True)
        )
        report(f"(4) {ACTIONS} trivial actions, {JOBS} jobs", ours, theirs, 2.0)


if __name__ == "__main__":
    main()
