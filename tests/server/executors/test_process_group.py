"""Stopping a process group whose leader has died already, as `embly` runs it (pidfd child
watcher): no warning about a lost exit status reaches the user's terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO

SCRIPT = textwrap.dedent(
    """
    import asyncio, os, signal, time
    from pathlib import Path
    from embly_build.server.executors.child_watcher import use_pidfd_child_watcher
    from embly_build.server.executors.process_group import ProcessGroup

    def state(pid):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]

    async def main():
        group = await ProcessGroup.start(["sleep", "30"], Path("/"), {}, stdin=True)
        os.kill(group.pgid, signal.SIGKILL)
        # Dead but not yet reaped: the event loop has not run since, so asyncio has not
        # seen the exit. (A shell that dies while it waits for its step, then is stopped.)
        while state(group.pgid) != "Z":
            time.sleep(0.001)
        await group.stop()
        await asyncio.sleep(0.2)  # for a late warning
        return group.running

    use_pidfd_child_watcher()
    print("running" if asyncio.run(main()) else "stopped")
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="without pidfds a thread reaps at once")
def test_stopping_a_group_whose_leader_died_loses_no_exit_status() -> None:
    result = subprocess.run(
        [sys.executable, "-P", "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout.strip()) == (0, "stopped"), result.stderr
    assert result.stderr == ""
