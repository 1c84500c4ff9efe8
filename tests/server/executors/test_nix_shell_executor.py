from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

import pytest

from embly_build.errors import BuildFailed, EnvironmentProblem
from embly_build.server.executors.nix_shell import SHELLS_PER_BUILD, NixShellExecutor
from embly_build.server.executors.process_group import TERM_GRACE_SECONDS
from embly_build.server.toolchains import find_nixexprs_dir
from embly_build.server.toolchains.base import Toolchain
from embly_build.server.toolchains.host import HostToolchainProvider
from embly_build.server.toolchains.nix.commands import NIX_MISSING
from tests.helpers import fill_inodes, small_disk

# bash has no sleep builtin and the pure shell has no coreutils: block reading a pipe we hold.
SLEEP = "read -t 300 <> <(:)"


@pytest.fixture(scope="module")
def toolchain(tmp_path_factory: pytest.TempPathFactory) -> Toolchain:
    home = tmp_path_factory.mktemp("embly-home")
    return asyncio.run(HostToolchainProvider(home, find_nixexprs_dir()).provision("rust"))


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    return tmp_path / "executor-tmp"


@pytest.fixture
async def executor(temp_dir: Path) -> AsyncIterator[NixShellExecutor]:
    executor = NixShellExecutor(find_nixexprs_dir(), temp_dir)
    yield executor
    await executor.close()


async def _run(
    executor: NixShellExecutor,
    toolchain: Toolchain,
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    on_stdout: Callable[[str], None] | None = None,
) -> tuple[int, list[str], list[str]]:
    out: list[str] = []
    err: list[str] = []
    code = await executor.run(
        toolchain,
        argv,
        cwd=cwd,
        env=env or {},
        on_stdout=on_stdout or out.append,
        on_stderr=err.append,
    )
    return code, out, err


def _live_processes() -> dict[int, tuple[int, bytes]]:
    """pid -> (process group, command line) of every process that is not a zombie."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgid = stat.rsplit(")", 1)[1].split()[:3]
        if state not in ("Z", "X"):
            found[int(entry.name)] = (int(pgid), cmdline)
    return found


def _marked_processes(marker: str) -> dict[int, int]:
    """pid -> process group of every live process whose command line contains marker."""
    return {
        pid: pgid
        for pid, (pgid, cmdline) in _live_processes().items()
        if marker.encode() in cmdline
    }


def _group_members(pgid: int) -> list[int]:
    return [pid for pid, (group, _) in _live_processes().items() if group == pgid]


async def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
async def test_path_holds_only_the_toolchain_bin(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path
) -> None:
    code, out, _ = await _run(executor, toolchain, ["bash", "-c", "declare -p PATH"], tmp_path)

    assert code == 0
    assert out[0].startswith('declare -x PATH="')
    entries = out[0].removeprefix('declare -x PATH="').removesuffix('"').split(":")
    assert set(entries) == {str(toolchain.bin_dir)}


@pytest.mark.slow
async def test_argv_arrives_verbatim(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path, temp_dir: Path
) -> None:
    tricky = "a  b \"c\" 'd' $(touch pwned) `touch pwned2`; echo $HOME && exit 9 | \\"
    argv = ["bash", "-c", 'printf "%s\\n" "$@"', "_", tricky, "", "*"]

    code, out, _ = await _run(executor, toolchain, argv, tmp_path)

    assert (code, out) == (0, [tricky, "", "*"])
    assert not list(tmp_path.glob("pwned*"))
    assert not list(temp_dir.glob("argv-*"))


@pytest.mark.slow
async def test_env_exit_status_and_streams(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path
) -> None:
    script = 'echo "$FOO"; printf "no newline" >&2; exit 7'
    env = {"FOO": "x y $(z) ;"}

    code, out, err = await _run(executor, toolchain, ["bash", "-c", script], tmp_path, env)

    assert (code, out, err) == (7, ["x y $(z) ;"], ["no newline"])


@pytest.mark.slow
async def test_cargo_builds_a_crate_to_wasm(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path
) -> None:
    crate = tmp_path / "hello"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (crate / "build.rs").write_text('fn main() { println!("cargo:rerun-if-changed=build.rs"); }\n')
    (crate / "src" / "main.rs").write_text('fn main() { println!("hello"); }\n')
    env = {"CARGO_TARGET_DIR": str(tmp_path / "target"), "CARGO_HOME": str(tmp_path / "cargo")}
    argv = ["cargo", "build", "--offline", "--release", "--target", toolchain.wasm_target]

    code, _, err = await _run(executor, toolchain, argv, crate, env)

    assert code == 0, "\n".join(err)
    wasm = tmp_path / "target" / toolchain.wasm_target / "release" / "hello.wasm"
    assert wasm.read_bytes().startswith(b"\0asm")


@pytest.mark.slow
async def test_cancel_kills_the_whole_process_group(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path, temp_dir: Path
) -> None:
    marker = f"embly-test-{uuid.uuid4().hex}"
    script = f'echo ready; bash -c "{SLEEP} # {marker}" & {SLEEP} # {marker}'
    ready = asyncio.Event()
    run = asyncio.create_task(
        _run(executor, toolchain, ["bash", "-c", script], tmp_path, on_stdout=lambda _: ready.set())
    )
    await asyncio.wait_for(ready.wait(), 30)
    await _wait_for(lambda: len(_marked_processes(marker)) == 2)
    (pgid,) = set(_marked_processes(marker).values())

    started = time.monotonic()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert time.monotonic() - started < TERM_GRACE_SECONDS
    assert _marked_processes(marker) == {}
    assert _group_members(pgid) == []
    assert not list(temp_dir.glob("argv-*"))
    # Dead members may stay zombies until init reaps them; then the group is gone entirely.
    await _wait_for(lambda: not _group_alive(pgid))
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


@pytest.mark.slow
async def test_leftover_processes_die_when_the_step_ends(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path
) -> None:
    marker = f"embly-test-{uuid.uuid4().hex}"
    script = f'bash -c "{SLEEP} # {marker}" & echo started'

    started = time.monotonic()
    code, out, _ = await _run(executor, toolchain, ["bash", "-c", script], tmp_path)

    assert (code, out) == (0, ["started"])
    assert time.monotonic() - started < 30
    await _wait_for(lambda: _marked_processes(marker) == {})


@pytest.mark.slow
async def test_failing_output_callback_stops_the_step(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path
) -> None:
    marker = f"embly-test-{uuid.uuid4().hex}"

    def explode(line: str) -> None:
        raise RuntimeError(f"consumer failed on {line}")

    with pytest.raises(RuntimeError, match="consumer failed on first"):
        await _run(
            executor,
            toolchain,
            ["bash", "-c", f"echo first; {SLEEP} # {marker}"],
            tmp_path,
            on_stdout=explode,
        )
    assert _marked_processes(marker) == {}


@pytest.mark.slow
async def test_bad_env_names_are_refused(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="A=B"):
        await _run(executor, toolchain, ["env"], tmp_path, {"A=B": "c"})
    with pytest.raises(ValueError, match="empty"):
        await _run(executor, toolchain, [], tmp_path)


async def test_missing_nix_shell_says_how_to_install_nix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    executor = NixShellExecutor(find_nixexprs_dir(), tmp_path / "executor-tmp")
    toolchain = Toolchain("rust", "host", tmp_path, "0" * 64, "wasm32-wasip1", {})

    with pytest.raises(EnvironmentProblem) as caught:
        await _run(executor, toolchain, ["cargo", "build"], tmp_path)
    assert str(caught.value) == NIX_MISSING
    assert "apt-get install nix-bin" in NIX_MISSING
    assert "--executor remote" in NIX_MISSING


async def test_garbage_collected_toolchain_is_reported(
    executor: NixShellExecutor, tmp_path: Path
) -> None:
    toolchain = Toolchain("rust", "host", tmp_path / "gone", "0" * 64, "wasm32-wasip1", {})

    with pytest.raises(EnvironmentProblem, match="provision the toolchain again"):
        await _run(executor, toolchain, ["cargo", "build"], tmp_path)


@pytest.mark.slow
async def test_a_prepared_shell_runs_the_next_step_in_its_own_directory(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path
) -> None:
    executor.prepare(toolchain)
    await asyncio.sleep(0.5)  # the shell is up, waiting for its step
    (tmp_path / "-weird dir").mkdir()
    for directory in (tmp_path / "-weird dir", tmp_path):  # prepared, then started anew
        code, out, _ = await _run(
            executor, toolchain, ["bash", "-c", 'echo "$PWD $FOO"'], directory, {"FOO": "bar"}
        )
        assert (code, out) == (0, [f"{directory} bar"])


def _shell_groups(temp_dir: Path) -> set[int]:
    """Process groups holding a shell waiting in the executor's directory. Told by their
    working directory, which, unlike the command line, stays readable while nix-shell execs
    the bash it becomes."""
    groups = set()
    for pid, (pgid, _) in _live_processes().items():
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/cwd") == str(temp_dir):
                groups.add(pgid)
    return groups


async def _shells_once(temp_dir: Path, condition: Callable[[set[int]], bool]) -> set[int]:
    """The waiting shells' groups, as first seen to meet condition."""
    seen: set[int] = set()

    def met() -> bool:
        nonlocal seen
        seen = _shell_groups(temp_dir)
        return condition(seen)

    await _wait_for(met)
    return seen


# A step execs in the shell that was waiting for it: its $$ names that shell.
SHELL_PID = ["bash", "-c", "echo $$"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "steps",
    [
        SHELLS_PER_BUILD,  # compile, then post-processing
        3,  # with a quick result: compile, wasm-strip, then wasm-opt
    ],
)
async def test_each_step_of_the_next_build_runs_in_a_shell_started_ahead(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path, temp_dir: Path, steps: int
) -> None:
    executor.prepare(toolchain, steps=steps)
    waiting = await _shells_once(temp_dir, lambda groups: len(groups) == steps)

    ran_in = set()
    for _ in range(steps):
        code, out, _ = await _run(executor, toolchain, SHELL_PID, tmp_path)
        assert code == 0
        ran_in.add(int(out[0]))
    assert ran_in == waiting


@pytest.mark.slow
async def test_a_step_with_no_shell_ready_starts_the_next_steps_shell_beside_its_own(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path, temp_dir: Path
) -> None:
    """As in a fresh `embly build`: the post-processing step finds its shell started."""
    code, out, _ = await _run(executor, toolchain, SHELL_PID, tmp_path)
    assert code == 0
    # The first step's shell left the directory for its step; the spare may still be starting.
    spare = await _shells_once(temp_dir, bool)
    assert len(spare) == 1 and int(out[0]) not in spare

    code, out, _ = await _run(executor, toolchain, SHELL_PID, tmp_path)
    assert {int(out[0])} == spare


@pytest.mark.slow
async def test_shells_prepared_for_later_start_then_and_serve_the_next_steps(
    executor: NixShellExecutor, toolchain: Toolchain, tmp_path: Path, temp_dir: Path
) -> None:
    """As at the end of a build: nothing starts while the client fetches its artifacts."""
    executor.prepare(toolchain, after=0.6)
    await asyncio.sleep(0.3)
    assert not _shell_groups(temp_dir), "a shell started before it was asked for"

    waiting = await _shells_once(temp_dir, lambda groups: len(groups) == SHELLS_PER_BUILD)
    code, out, _ = await _run(executor, toolchain, SHELL_PID, tmp_path)
    assert code == 0 and int(out[0]) in waiting


@pytest.mark.slow
async def test_close_calls_off_shells_prepared_for_later(
    executor: NixShellExecutor, toolchain: Toolchain, temp_dir: Path
) -> None:
    executor.prepare(toolchain, after=0.2)
    await executor.close()
    await asyncio.sleep(0.5)
    assert not _shell_groups(temp_dir), "a shell started after close()"


@pytest.mark.slow
async def test_close_stops_the_prepared_shells(
    executor: NixShellExecutor, toolchain: Toolchain, temp_dir: Path
) -> None:
    executor.prepare(toolchain)
    started = await _shells_once(temp_dir, bool)
    await executor.close()
    await _wait_for(lambda: not started & _shell_groups(temp_dir))


def _prepare_in_another_process(
    toolchain: Toolchain, temp_dir: Path, ending: str, *python_options: str
) -> subprocess.CompletedProcess[str]:
    """A Python process (as `embly` starts: pidfd child watcher) that prepares a shell, lets
    it come up, then runs `ending`."""
    script = f"""
import asyncio, os
from pathlib import Path
from embly_build.server.executors.child_watcher import use_pidfd_child_watcher
from embly_build.server.executors.nix_shell import SHELLS_PER_BUILD, NixShellExecutor
from embly_build.server.toolchains import find_nixexprs_dir
from embly_build.server.toolchains.base import Toolchain

async def main():
    toolchain = Toolchain("rust", "host", Path({str(toolchain.store_path)!r}), "0" * 64, "w", {{}})
    executor = NixShellExecutor(find_nixexprs_dir(), Path({str(temp_dir)!r}))
    executor.prepare(toolchain)
    await asyncio.sleep(1)  # the shell is up and waiting
    {ending}

def _waiting_groups(executor):
    return [task.result().pgid for tasks in executor._waiting.values() for task in tasks]

use_pidfd_child_watcher()
asyncio.run(main())
"""
    return subprocess.run(
        [sys.executable, "-P", *python_options, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_prepared_shells_end_with_the_process_that_started_them(
    toolchain: Toolchain, tmp_path: Path
) -> None:
    ending = "print(*_waiting_groups(executor), flush=True); os._exit(0)  # no clean-up"
    result = _prepare_in_another_process(toolchain, tmp_path, ending)
    assert result.returncode == 0, result.stderr
    started = {int(pgid) for pgid in result.stdout.split()}
    assert len(started) == SHELLS_PER_BUILD
    deadline = time.monotonic() + 10
    while started & _shell_groups(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not started & _shell_groups(tmp_path), "a prepared shell outlived its parent"


@pytest.mark.slow
def test_close_waits_until_the_prepared_shells_are_gone(
    toolchain: Toolchain, tmp_path: Path
) -> None:
    """Else asyncio warns, as the command ends, of children it never saw exit."""
    result = _prepare_in_another_process(
        toolchain, tmp_path, "await executor.close()", "-W", "error::RuntimeWarning"
    )
    assert (result.returncode, result.stderr) == (0, "")


def _leftovers(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.slow
async def test_shells_stopped_while_they_start_leave_no_temporary_files(
    toolchain: Toolchain, temp_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nix-shell makes its own temporary directory as it starts and removes it only once it
    runs the shell; killed before that, it cannot. Stopped at several points of its start."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    for delay in (0.0, 0.005, 0.01, 0.02, 0.04, 0.08):
        executor = NixShellExecutor(find_nixexprs_dir(), temp_dir)
        executor.prepare(toolchain)
        await asyncio.sleep(delay)
        await executor.close()
        assert _leftovers(system_tmp) == [], f"stopped after {delay} s"
        assert _leftovers(temp_dir) == [], f"stopped after {delay} s"


@pytest.mark.slow
async def test_a_cancelled_step_leaves_no_temporary_files(
    executor: NixShellExecutor,
    toolchain: Toolchain,
    temp_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    # As rustc does: files under $TMPDIR, removed only at its end. (No coreutils: no mkdir.)
    script = f'echo partial > "$TMPDIR/rustc-lib.o"; echo ready; {SLEEP}'
    ready = asyncio.Event()
    run = asyncio.create_task(
        _run(executor, toolchain, ["bash", "-c", script], tmp_path, on_stdout=lambda _: ready.set())
    )
    await asyncio.wait_for(ready.wait(), 30)
    assert any(p.name == "rustc-lib.o" for p in temp_dir.rglob("*")), "the step's TMPDIR is ours"

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert not any(p.name == "rustc-lib.o" for p in temp_dir.rglob("*"))
    await executor.close()  # the next step's shell, waiting, has a directory too
    assert _leftovers(system_tmp) == []
    assert _leftovers(temp_dir) == []


@pytest.mark.slow
def test_temporary_files_of_a_killed_process_are_removed_by_the_next_executor(
    toolchain: Toolchain, tmp_path: Path
) -> None:
    temp_dir = tmp_path / "executor-tmp"
    ending = f"""
    def ready(line):
        os._exit(0)  # killed midway: no clean-up
    await executor.run(
        toolchain,
        ["bash", "-c", 'echo partial > "$TMPDIR/lib.o"; echo ready; {SLEEP}'],
        cwd=Path.cwd(),
        env={{}},
        on_stdout=ready,
        on_stderr=print,
    )"""
    result = _prepare_in_another_process(toolchain, temp_dir, ending)
    assert result.returncode == 0, result.stderr
    assert any(p.name == "lib.o" for p in temp_dir.rglob("*")), "left behind"
    assert list(temp_dir.glob("argv-*")), "the step's argv file is left behind too"
    ours = temp_dir / f"argv-{os.getpid()}-of-a-live-process"
    ours.touch()

    NixShellExecutor(find_nixexprs_dir(), temp_dir)

    assert not any(p.name == "lib.o" for p in temp_dir.rglob("*"))
    assert list(temp_dir.glob("argv-*")) == [ours], "a live process's file is its own"


@pytest.mark.slow
@pytest.mark.parametrize(
    "inodes_left",
    [
        0,  # not even for the file that takes the step's argv to the shell
        1,  # for that file, but not for the shell's temporary directory
    ],
)
async def test_no_room_for_the_steps_files_fails_the_step_saying_where(
    toolchain: Toolchain, tmp_path: Path, inodes_left: int
) -> None:
    with small_disk(tmp_path / "full", "1m", inodes=64) as disk:
        temp_dir = disk / "executor-tmp"
        temp_dir.mkdir()
        for filler in fill_inodes(disk)[:inodes_left]:
            filler.unlink()
        executor = NixShellExecutor(find_nixexprs_dir(), temp_dir)
        try:
            with pytest.raises(BuildFailed) as failure:
                await _run(executor, toolchain, ["bash", "-c", "echo never"], tmp_path)
        finally:
            await executor.close()
        assert str(failure.value) == (
            f"cannot write a build step's files in {temp_dir}: No space left on device"
        )
        assert list(temp_dir.iterdir()) == [], "nothing half written is left"


async def test_a_nix_shell_that_cannot_start_is_an_environment_problem_not_the_steps(
    executor: NixShellExecutor,
    toolchain: Toolchain,
    tmp_path: Path,
    temp_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, _ = await _run(executor, toolchain, ["bash", "-c", "exit 1"], tmp_path)
    assert code == 1, "a step's own failure is its exit status"

    monkeypatch.setenv("NIX_REMOTE", "daemon")
    monkeypatch.setenv("NIX_DAEMON_SOCKET_PATH", str(tmp_path / "no-daemon.socket"))
    no_daemon = NixShellExecutor(find_nixexprs_dir(), temp_dir)  # its shells see no daemon
    try:
        with pytest.raises(EnvironmentProblem) as caught:
            await _run(no_daemon, toolchain, ["bash", "-c", "exit 1"], tmp_path)
    finally:
        await no_daemon.close()
    message = str(caught.value)
    assert message.startswith("nix-shell could not start the build's shell:")
    assert "cannot connect to socket" in message
    assert "the Nix daemon is not running: start it" in message
    assert "--show-trace" not in message
