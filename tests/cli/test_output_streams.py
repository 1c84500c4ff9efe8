"""A closed stdout (`>&-`) is /dev/null, as git and cargo take it; an output whose reader
has gone (`| head -1`) ends the command quietly with 141, as SIGPIPE ends git and cargo,
its builds cancelled and their processes killed first."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from embly_build.cli.stop_signals import cancel_on_stop_signals
from embly_build.cli.terminal.console import OutputConsole
from embly_build.cli.terminal.render import HumanRenderer, JsonRenderer
from embly_build.client.session.events import BuildFinished, BuildStarted
from tests.helpers import EMBLY, processes_left_after

BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for git killed by SIGPIPE


def embly_with_stdout_closed(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`embly ARGS >&-`: the shell closes the descriptor before running the command."""
    return subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", str(EMBLY), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


def embly_with_reader_gone(
    *args: str, cwd: Path, stream: str = "stdout", lines_read: int = 0
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`embly ARGS | head -N` (or `2>&1 | head -N` for stream="stderr"): the reader takes
    `lines_read` lines of `stream`, then goes away; the other stream is captured."""
    other = "stderr" if stream == "stdout" else "stdout"
    with subprocess.Popen(
        [str(EMBLY), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        reader, captured = getattr(process, stream), getattr(process, other)
        assert reader is not None and captured is not None
        read = [reader.readline() for _ in range(lines_read)]
        reader.close()
        output = captured.read()
        code = process.wait(timeout=120)
    result = subprocess.CompletedProcess(process.args, code, **{other: output})
    return result, read


def test_a_closed_stdout_is_not_a_traceback(tmp_path: Path) -> None:
    for args in (["info"], ["info", "--json"], ["gc", "--dry-run"]):
        result = embly_with_stdout_closed(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr, args


def test_a_closed_standard_stream_becomes_dev_null_so_no_file_takes_its_number() -> None:
    script = (
        "import os, sys\n"
        "from embly_build.cli.entry import _open_closed_standard_streams\n"
        "_open_closed_standard_streams()\n"
        "print('dropped')\n"
        "sys.stdout.flush()\n"
        "print(os.readlink('/proc/self/fd/1'), file=sys.stderr)\n"
    )
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-P", "-c", script],
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "/dev/null\n"


def test_info_whose_reader_has_gone_ends_quietly(tmp_path: Path) -> None:
    for args in (["info"], ["info", "--json"]):
        result, _ = embly_with_reader_gone(*args, cwd=tmp_path)
        assert result.returncode == BROKEN_PIPE, (args, result.stderr)
        assert result.stderr == "", args


@contextlib.contextmanager
def pipe_without_reader() -> Iterator[TextIO]:
    read_end, write_end = os.pipe()
    os.close(read_end)
    out = open(write_end, "w")  # noqa: SIM115
    try:
        yield out
    finally:
        with contextlib.suppress(BrokenPipeError):  # what could not be written is dropped
            out.close()


async def test_events_whose_reader_has_gone_stop_the_command() -> None:
    with pipe_without_reader() as out:
        renderer = JsonRenderer(out)
        with cancel_on_stop_signals() as stop:
            renderer.stop_when_reader_gone(stop.reader_gone)
            renderer(BuildStarted("greeter", 0))
            renderer(BuildStarted("counter", 0))  # not written, and no error
            await asyncio.sleep(60)
            pytest.fail("not stopped")
    assert stop.exit_code == BROKEN_PIPE


async def test_a_report_whose_reader_has_gone_stops_the_command() -> None:
    with pipe_without_reader() as out:
        console = OutputConsole(file=out, highlight=False, soft_wrap=True)
        renderer = HumanRenderer(verbose=True, console=console)
        with cancel_on_stop_signals() as stop:
            renderer.stop_when_reader_gone(stop.reader_gone)
            renderer(BuildStarted("greeter", 0))
            await asyncio.sleep(60)
            pytest.fail("not stopped")
    assert stop.exit_code == BROKEN_PIPE


async def test_a_summary_whose_reader_has_gone_sets_the_exit_code_and_cancels_nothing() -> None:
    with pipe_without_reader() as out:
        console = OutputConsole(file=out, highlight=False, soft_wrap=True)
        renderer = HumanRenderer(console=console)
        with cancel_on_stop_signals() as stop:
            renderer.stop_when_reader_gone(stop.reader_gone)
        renderer.summary([BuildFinished("greeter", "ok", True)], 0.1)
        await asyncio.sleep(0.1)  # a cancellation would land here
    assert stop.exit_code == BROKEN_PIPE


def _no_partial_artifacts(project: Path) -> None:
    output = project / "embly_build"
    left = [p.name for p in output.iterdir()] if output.exists() else []
    assert not [name for name in left if name.startswith(".")], left


@pytest.mark.slow
@pytest.mark.parametrize("command", ["build", "watch"])
def test_events_whose_reader_has_gone_stop_the_builds(
    project: Path, embly_home: Path, command: str
) -> None:
    result, read = embly_with_reader_gone(command, "--json", cwd=project, lines_read=1)

    assert read[0].startswith('{"event": '), result.stderr
    assert result.returncode == BROKEN_PIPE, result.stderr
    assert result.stderr == ""
    assert processes_left_after(embly_home, 10) == []
    _no_partial_artifacts(project)


@pytest.mark.slow
def test_a_build_report_whose_reader_has_gone_stops_the_builds(
    project: Path, embly_home: Path
) -> None:
    result, _ = embly_with_reader_gone("build", "-v", cwd=project, stream="stderr")

    assert result.returncode == BROKEN_PIPE
    assert result.stdout == ""
    assert processes_left_after(embly_home, 10) == []
    _no_partial_artifacts(project)


@pytest.mark.slow
def test_a_build_with_stdout_closed_builds(project: Path) -> None:
    result = embly_with_stdout_closed("build", "--json", cwd=project)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (project / "embly_build" / "greeter.wasm").exists()
