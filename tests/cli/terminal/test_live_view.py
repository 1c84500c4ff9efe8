"""The watch view: a line per function, failures in full, last good artifacts noted."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest
from rich.console import Console

from embly_build.cli.terminal import live_view
from embly_build.cli.terminal.live_view import LiveView
from embly_build.client.session.events import BuildFinished, BuildStarted, LogLine, UploadProgress
from embly_build.client.watch.events import (
    ConfigProblem,
    RoundFinished,
    RoundStarted,
    Watching,
)


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, force_terminal=False, color_system=None), out


def render(*events: object) -> str:
    """What the view shows of `events`, given it in an event loop, as `embly watch` does."""

    async def shown() -> str:
        console, out = plain_console()
        with LiveView(console) as view:
            for event in events:
                view(event)  # type: ignore[arg-type]
        return out.getvalue()

    return asyncio.run(shown())


def test_lines_show_state_duration_and_sizes() -> None:
    text = render(
        Watching(("/p",), ("greeter", "counter"), False),
        RoundStarted((), ("greeter", "counter")),
        BuildFinished("greeter", "ok", False, artifact_sizes={"wasm": 69532}, duration_ms=1200),
        BuildFinished("counter", "ok", True, artifact_sizes={"wasm": 70150}, duration_ms=30),
        RoundFinished(ok=2, failed=0, cached=1, duration_ms=1300),
    )
    assert "watching greeter, counter (1 directory tree), wasm-opt -O2; Ctrl-C stops" in text
    assert "greeter  ok" in text and "1.2s" in text and "wasm 67.9 KiB" in text
    assert "counter  cached" in text
    assert "2 ok (1 cached) in 1.3s" in text


def test_the_header_says_when_wasm_opt_is_off() -> None:
    text = render(Watching(("/p", "/lib"), ("greeter",), True, "none"))
    assert "polling greeter (2 directory trees), no wasm-opt; Ctrl-C stops" in text


def test_the_header_counts_many_functions() -> None:
    text = render(Watching(("/p",), ("a", "b", "c", "d"), False))
    assert "watching 4 functions (1 directory tree), wasm-opt -O2" in text


def test_a_config_error_names_the_file_once() -> None:
    message = "/p/embly.hcl:3:1: syntax error: unexpected end of file; expected '}'"
    text = render(ConfigProblem(message))
    assert f"error: {message} (still serving the last good configuration)" in text
    assert text.count("embly.hcl") == 1


def test_a_round_counts_a_build_cancelled_on_the_server_apart_from_failures() -> None:
    text = render(
        RoundStarted(("greeter/src/main.rs",), ("greeter", "counter")),
        BuildFinished("greeter", "cancelled", False, error="a newer build took its place"),
        BuildFinished("counter", "ok", False),
        RoundFinished(ok=1, failed=0, cached=0, duration_ms=900, cancelled=1),
    )
    assert "1 ok, 1 cancelled in 0.9s" in text and "failed" not in text


def test_failure_prints_the_compiler_output_and_keeps_the_last_good_sizes() -> None:
    text = render(
        BuildFinished("greeter", "ok", False, artifact_sizes={"wasm": 69532}),
        RoundStarted(("greeter/src/main.rs", "a.rs", "b.rs", "c.rs", "d.rs"), ("greeter",)),
        BuildStarted("greeter", 107),
        LogLine("greeter", "stderr", " --> greeter/src/main.rs:3:5", "compile"),
        LogLine("greeter", "server", "build space: 1 written", "sync"),
        BuildFinished("greeter", "failed", False, error="cargo build failed (exit code 101)"),
    )
    assert "changed: greeter/src/main.rs, a.rs, b.rs and 2 more → greeter" in text
    assert " --> greeter/src/main.rs:3:5" in text
    assert "build space" not in text, "server progress stays out of the way"
    assert "error: cargo build failed (exit code 101)" in text
    assert "failed (last good kept)" in text and "wasm 67.9 KiB" in text


async def test_a_quick_result_shows_optimising_then_the_optimised_sizes() -> None:
    console, out = plain_console()
    with LiveView(console) as view:
        view(RoundStarted(("greeter/src/main.rs",), ("greeter",)))
        view(BuildStarted("greeter", 107))
        quick_sizes = {"wasm": 81390}
        view(
            BuildFinished("greeter", "ok", False, {}, quick_sizes, duration_ms=250, optimising=True)
        )
        console.print(view)
        view(BuildFinished("greeter", "ok", False, artifact_sizes={"wasm": 69532}, duration_ms=480))
        console.print(view)
    frames = out.getvalue()
    assert "greeter  ok, optimising    0.2s  wasm 79.5 KiB" in frames
    assert "greeter  ok    0.2s  wasm 67.9 KiB" in frames, "the time of the first artifacts"


def test_a_failed_optimisation_says_the_stripped_artifacts_stay() -> None:
    text = render(
        RoundStarted(("greeter/src/main.rs",), ("greeter",)),
        BuildFinished("greeter", "ok", False, {}, {"wasm": 81390}, optimising=True),
        LogLine("greeter", "stderr", "wasm-opt: out of memory", "postprocess"),
        BuildFinished("greeter", "failed", False, error="wasm-strip and wasm-opt failed"),
    )
    assert "wasm-opt: out of memory" in text and "error: wasm-strip and wasm-opt failed" in text
    assert "greeter: optimising failed; its stripped artifacts stay" in text
    assert "greeter  ok, not optimised" in text and "wasm 79.5 KiB" in text


def test_a_watch_stopped_before_any_build_leaves_no_blank_line() -> None:
    """As when the project cannot be loaded: only the error follows."""
    assert render() == ""


async def test_a_building_line_says_what_the_build_is_doing() -> None:
    console, out = plain_console()
    with LiveView(console) as view:
        view(RoundStarted(("common/src/lib.rs",), ("greeter",)))
        view(BuildStarted("greeter", 0))
        view(LogLine("greeter", "stderr", "   Compiling common v0.1.0 (common)", "compile"))
        console.print(view)
        view(LogLine("greeter", "server", "AOT-compiling for x86_64", "aot"))
        console.print(view)
    frames = out.getvalue()
    assert "greeter  building: compiling common" in frames
    assert "greeter  building: AOT-compiling" in frames
    assert "AOT-compiling for x86_64" not in frames, "the server's step lines get no line"


async def test_a_long_upload_shows_above_the_function_lines() -> None:
    console, out = plain_console()
    with LiveView(console) as view:
        view(RoundStarted(("assets/big.bin",), ("greeter",)))
        view(UploadProgress(3 * 2**20, 8 * 2**20))
        console.print(view)
        view(UploadProgress(8 * 2**20, 8 * 2**20))
    frames = out.getvalue()
    assert "uploading 3.0 MiB of 8.0 MiB" in frames
    assert frames.count("uploading") == 1, "gone once the upload is done"


async def test_a_running_time_is_redrawn_from_the_event_loop_until_the_build_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_view, "TICK_S", 0.01)
    console, _ = plain_console()
    threads = threading.active_count()
    with LiveView(console) as view:
        assert threading.active_count() == threads, "no thread of its own draws the view"
        redraws = Redraws(monkeypatch, view)
        view(RoundStarted((), ("greeter",)))
        view(BuildStarted("greeter", 0))
        await asyncio.sleep(0.1)
        assert redraws.count >= 4, "greeter's time is running: the view moves it on"
        view(BuildFinished("greeter", "ok", False, duration_ms=100))
        settled = redraws.count
        await asyncio.sleep(0.1)
        assert redraws.count == settled, "nothing runs: the view stands still"
    stopped = redraws.count
    await asyncio.sleep(0.05)
    assert redraws.count == stopped, "no redraw after the view's block"


class Redraws:
    """Counts the view's redraws."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, view: LiveView) -> None:
        self.count = 0
        live = view._live
        refresh = live.refresh

        def counting() -> None:
            self.count += 1
            refresh()

        monkeypatch.setattr(live, "refresh", counting)
