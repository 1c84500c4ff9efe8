"""`embly serve` as a user runs it: it says where it listens and stops cleanly on a stop
signal, its socket file removed."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import EMBLY


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
