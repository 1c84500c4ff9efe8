"""Ctrl-C during a cold index of a large tree stops `embly build` and `embly watch` at once:
the index's thread is told to stop, so the process does not wait for it to finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.client.files import sparse_file
from tests.helpers import EMBLY, processes_left_after

# Sparse files (see sparse_file): none takes disk space, yet hashing each one takes seconds.
LARGE_FILES = 8
LARGE_FILE_BYTES = 4 * 2**30
STOPPED_WITHIN_S = 2.0


def large_project(root: Path) -> Path:
    """A project whose one function holds 32 GiB of (sparse) files: its first index takes
    many seconds on any machine."""
    crate = root / "big"
    (crate / "src").mkdir(parents=True)
    (root / "embly.hcl").write_text('function "big" {\n  runtime = "rust"\n  path = "./big"\n}\n')
    (crate / "Cargo.toml").write_text('[package]\nname = "big"\nversion = "0.1.0"\n')
    (crate / "src" / "main.rs").write_text("fn main() {}\n")
    for number in range(LARGE_FILES):
        sparse_file(crate / f"data{number}.bin", LARGE_FILE_BYTES)
    return root


@pytest.mark.parametrize("command", ["build", "watch"])
def test_ctrl_c_during_a_cold_index_stops_at_once(
    tmp_path: Path, embly_home: Path, command: str
) -> None:
    project = large_project(tmp_path / "project")
    started = subprocess.Popen(
        [str(EMBLY), command, "--json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert started.stdout is not None
        for line in started.stdout:  # first reported once the index has run half a second
            if json.loads(line)["event"] == "index_progress":
                break
        else:
            raise AssertionError(f"no index progress: {started.communicate()[1]}")
        time.sleep(0.5)
        assert started.poll() is None, "the index is still running"

        started.send_signal(signal.SIGINT)  # to embly alone, as a terminal's Ctrl-C
        try:
            code = started.wait(timeout=STOPPED_WITHIN_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"embly {command} still ran {STOPPED_WITHIN_S} s after Ctrl-C")
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGKILL)
            started.wait()
    assert code == 130, started.communicate()[1]
    assert processes_left_after(embly_home, 1) == []
