"""`embly serve` as a user runs it: it says where it listens and stops cleanly on a stop
signal, its socket file removed."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import EMBLY, leftover_processes, processes_left_after


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_serve_stops_cleanly_on_a_stop_signal(tmp_path: Path, stop: signal.Signals) -> None:
    socket = tmp_path / "embly.sock"
    server = subprocess.Popen(
        [str(EMBLY), "serve", "--listen", f"unix:{socket}", "--store", str(tmp_path / "state")],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
        assert f"listening on unix:{socket}" in first, first
        assert socket.exists()
        server.send_signal(stop)
        assert server.wait(timeout=30) == 0
        assert "embly serve: stopped" in server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not socket.exists(), "the socket file is removed"


@pytest.mark.slow
def test_a_killed_server_leaves_no_build_running(
    project: Path, tmp_path: Path, embly_home: Path
) -> None:
    """SIGKILL (or the out-of-memory killer) gives the server no chance to stop its builds:
    they stop themselves when it is gone."""
    (project / "greeter" / "build.rs").write_text(
        "fn main() { std::thread::sleep(std::time::Duration::from_secs(120)); }\n"
    )
    socket = tmp_path / "embly.sock"
    server = subprocess.Popen(
        [str(EMBLY), "serve", "--listen", f"unix:{socket}"],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    build = None
    try:
        assert server.stderr is not None and "listening" in server.stderr.readline()
        remote = ["--executor", "remote", "--remote", f"unix:{socket}"]
        build = subprocess.Popen(
            [str(EMBLY), "build", "greeter", "--json", *remote],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert build.stdout is not None
        for line in build.stdout:
            if "Compiling greeter" in line:
                break
        time.sleep(1)  # the build script is sleeping now
        assert any("build-script" in p for p in leftover_processes(embly_home))
        server.kill()  # SIGKILL to the server alone
        assert build.wait(timeout=30) == 2, "the client reports the lost server"
        assert processes_left_after(embly_home, 10) == []
    finally:
        for process in (server, build):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        server.wait()
