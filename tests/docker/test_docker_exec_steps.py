"""The Docker executor's steps, one by one, in its real build container on a real engine:
output streamed as it comes, exit statuses, and nothing left running when a step is
cancelled or its output callback fails."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from embly_build.client.docker.engine import docker_engine as connect_engine
from embly_build.errors import DockerUnavailable
from embly_build.server.executors.docker_exec import DockerExecExecutor
from embly_build.server.executors.step_container import LABEL_HOME, container_name
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains.base import Toolchain
from tests.docker.conftest import BuiltImage

pytestmark = pytest.mark.slow


@dataclass
class Steps:
    executor: DockerExecExecutor
    toolchain: Toolchain
    home: Path


@pytest.fixture
async def steps(server_image: BuiltImage, tmp_path: Path) -> AsyncIterator[Steps]:
    """The executor of a server whose state is in tmp_path, and its container's toolchain;
    the container is removed afterwards."""
    home = tmp_path / "server-home"
    executor = DockerExecExecutor(ServerSettings(home=home, executor="docker"))
    try:
        toolchain = await executor.toolchain_provider().provision("rust")
        yield Steps(executor, toolchain, home)
    finally:
        await executor.close()
        async with connect_engine() as docker:
            filters = json.dumps({"label": [f"{LABEL_HOME}={home}"]})
            for container in await docker.containers.list(all=True, filters=filters):
                await container.delete(force=True)


async def _run(steps: Steps, script: str, lines: list[tuple[str, str, float]]) -> int:
    return await steps.executor.run(
        steps.toolchain,
        ["bash", "-c", script],
        cwd=steps.home / "spaces",
        env={"GREETING": "hello"},
        on_stdout=lambda line: lines.append(("out", line, time.monotonic())),
        on_stderr=lambda line: lines.append(("err", line, time.monotonic())),
    )


def _processes_running(command: str) -> list[str]:
    """Processes (the container's are visible here too) running `command`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline.strip() == command and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


async def test_a_step_streams_its_lines_as_they_come_and_returns_its_status(
    steps: Steps,
) -> None:
    lines: list[tuple[str, str, float]] = []
    script = 'echo "$GREETING from $PWD"; echo to stderr >&2; /usr/bin/sleep 2; echo last; exit 3'
    started = time.monotonic()
    status = await _run(steps, script, lines)
    ended = time.monotonic()
    assert status == 3
    out = [(text, at) for stream, text, at in lines if stream == "out"]
    assert [text for text, _ in out] == [f"hello from {steps.home / 'spaces'}", "last"]
    assert [text for stream, text, _ in lines if stream == "err"] == ["to stderr"]
    assert ended - out[0][1] > 1.5, "the first line came before the step ended"
    print(f"first line {out[0][1] - started:.2f} s after the step was asked for")


async def test_only_the_toolchain_is_on_the_path_and_files_are_the_servers(steps: Steps) -> None:
    lines: list[tuple[str, str, float]] = []
    script = 'echo "$PATH"; type -P cargo wasm-opt; type -P python3 || echo none; : > made'
    assert await _run(steps, script, lines) == 0
    assert [text for _, text, _ in lines] == [
        str(steps.toolchain.bin_dir),
        str(steps.toolchain.bin_dir / "cargo"),
        str(steps.toolchain.bin_dir / "wasm-opt"),
        "none",
    ]
    assert (steps.home / "spaces" / "made").stat().st_uid == os.getuid()


@pytest.mark.parametrize("stop", ["cancelled", "its callback raised"])
async def test_a_stopped_step_leaves_no_process_behind(steps: Steps, stop: str) -> None:
    marker = f"{time.monotonic_ns() % 10**6}.{os.getpid()}"
    # One in the step's process group, one in a session of its own.
    script = (
        f"/usr/bin/sleep {marker} & /usr/bin/setsid /usr/bin/sleep {marker} & echo started; wait"
    )
    seen = asyncio.Event()

    def on_stdout(line: str) -> None:
        if stop == "its callback raised":
            raise RuntimeError(f"the consumer failed on {line!r}")
        seen.set()

    run = asyncio.ensure_future(
        steps.executor.run(
            steps.toolchain,
            ["bash", "-c", script],
            cwd=steps.home,
            env={},
            on_stdout=on_stdout,
            on_stderr=lambda line: None,
        )
    )
    if stop == "cancelled":
        await asyncio.wait_for(seen.wait(), 30)
        deadline = time.monotonic() + 10  # the second sleep is setsid until it execs
        while len(_processes_running(f"/usr/bin/sleep {marker}")) < 2:
            assert time.monotonic() < deadline, "the step's two sleeps never ran"
            await asyncio.sleep(0.05)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    else:
        with pytest.raises(RuntimeError, match="the consumer failed on 'started'"):
            await asyncio.wait_for(run, 30)
    assert _processes_running(f"/usr/bin/sleep {marker}") == []  # gone once run() returned
    assert not [p for p in (steps.home / "tmp").iterdir() if p.name.startswith("docker-step-")]


async def test_what_a_step_leaves_running_ends_with_it(steps: Steps) -> None:
    marker = f"{time.monotonic_ns() % 10**6}.{os.getpid()}"
    script = f"/usr/bin/setsid /usr/bin/sleep {marker} & echo left behind"
    lines: list[tuple[str, str, float]] = []
    started = time.monotonic()
    assert await _run(steps, script, lines) == 0
    assert time.monotonic() - started < 5, "the step's output ended when its command did"
    assert [text for _, text, _ in lines] == ["left behind"]
    assert _processes_running(f"/usr/bin/sleep {marker}") == []


async def test_a_missing_directory_fails_the_step_with_its_reason(steps: Steps) -> None:
    lines: list[tuple[str, str, float]] = []
    status = await steps.executor.run(
        steps.toolchain,
        ["cargo", "--version"],
        cwd=steps.home / "nowhere",
        env={},
        on_stdout=lambda line: lines.append(("out", line, 0)),
        on_stderr=lambda line: lines.append(("err", line, 0)),
    )
    assert status != 0
    assert any("No such file or directory" in text for _, text, _ in lines), lines


async def test_no_engine_is_said_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    executor = DockerExecExecutor(ServerSettings(home=tmp_path / "home", executor="docker"))
    try:
        with pytest.raises(DockerUnavailable, match="the Docker daemon is not running"):
            await executor.toolchain_provider().provision("rust")
    finally:
        await executor.close()
    assert container_name(tmp_path / "home").startswith(f"embly-steps-{os.getuid()}-")
