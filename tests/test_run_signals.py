"""`embly run` ends as a native program would: stop signals kill it even while the module
runs native code, and an exit status wasmtime refuses is reported without a traceback."""

from __future__ import annotations

import os
import select
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers import EMBLY, processes_left_after

# WASI commands written in WAT: each says "ready" before doing what it is named after.
_SAY_READY = """
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "ready\\n")
  (func $say_ready
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
"""
_SPINS = f"""(module {_SAY_READY}
  (func (export "_start") (call $say_ready) (loop $forever (br $forever))))"""
_READS_STDIN = f"""(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  {_SAY_READY}
  (func (export "_start")
    (call $say_ready)
    (i32.store (i32.const 32) (i32.const 64))
    (i32.store (i32.const 36) (i32.const 64))
    (loop $until_read  ;; read again after an error (EINTR), as Rust's std does
      (br_if $until_read
        (call $fd_read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 40))))))"""


def _exits_with(status: int) -> str:
    return f"""(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  {_SAY_READY}
  (func (export "_start") (call $say_ready) (call $proc_exit (i32.const {status}))))"""


def _install(project: Path, wat: str) -> None:
    """Put the module where a build of `greeter` would have put its .wasm."""
    import wasmtime

    output = project / "embly_build"
    output.mkdir(exist_ok=True)
    (output / "greeter.wasm").write_bytes(wasmtime.wat2wasm(wat))


def _start_run(project: Path) -> subprocess.Popen[bytes]:
    """`embly run greeter` in its own session, once its module has said it is ready (stdin
    is a pipe left open, so a read of it blocks)."""
    running = subprocess.Popen(
        [str(EMBLY), "run", "greeter"],
        cwd=project,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert running.stdout is not None
    readable, _, _ = select.select([running.stdout], [], [], 60)
    if not readable:
        running.kill()
        pytest.fail(f"the module never said it was ready: {running.communicate()}")
    assert running.stdout.readline() == b"ready\n"
    return running


def _files_under(*roots: Path) -> set[Path]:
    return {path for root in roots for path in root.rglob("*")}


def _stopped_by(running: subprocess.Popen[bytes], signum: int) -> tuple[int, str]:
    """Send `signum`; how `embly run` ended and its stderr. Its stdin stays open meanwhile
    (`communicate` would close it, and the end of input would end a read)."""
    os.kill(running.pid, signum)
    try:
        returncode = running.wait(timeout=5)
    except subprocess.TimeoutExpired:
        running.kill()
        running.communicate()
        pytest.fail(f"`embly run` was still running 5 s after {signal.Signals(signum).name}")
    _, stderr = running.communicate()
    return returncode, stderr.decode()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stop_signal_kills_a_module_in_a_busy_loop(
    project: Path, embly_home: Path, signum: signal.Signals
) -> None:
    _install(project, _SPINS)
    running = _start_run(project)
    files_before = _files_under(project, embly_home)

    returncode, stderr = _stopped_by(running, signum)

    assert returncode == -signum, "killed by the signal, so a shell shows 128 + it"
    assert stderr == ""
    assert _files_under(project, embly_home) == files_before, "nothing left behind"
    assert processes_left_after(embly_home, 5) == []


def test_ctrl_c_kills_a_module_blocked_reading_stdin(project: Path, embly_home: Path) -> None:
    _install(project, _READS_STDIN)
    running = _start_run(project)

    returncode, stderr = _stopped_by(running, signal.SIGINT)

    assert returncode == -signal.SIGINT
    assert stderr == ""


def test_a_module_that_reads_stdin_still_gets_it(project: Path, embly_home: Path) -> None:
    _install(project, _READS_STDIN)
    running = _start_run(project)
    _, stderr = running.communicate(b"some input\n", timeout=30)
    assert (running.returncode, stderr) == (0, b"")


@pytest.mark.parametrize(("status", "expected"), [(125, 125), (126, 1), (255, 1)])
def test_exit_status_wasmtime_refuses_is_reported_without_a_traceback(
    project: Path, embly_home: Path, status: int, expected: int
) -> None:
    _install(project, _exits_with(status))
    ran = subprocess.run(
        [str(EMBLY), "run", "greeter"], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert (ran.returncode, ran.stdout) == (expected, "ready\n")
    if status <= 125:
        assert ran.stderr == ""
    else:
        assert ran.stderr == (
            "error: greeter exited with a status outside 0..125, which wasmtime refuses to "
            "pass through (WASI allows 0..125); exiting with 1\n"
        )


def test_the_handlers_are_back_after_the_run(tmp_path: Path) -> None:
    import wasmtime

    from embly_build.wasm.native_signals import STOP_SIGNALS
    from embly_build.wasm.runner import run_module

    artifact = tmp_path / "exits.wasm"
    artifact.write_bytes(wasmtime.wat2wasm(_exits_with(7)))
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    assert run_module(artifact, "exits", []) == 7
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before
