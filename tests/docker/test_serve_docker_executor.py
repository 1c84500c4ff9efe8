"""`embly serve --executor docker`: a real server process whose build steps run with
`docker exec` in its long-lived build container, on a real engine with the real image;
a real client builds a copy of the example through its unix socket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from embly_build.client.docker.engine import docker_engine as connect_engine
from embly_build.server.executors.step_container import LABEL_HOME, container_name
from tests.docker.conftest import BuiltImage
from tests.helpers import EMBLY, embly, embly_serve, json_events

pytestmark = pytest.mark.slow

FUNCTIONS = ("greeter", "counter", "shout")
# The host's own Debian packages: the toolchain the image has, in the same versions.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SLEEPING_BUILD_SCRIPT = "fn main() { std::thread::sleep(std::time::Duration::from_secs(300)); }\n"
# What a step container runs between steps (its init, and its command).
IDLE_COMMANDS = ("/sbin/docker-init -- sleep infinity", "sleep infinity")


@pytest.fixture
def server_home(server_image: BuiltImage, tmp_path: Path) -> Iterator[Path]:
    """The server's state directory; its build container is removed afterwards."""
    home = tmp_path / "server-home"
    yield home
    asyncio.run(_remove_containers(home))


async def _remove_containers(home: Path) -> None:
    async with connect_engine() as docker:
        filters = json.dumps({"label": [f"{LABEL_HOME}={home}"]})
        for container in await docker.containers.list(all=True, filters=filters):
            await container.delete(force=True)


def _serve(socket: Path, home: Path) -> AbstractContextManager[subprocess.Popen[str]]:
    return embly_serve(socket, home, "--executor", "docker", "--jobs", "2")


def _build(project: Path, socket: Path, *functions: str) -> subprocess.CompletedProcess[str]:
    remote = ("--json", "--remote", f"unix:{socket}")
    return embly("build", *functions, *remote, cwd=project, timeout=900)


def _finished(built: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    return {e["function"]: e for e in json_events(built.stdout) if e["event"] == "build_finished"}


def _start_build(project: Path, socket: Path, function: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EMBLY), "build", function, "--json", "--remote", f"unix:{socket}"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_compiling(build: subprocess.Popen[str], function: str) -> None:
    """Until the build's log streams cargo's `Compiling FUNCTION` line."""
    assert build.stdout is not None
    for line in build.stdout:
        if f"Compiling {function}" in line:
            return
    pytest.fail(f"the build ended before compiling {function}: {build.stderr.read()}")  # type: ignore[union-attr]


def _step_processes(home: Path, server_pid: int | None) -> list[str]:
    """Processes (the container's are visible here too) working on the server's spaces."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in (os.getpid(), server_pid):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(home / "spaces") in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def _left_after(home: Path, server_pid: int | None, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := _step_processes(home, server_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _step_temp_dirs(home: Path) -> list[Path]:
    return [p for p in (home / "tmp").iterdir() if p.name.startswith("docker-step-")]


async def _container_commands(home: Path) -> list[str]:
    async with connect_engine() as docker:
        container = await docker.containers.get(container_name(home))
        # Unlimited width: `ps` cuts the default listing at 80 columns when not on a terminal,
        # so the command's length would depend on the width of the process ids.
        top = await container.top(ps_args="-ww -eo pid,args")
    column = top["Titles"].index("COMMAND")
    return [process[column] for process in top["Processes"]]


def _toolchain(project: Path, env: dict[str, str], *remote: str) -> dict[str, object]:
    shown = embly("info", "--json", *remote, cwd=project, env=env)
    assert shown.returncode == 0, shown.stderr
    toolchains = json.loads(shown.stdout)["toolchains"]
    assert len(toolchains) == 1, toolchains
    return dict(toolchains[0])


def test_the_docker_executor_builds_the_example_as_a_local_nix_build_does(
    project: Path, server_home: Path, tmp_path: Path
) -> None:
    socket = tmp_path / "serve.sock"
    local = tmp_path / "local"
    subprocess.run(["cp", "-a", str(project), str(local)], check=True)
    with _serve(socket, server_home) as server:
        started = time.monotonic()
        built = _build(project, socket)
        first = time.monotonic() - started
        assert built.returncode == 0, built.stdout + built.stderr
        assert {f: e["status"] for f, e in _finished(built).items()} == dict.fromkeys(
            FUNCTIONS, "ok"
        )
        ran = embly("run", "greeter", "--", "Ada", cwd=project)
        assert ran.stdout == "Hello, Ada!\n", ran.stderr

        started = time.monotonic()
        again = _build(project, socket)
        second = time.monotonic() - started
        hits = {f: e["cache_hit"] for f, e in _finished(again).items()}
        assert hits == dict.fromkeys(FUNCTIONS, True), again.stdout
        in_container = _toolchain(project, {}, "--remote", f"unix:{socket}")
        assert server.poll() is None

    local_env = {"PATH": SYSTEM_PATH, "EMBLY_HOME": str(tmp_path / "local-home")}
    built_here = embly("build", cwd=local, env=local_env, timeout=900)
    assert built_here.returncode == 0, built_here.stdout + built_here.stderr
    for function in FUNCTIONS:
        wasm = f"embly_build/{function}.wasm"
        assert (project / wasm).read_bytes() == (local / wasm).read_bytes(), function

    # The same Debian packages: each tool says the same version. The identities differ, as
    # each hashes its own Nix store path and cargo's full `-vV`, whose `os:` line the
    # image's minimal Debian answers differently (see the report printed).
    here = _toolchain(local, local_env)
    assert in_container["versions"] == here["versions"]
    print(
        f"first build {first:.1f} s, no-op build {second:.1f} s; toolchain identity in the "
        f"container {str(in_container['identity'])[:16]}, here {str(here['identity'])[:16]}"
    )
    # Everything the steps wrote is the server's own, so gc can remove it.
    strangers = [p for p in server_home.rglob("*") if p.lstat().st_uid != os.getuid()]
    assert strangers == []


@pytest.mark.parametrize("stop", ["client interrupted", "server killed"])
def test_a_stopped_build_leaves_nothing_running_in_the_container(
    project: Path, server_home: Path, tmp_path: Path, stop: str
) -> None:
    """Cancelled (the client's Ctrl-C) or orphaned (the server SIGKILLed, so the exec's
    connection closes): cargo, rustc and the build script are killed in the container."""
    (project / "greeter" / "build.rs").write_text(SLEEPING_BUILD_SCRIPT)
    socket = tmp_path / "serve.sock"
    with _serve(socket, server_home) as server:
        build = _start_build(project, socket, "greeter")
        try:
            _wait_for_compiling(build, "greeter")
            deadline = time.monotonic() + 60
            while not any("build-script" in p for p in _step_processes(server_home, server.pid)):
                assert time.monotonic() < deadline, "the build script never ran"
                time.sleep(0.2)
            assert len(asyncio.run(_container_commands(server_home))) > len(IDLE_COMMANDS)
            stopped = time.monotonic()
            if stop == "client interrupted":
                build.send_signal(signal.SIGINT)
                build.wait(timeout=30)
            else:
                server.kill()
                server.wait(timeout=30)
            left = _left_after(server_home, server.pid, 15)
            assert left == [], left
            print(f"{stop}: nothing left in the container after {time.monotonic() - stopped:.1f} s")
            assert asyncio.run(_container_commands(server_home)) == list(IDLE_COMMANDS)
            if stop == "client interrupted":  # else the next server removes them
                deadline = time.monotonic() + 10  # the server cleans up after the client left
                while _step_temp_dirs(server_home) and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert _step_temp_dirs(server_home) == []
        finally:
            if build.poll() is None:
                build.kill()
                build.wait()


def test_a_container_removed_mid_build_fails_that_build_and_the_next_one_recovers(
    project: Path, server_home: Path, tmp_path: Path
) -> None:
    build_script = project / "greeter" / "build.rs"
    build_script.write_text(SLEEPING_BUILD_SCRIPT)
    socket = tmp_path / "serve.sock"
    with _serve(socket, server_home) as server:
        build = _start_build(project, socket, "greeter")
        try:
            _wait_for_compiling(build, "greeter")
            asyncio.run(_remove_containers(server_home))  # docker rm -f
            assert build.wait(timeout=60) != 0
            assert build.stderr is not None
            said = build.stderr.read() + (build.stdout.read() if build.stdout else "")
            assert f"the build container {container_name(server_home)} was" in said, said
            assert "Traceback" not in said
        finally:
            if build.poll() is None:
                build.kill()
                build.wait()
        build_script.unlink()
        again = _build(project, socket, "greeter")
        assert again.returncode == 0, again.stdout + again.stderr
        assert embly("run", "greeter", "--", "Ada", cwd=project).stdout == "Hello, Ada!\n"
        assert server.poll() is None


def test_serve_says_when_the_docker_engine_cannot_be_reached(tmp_path: Path) -> None:
    socket = tmp_path / "serve.sock"
    env = {"DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"}
    argv = ["serve", "--executor", "docker", "--listen", f"unix:{socket}"]
    served = embly(*argv, "--store", str(tmp_path / "home"), cwd=tmp_path, env=env, timeout=60)
    assert served.returncode == 2, served.stderr
    assert "the Docker daemon is not running" in served.stderr, served.stderr
    assert "Traceback" not in served.stderr
    assert not socket.exists()
