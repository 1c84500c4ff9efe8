"""How `embly build` reports each function's result and sums them up: a build cancelled
because a newer build of the function took its place is said and counted as cancelled,
not failed."""

from __future__ import annotations

import io
import os
import signal
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from embly_build.cli.terminal.render import HumanRenderer
from embly_build.client.session.events import BuildFinished, LogLine
from tests.helpers import EMBLY, embly, embly_serve

SUPERSEDED = "cancelled: a newer build of this function started"


def report(events: list[BuildFinished | LogLine], *, quiet: bool = False) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False, soft_wrap=True)
    renderer = HumanRenderer(quiet=quiet, console=console)
    for event in events:
        renderer(event)
    renderer.summary([e for e in events if isinstance(e, BuildFinished)], 2.0)
    return out.getvalue().splitlines()


def test_a_cancelled_build_is_said_and_counted_as_cancelled() -> None:
    lines = report(
        [
            BuildFinished("greeter", "ok", False, artifact_sizes={"wasm": 100}, duration_ms=1200),
            LogLine("counter", "stderr", "   Compiling counter-fn v0.1.0"),
            BuildFinished("counter", "cancelled", False, duration_ms=300, error=SUPERSEDED),
            BuildFinished("shout", "failed", False, duration_ms=500, error="cargo failed"),
        ]
    )

    assert lines == [
        "✓ greeter  built  1.2s  wasm 100 B",
        "⊘ counter  cancelled  0.3s",
        SUPERSEDED,
        "✗ shout  failed  0.5s",
        "error: cargo failed",
        "1 ok, 1 failed, 1 cancelled in 2.0s",
    ]


def test_quiet_still_says_what_was_cancelled() -> None:
    lines = report(
        [
            BuildFinished("greeter", "ok", True),
            BuildFinished("counter", "cancelled", False, duration_ms=300, error=SUPERSEDED),
        ],
        quiet=True,
    )

    summary = "1 ok (1 cached), 1 cancelled in 2.0s"
    assert lines == ["⊘ counter  cancelled  0.3s", SUPERSEDED, summary]


@pytest.mark.slow
def test_a_build_superseded_on_a_shared_server_says_cancelled(
    project: Path, tmp_path: Path
) -> None:
    """Two `embly build`s of one project on one machine share an `embly serve`; the older
    one's greeter is cancelled on the server when the newer one's, with other sources,
    starts."""
    build_rs = project / "greeter" / "build.rs"
    build_rs.write_text("fn main() { std::thread::sleep(std::time::Duration::from_secs(120)); }\n")
    socket = tmp_path / "embly.sock"
    older = None
    with embly_serve(socket, tmp_path / "state"):
        try:
            remote = ["--remote", f"unix:{socket}"]
            older = subprocess.Popen(
                [str(EMBLY), "build", "greeter", "-v", *remote],
                cwd=project,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            assert older.stderr is not None
            seen = []
            while "Compiling greeter-fn" not in (line := older.stderr.readline()):
                assert line, "".join(seen)  # its build script sleeps once it is compiling
                seen.append(line)

            build_rs.write_text("fn main() {}\n")
            newer = embly("build", "greeter", *remote, cwd=project, timeout=120)
            older_output = older.stderr.read()

            assert older.wait(timeout=60) == 1, older_output
            assert newer.returncode == 0, newer.stderr
            assert "⊘ greeter  cancelled" in older_output
            assert SUPERSEDED in older_output
            assert "0 ok, 1 cancelled in" in older_output
            assert "✗" not in older_output and "failed" not in older_output.splitlines()[-1]
        finally:
            if older is not None and older.poll() is None:
                older.send_signal(signal.SIGTERM)
                older.wait(timeout=60)
