"""What the terminal views say a build is doing, read from the events it sends."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from embly_build.cli.terminal.activity import Activities
from embly_build.cli.terminal.render import HumanRenderer
from embly_build.client.session.events import (
    BuildFinished,
    BuildStarted,
    ClientEvent,
    IndexProgress,
    LogLine,
    UploadProgress,
)


def activities_after(*events: ClientEvent) -> Activities:
    activities = Activities()
    for event in events:
        activities.update(event)
    return activities


def test_a_build_goes_through_its_steps() -> None:
    seen = []
    activities = Activities()
    for event in (
        BuildStarted("greeter", 0),
        LogLine("greeter", "server", "build space: 1 written", "sync"),
        LogLine("greeter", "stderr", "   Compiling common v0.1.0 (common)", "compile"),
        LogLine("greeter", "stderr", "warning: unused variable: `x`", "compile"),
        LogLine("greeter", "stderr", "   Compiling greeter-fn v0.1.0 (greeter)", "compile"),
        LogLine("greeter", "server", "post-processing: wasm-strip, wasm-opt -O2", "postprocess"),
        LogLine("greeter", "server", "AOT-compiling for x86_64-unknown-linux-gnu", "aot"),
    ):
        activities.update(event)
        seen.append(activities.of("greeter"))
    assert seen == [
        "starting",
        "syncing sources",
        "compiling common",
        "compiling common",  # a compiler message does not change what cargo works on
        "compiling greeter-fn",
        "optimising",
        "AOT-compiling",
    ]
    activities.update(BuildFinished("greeter", "ok", False))
    assert activities.of("greeter") == ""


def test_post_processing_without_wasm_opt_is_stripping() -> None:
    """As for a quick result, whose wasm-opt step comes after it."""
    stripping = activities_after(
        BuildStarted("greeter", 0),
        LogLine("greeter", "server", "post-processing: wasm-strip", "postprocess"),
    )
    assert stripping.of("greeter") == "stripping"
    stripping.update(LogLine("greeter", "server", "post-processing: wasm-opt -O2", "postprocess"))
    assert stripping.of("greeter") == "optimising"


def test_a_compile_that_starts_with_a_message_is_compiling() -> None:
    activities = activities_after(
        BuildStarted("greeter", 0),
        LogLine("greeter", "stderr", "warning: profiles for the non root package", "compile"),
    )
    assert activities.of("greeter") == "compiling"


def test_waits_are_named() -> None:
    waiting = activities_after(
        BuildStarted("greeter", 0),
        LogLine("greeter", "server", "waiting for `embly gc` to finish", "queue"),
    )
    assert waiting.of("greeter") == "waiting"
    locked = activities_after(
        BuildStarted("greeter", 0),
        LogLine(
            "greeter", "stderr", "    Blocking waiting for file lock on build directory", "compile"
        ),
    )
    assert locked.of("greeter") == "waiting for cargo's lock"


def test_functions_are_followed_apart() -> None:
    activities = activities_after(
        BuildStarted("greeter", 0),
        BuildStarted("counter", 0),
        LogLine("counter", "stderr", "   Compiling counter-fn v0.1.0 (counter)", "compile"),
    )
    assert activities.of("greeter") == "starting"
    assert activities.of("counter") == "compiling counter-fn"


def test_embly_build_in_a_terminal_shows_what_each_function_is_doing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")  # not "dumb", whatever runs the tests
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    renderer = HumanRenderer(console=console)
    renderer(BuildStarted("greeter", 0))
    renderer(LogLine("greeter", "stderr", "   Compiling common v0.1.0 (common)", "compile"))
    assert "greeter  compiling common" in out.getvalue()
    renderer(BuildFinished("greeter", "ok", False, artifact_sizes={"wasm": 69532}))
    renderer.close()
    renderer.summary([BuildFinished("greeter", "ok", False)], 1.0)
    finished = out.getvalue()
    assert "✓ greeter  built" in finished and "1 ok in 1.0s" in finished


def test_embly_build_not_in_a_terminal_prints_results_only() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False, color_system=None)
    renderer = HumanRenderer(console=console)
    renderer(BuildStarted("greeter", 0))
    renderer(LogLine("greeter", "stderr", "   Compiling common v0.1.0 (common)", "compile"))
    renderer(BuildFinished("greeter", "ok", False))
    renderer.close()
    assert out.getvalue().splitlines() == ["✓ greeter  built  0.0s  "]


def test_a_long_index_and_upload_show_how_far_they_are_until_they_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system=None)
    renderer = HumanRenderer(console=console)
    renderer(IndexProgress(12345, 2**20))
    assert "indexing: 12,345 files, 1.0 MiB read" in out.getvalue()
    renderer(IndexProgress(20000, 2**21, finished=True))
    renderer(UploadProgress(120 * 2**20, 400 * 2**20))
    assert "uploading 120.0 MiB of 400.0 MiB" in out.getvalue()
    renderer(UploadProgress(400 * 2**20, 400 * 2**20))
    renderer(BuildStarted("greeter", 400 * 2**20))
    out.seek(0)
    out.truncate()
    renderer(LogLine("greeter", "stderr", "   Compiling common v0.1.0 (common)", "compile"))
    assert "greeter  compiling common" in out.getvalue()
    assert "uploading" not in out.getvalue(), "a finished upload leaves the status"
    renderer.close()
