"""`embly serve` as a user runs it: it says where it listens and stops cleanly on a stop
signal (exit code 0), its socket file removed; where it cannot listen, it says why and exits
2, having removed nothing."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import EMBLY, embly, embly_serve, leftover_processes, processes_left_after


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_serve_stops_cleanly_on_a_stop_signal(tmp_path: Path, stop: signal.Signals) -> None:
    socket = tmp_path / "embly.sock"
    with embly_serve(socket, tmp_path / "state") as server:
        assert socket.exists()
        server.send_signal(stop)
        assert server.wait(timeout=30) == 0
        assert server.stderr is not None and "embly serve: stopped" in server.stderr.read()
    assert not socket.exists(), "the socket file is removed"


def _serve(tmp_path: Path, *listen: str) -> subprocess.CompletedProcess[str]:
    flags = [arg for address in listen for arg in ("--listen", address)]
    return embly("serve", *flags, "--store", str(tmp_path / "state"), cwd=tmp_path, timeout=60)


def _refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.stderr
    assert "listening" not in result.stderr and "stopped" not in result.stderr


def test_serve_keeps_a_regular_file_at_its_socket_path(tmp_path: Path) -> None:
    path = tmp_path / "x" / "file.sock"
    path.parent.mkdir()
    path.write_text("precious\n")
    _refused(
        _serve(tmp_path, f"unix:{path}"),
        f"cannot listen on unix:{path}: it is a regular file, not a socket",
    )
    assert path.read_text() == "precious\n"


def test_serve_keeps_a_directory_at_its_socket_path(tmp_path: Path) -> None:
    path = tmp_path / "file.sock"
    path.mkdir()
    _refused(
        _serve(tmp_path, f"unix:{path}"),
        f"cannot listen on unix:{path}: it is a directory, not a socket",
    )
    assert path.is_dir()


def test_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve(tmp_path, f"127.0.0.1:{port}")
    _refused(result, f"cannot listen on 127.0.0.1:{port}: address already in use;")


def test_serve_on_a_socket_path_too_long(tmp_path: Path) -> None:
    address = f"unix:{tmp_path / ('d' * 60) / ('s' * 60)}"
    _refused(_serve(tmp_path, address), f"the socket path of {address} is too long:")
    assert not (tmp_path / ("d" * 60)).exists()


def test_serve_on_a_host_name_without_tls_is_refused(tmp_path: Path) -> None:
    _refused(
        _serve(tmp_path, "bogus"),
        "refusing to serve bogus:9276 without TLS: anyone who can connect to it can run "
        "arbitrary code (build scripts) on this machine as this user;",
    )


def test_serve_off_loopback_asks_for_tls(tmp_path: Path) -> None:
    _refused(_serve(tmp_path, "0.0.0.0:9276"), "refusing to serve 0.0.0.0:9276 without TLS")


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
    build = None
    with embly_serve(socket, embly_home) as server:
        try:
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
            killed = time.monotonic()
            assert build.wait(timeout=30) == 3, "a lost server has its own exit code"
            assert time.monotonic() - killed < 5, "the client notices at once"
            assert build.stderr is not None
            said = build.stderr.read()
            assert f"lost the connection to the build server at unix:{socket}" in said, said
            assert "Traceback" not in said
            assert processes_left_after(embly_home, 10) == []
        finally:
            if build is not None and build.poll() is None:
                build.kill()
                build.wait()
        server.wait()


def test_help_says_where_it_listens_how_it_stops_and_where_its_state_is(tmp_path: Path) -> None:
    shown = embly("serve", "--help", cwd=tmp_path, env={"COLUMNS": "200"})
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    for said in (
        "unix:/path/to/sock, or HOST:PORT; default 127.0.0.1:9276",
        "TCP beyond loopback is served only with TLS",
        "a line removed is a token revoked",
        "--insecure serves without them, with a warning",
        "kept in --store (default: EMBLY_HOME",
        "Ctrl-C, SIGTERM or SIGHUP stop it cleanly",
        "its unix sockets removed; exit code 0",
    ):
        assert said in text, said
