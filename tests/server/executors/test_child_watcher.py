"""`embly` learns of child exits through pidfds on Python 3.11, where asyncio would start a
thread per child."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

SCRIPT = textwrap.dedent(
    """
    import asyncio, threading
    from pathlib import Path
    from embly_build.server.executors.child_watcher import use_pidfd_child_watcher
    from embly_build.server.executors.process_group import run_in_process_group

    assert use_pidfd_child_watcher()
    assert isinstance(asyncio.get_child_watcher(), asyncio.PidfdChildWatcher)

    async def main():
        lines = []
        children = asyncio.gather(
            *(run_in_process_group(["sh", "-c", f"echo {n}; sleep 0.5; exit {n}"], Path("/"),
                                   {}, lines.append, lines.append) for n in range(8))
        )
        await asyncio.sleep(0.25)  # every child is running now
        threads = threading.active_count()
        return await children, sorted(lines), threads

    codes, lines, threads = asyncio.run(main())
    assert codes == list(range(8)), codes
    assert lines == [str(n) for n in range(8)], lines
    assert threads == 1, f"{threads} threads while 8 children ran: a thread waited for each"
    print("ok")
    """
)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 uses pidfds already")
@pytest.mark.skipif(sys.platform != "linux", reason="pidfds are Linux's")
def test_children_are_watched_by_pidfd_not_threads() -> None:
    result = subprocess.run(
        [sys.executable, "-P", "-c", SCRIPT], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
