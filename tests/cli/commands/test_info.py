"""`embly info`: the server and what its store holds, in the units `embly gc` uses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from embly_build.server.sizes import format_size
from tests.helpers import EMBLY, embly, embly_serve


def test_an_empty_store(tmp_path: Path, embly_home: Path) -> None:
    shown = embly("info", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "store       0 blobs, 0 B; 0 cached actions" in shown.stdout


def test_json_is_snake_case_with_numbers_as_numbers(tmp_path: Path, embly_home: Path) -> None:
    """As every other --json output (`cache_hit`, `uploaded_bytes`), not the proto3 JSON
    mapping's camelCase and int64 strings."""
    shown = embly("info", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["store"] == {"blob_count": 0, "blob_bytes": 0, "action_cache_entries": 0}
    assert {"server_version", "wasmtime_version", "platform", "toolchains"} <= info.keys()
    for toolchain in info["toolchains"]:
        assert {"wasm_target", "store_path", "identity", "versions"} <= toolchain.keys()


def test_quiet_prints_nothing_and_says_by_its_exit_code_whether_the_server_answers(
    tmp_path: Path, embly_home: Path
) -> None:
    answered = embly("info", "-q", cwd=tmp_path)
    assert (answered.returncode, answered.stdout, answered.stderr) == (0, "", "")

    address = f"unix:{tmp_path / 'nobody.sock'}"
    unanswered = embly("info", "--quiet", "--remote", address, cwd=tmp_path)
    assert unanswered.returncode == 3
    assert unanswered.stdout == ""
    assert f"cannot reach the build server at {address}" in unanswered.stderr


def test_verbose_shows_each_toolchains_identity_and_tool_versions(
    tmp_path: Path, embly_home: Path
) -> None:
    toolchains = json.loads(embly("info", "--json", cwd=tmp_path).stdout)["toolchains"]
    shown = embly("info", "-v", cwd=tmp_path)
    plain = embly("info", cwd=tmp_path).stdout

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(plain.split("toolchain")[0])
    for toolchain in toolchains:
        for name, value in {"identity": toolchain["identity"], **toolchain["versions"]}.items():
            line = f"            {name:<11} {value}"
            assert line in shown.stdout.splitlines()
            assert line not in plain.splitlines()


@pytest.mark.slow
def test_a_store_after_a_build(project: Path, embly_home: Path) -> None:
    assert embly("build", "greeter", "-q", cwd=project).returncode == 0
    store = json.loads(embly("info", "--json", cwd=project).stdout)["store"]
    blobs, size, actions = (
        store[key] for key in ("blob_count", "blob_bytes", "action_cache_entries")
    )
    assert blobs > 0 and size > 0 and actions > 0
    line = f"store       {blobs} blobs, {format_size(size)}; {actions} cached actions"
    assert line in embly("info", cwd=project).stdout


def _gated(crate: Path, gate: Path) -> None:
    """Make the crate's build script wait until `gate` exists: its build holds a slot."""
    wait = (
        "fn wait_for_gate() {\n"
        f"    let gate = std::path::Path::new({json.dumps(str(gate))});\n"
        "    for _ in 0..1200 {\n"
        "        if gate.exists() { return; }\n"
        "        std::thread::sleep(std::time::Duration::from_millis(100));\n"
        "    }\n"
        "}\n"
    )
    script = crate / "build.rs"
    body = script.read_text() if script.exists() else "fn main() {\n}\n"
    script.write_text(body.replace("fn main() {", "fn main() {\n    wait_for_gate();", 1) + wait)


def _wait_for_activity(
    address: str,
    cwd: Path,
    wanted: Callable[[dict[str, int]], bool],
    client: subprocess.Popen[Any] | None = None,
) -> dict[str, int]:
    """The server's activity once it is `wanted`, while `client` still runs."""
    deadline = time.monotonic() + 120
    while not wanted(now := _activity(address, cwd)):
        assert client is None or client.poll() is None, now
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    return now


def _log_when_stopped(server: subprocess.Popen[str]) -> str:
    server.terminate()
    assert server.wait(timeout=60) == 0
    assert server.stderr is not None
    return server.stderr.read()


def _activity(address: str, cwd: Path) -> dict[str, int]:
    shown = embly("info", "--json", "--remote", address, cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    activity: dict[str, int] = json.loads(shown.stdout)["activity"]
    return activity


@pytest.mark.slow
def test_remote_info_shows_builds_running_and_queued_and_the_cache_hit_rate(
    project: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    for crate in ("greeter", "counter"):
        _gated(project / crate, gate)
    socket = tmp_path / "embly.sock"
    address = f"unix:{socket}"
    with embly_serve(socket, tmp_path / "state", "--jobs", "1") as server:
        build = subprocess.Popen(
            [str(EMBLY), "build", "greeter", "counter", "-q", "--remote", address],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            now = _wait_for_activity(
                address, project, lambda a: (a["running"], a["queued"]) == (1, 1), build
            )
            assert now == {"running": 1, "queued": 1, "builds_finished": 0, "cache_hits": 0}
            shown = embly("info", "--remote", address, cwd=project).stdout
            assert "builds      1 running, 1 queued; none finished since the server started" in (
                shown.splitlines()
            )
        finally:
            gate.touch()
            _, said = build.communicate(timeout=300)
        assert build.returncode == 0, said
        again = embly("build", "greeter", "counter", "-q", "--remote", address, cwd=project)
        assert again.returncode == 0, again.stderr
        shown = embly("info", "--remote", address, cwd=project).stdout
        assert (
            "builds      0 running, 0 queued; 4 finished since the server started, "
            "2 from the cache (50%)"
        ) in shown.splitlines()

        log = _log_when_stopped(server)
    built = re.findall(
        r"^embly serve: build caller=anonymous project=\S+ function=(\w+) "
        r"status=ok cache_hit=(yes|no) duration=\d+\.\d\ds$",
        log,
        re.MULTILINE,
    )
    assert sorted(built) == sorted(
        [("greeter", "no"), ("counter", "no"), ("greeter", "yes"), ("counter", "yes")]
    ), log


@pytest.mark.slow
def test_a_build_whose_client_went_away_is_no_longer_counted(project: Path, tmp_path: Path) -> None:
    _gated(project / "greeter", tmp_path / "never")
    socket = tmp_path / "embly.sock"
    address = f"unix:{socket}"
    with embly_serve(socket, tmp_path / "state"):
        build = subprocess.Popen(
            [str(EMBLY), "build", "greeter", "-q", "--remote", address],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while _activity(address, project)["running"] != 1:
                assert build.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        finally:
            build.kill()
            build.wait()
        deadline = time.monotonic() + 30
        while (now := _activity(address, project))["running"]:
            assert time.monotonic() < deadline, now
            time.sleep(0.2)
        assert now == {"running": 0, "queued": 0, "builds_finished": 0, "cache_hits": 0}


@pytest.mark.slow
def test_a_build_whose_caller_goes_away_is_logged_as_cancelled(
    project: Path, tmp_path: Path
) -> None:
    _gated(project / "greeter", tmp_path / "gate")  # never opened: the build waits
    socket = tmp_path / "embly.sock"
    address = f"unix:{socket}"
    with embly_serve(socket, tmp_path / "state") as server:
        build = subprocess.Popen(
            [str(EMBLY), "build", "greeter", "-q", "--remote", address],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_for_activity(address, project, lambda a: a["running"] == 1, build)
        finally:
            os.killpg(build.pid, signal.SIGKILL)
            build.wait()
        _wait_for_activity(address, project, lambda a: a["running"] == 0)  # the build stopped
        log = _log_when_stopped(server)
    assert re.search(
        r"^embly serve: build caller=anonymous project=\S+ function=greeter "
        r"status=cancelled cache_hit=no duration=\d+\.\d\ds$",
        log,
        re.MULTILINE,
    ), log
