"""The live terminal view of `embly watch`: one line per function, errors in full above.

Each function's line shows its state (queued, building, ok, cached, failed, cancelled),
while it builds what it is doing (`building: compiling serde`), how long it took (or has
taken so far) and its artifacts' sizes. A failed build's compiler output is printed in
full, with the user's own paths, above the lines; each round ends with a summary line.
A function whose stripped artifacts came first shows `ok, optimising` until the optimised
ones are written; its time stays that of the first artifacts (the save's feedback).

Events redraw the view. Between them it is redrawn only while a line's time is running
(a function queued or building): a watch that waits for the next save writes nothing to
its terminal, so it costs no CPU and leaves a terminal's scrollback and an ssh link alone.
Those redraws are timer callbacks on the event loop the events come from, so the view is
only ever drawn from one thread, and none of it outlives its `with` block.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from embly_build.cli.terminal.activity import Activities, ProgressLine
from embly_build.cli.terminal.console import OutputConsole
from embly_build.cli.terminal.render import setup_line_shown, setup_text, sizes_text
from embly_build.cli.terminal.result_lines import summary_markup
from embly_build.cli.terminal.terminal_output import TerminalOutput
from embly_build.client.session.events import (
    BuildFinished,
    BuildStarted,
    IndexProgress,
    LogLine,
    ServerSetup,
    UploadProgress,
)
from embly_build.client.watch.events import (
    AnyEvent,
    ConfigProblem,
    ConfigReloaded,
    Notice,
    RoundFinished,
    RoundStarted,
    Watching,
)
from embly_build.protocol.opt_levels import NO_WASM_OPT

_STYLES = {
    "queued": "dim",
    "building": "yellow",
    "ok": "green",
    "ok,": "green",  # ok, optimising / ok, not optimised
    "cached": "green",
    "failed": "red",
    "cancelled": "dim",
}
# Seconds between redraws while a line's time is running.
TICK_S = 0.25


@dataclass
class _Line:
    state: str = "queued"
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    optimising: bool = False  # its stripped artifacts are written; wasm-opt is running


class LiveView:
    def __init__(self, console: Console | None = None) -> None:
        self._console = console or OutputConsole(stderr=True, highlight=False, soft_wrap=True)
        self._lines: dict[str, _Line] = {}
        self._logs: dict[str, list[str]] = defaultdict(list)
        self._activities = Activities()
        self._progress = ProgressLine()
        self._output = TerminalOutput()
        self._live = Live(self, console=self._console, auto_refresh=False, transient=True)
        self._next_tick: asyncio.TimerHandle | None = None

    def stop_when_reader_gone(self, stop: Callable[[], None]) -> None:
        """Call `stop` when the view's reader has gone (`2>&1 | head`)."""
        self._output.on_reader_gone = stop

    def __enter__(self) -> LiveView:
        """Show the view; entered in a running event loop, which redraws it as time goes."""
        loop = asyncio.get_running_loop()
        self._live.__enter__()
        self._next_tick = loop.call_later(TICK_S, self._tick, loop)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._next_tick is not None:
            self._next_tick.cancel()
            self._next_tick = None
        self._output(lambda: self._live.__exit__(None, None, None))
        if self._lines:  # the last state of each function stays on the screen
            self._output(lambda: self._console.print(self.__rich__()))

    def __rich__(self) -> RenderableType:
        table = Table.grid(padding=(0, 2))
        if self._progress.text is not None:
            table.add_row("", Text(self._progress.text, style="yellow"), "", "")
        for name, line in self._lines.items():
            seconds = line.seconds if line.seconds is not None else time.monotonic() - line.started
            shown = line.state
            if line.state == "building" and (activity := self._activities.of(name)):
                shown = f"building: {activity}"
            state = Text(shown, style=_STYLES.get(line.state.split()[0], ""))
            table.add_row(
                Text(name, style="bold"), state, f"{seconds:5.1f}s", sizes_text(line.sizes)
            )
        return Group(table)

    def _timing(self) -> bool:
        """Whether a line shows a time still running, which only a redraw moves on."""
        return any(line.seconds is None for line in self._lines.values())

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timing():
            self._output(self._live.refresh)
        self._next_tick = loop.call_later(TICK_S, self._tick, loop)

    def __call__(self, event: AnyEvent) -> None:
        if isinstance(event, BuildStarted | LogLine | BuildFinished):
            self._activities.update(event)
        if isinstance(event, IndexProgress | UploadProgress | ServerSetup):
            self._progress.update(event)
            if isinstance(event, ServerSetup) and setup_line_shown(event):
                self._print(f"[dim]{escape(setup_text(event))}[/dim]")
        elif isinstance(event, RoundStarted):
            self._round_started(event)
        elif isinstance(event, BuildStarted):
            self._progress.build_started()
            self._restart_line(event.function, "building")
            self._logs.pop(event.function, None)
        elif isinstance(event, LogLine):
            self._log(event)
        elif isinstance(event, BuildFinished):
            self._finished(event)
        else:
            self._message(event)
        self._output(self._live.refresh)

    def _round_started(self, event: RoundStarted) -> None:
        if event.triggers:
            self._print(
                f"[dim]changed:[/dim] {escape(event.describe_triggers())} "
                f"[dim]→ {', '.join(event.functions)}[/dim]"
            )
        for name in event.functions:
            self._restart_line(name, "queued")

    def _restart_line(self, name: str, state: str) -> None:
        """A new build of `name`; the sizes of its last good artifacts stay shown."""
        previous = self._lines.get(name)
        self._lines[name] = _Line(state=state, sizes=previous.sizes if previous else {})

    def _log(self, event: LogLine) -> None:
        if event.stream in ("stdout", "stderr"):
            self._logs[event.function].append(event.text)
        elif event.step == "toolchain" or event.stream == "client":  # worth a line of its own
            self._print(f"[dim]{event.function}: {escape(event.text)}[/dim]")

    def _finished(self, event: BuildFinished) -> None:
        line = self._lines.setdefault(event.function, _Line())
        after_quick, line.optimising = line.optimising, event.optimising
        if not after_quick:
            line.seconds = event.duration_ms / 1000
        line.state = "cached" if event.ok and event.cache_hit else event.status
        if event.ok:
            line.sizes = dict(event.artifact_sizes)
            if event.optimising:
                line.state = "ok, optimising"
                return  # its log lines go on into the optimised result's
        elif after_quick:
            line.state = "ok, not optimised"
        elif line.sizes:
            line.state += " (last good kept)"
        logs = self._logs.pop(event.function, [])
        if event.status == "failed":
            if after_quick:
                self._print(
                    f"[red bold]{event.function}: optimising failed; its stripped artifacts "
                    "stay[/red bold]"
                )
            else:
                self._print(f"[red bold]{event.function} failed[/red bold]")
            for text in logs:
                self._output(partial(self._console.print, text, markup=False, highlight=False))
            if event.error:
                self._print(f"[red]error:[/red] {escape(event.error)}")

    def _message(self, event: AnyEvent) -> None:
        if isinstance(event, Watching):
            how = "polling" if event.polling else "watching"
            names = event.functions
            what = ", ".join(names) if len(names) <= 3 else f"{len(names)} functions"
            count = len(event.directories)
            trees = "1 directory tree" if count == 1 else f"{count} directory trees"
            places = f"{what} ({trees})"
            level = event.opt_level
            optimise = "no wasm-opt" if level == NO_WASM_OPT else f"wasm-opt -{level}"
            self._print(f"[dim]{how} {places}, {optimise}; Ctrl-C stops[/dim]")
        elif isinstance(event, RoundFinished):
            seconds = event.duration_ms / 1000
            self._print(
                summary_markup(
                    event.ok, event.cached, event.failed, seconds, cancelled=event.cancelled
                )
            )
        elif isinstance(event, ConfigProblem):
            self._print(  # the message names embly.hcl, and where in it
                f"[red]error:[/red] {escape(event.message)} "
                "[dim](still serving the last good configuration)[/dim]"
            )
        elif isinstance(event, ConfigReloaded):
            for name in event.removed:
                self._lines.pop(name, None)
            self._print(f"[dim]embly.hcl reloaded: {', '.join(event.functions)}[/dim]")
        elif isinstance(event, Notice):
            self._print(f"[yellow]{escape(event.message)}[/yellow]")

    def _print(self, markup: str) -> None:
        self._output(lambda: self._console.print(markup))
