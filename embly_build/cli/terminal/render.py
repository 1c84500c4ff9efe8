"""How build events look: JSON lines for scripts, or a readable report for people."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, TextIO

from embly_build.cli.terminal.result_lines import cancelled_line, ok_line, summary_markup
from embly_build.cli.terminal.terminal_output import TerminalOutput
from embly_build.client.session.events import (
    BuildFinished,
    BuildStarted,
    ClientEvent,
    IndexProgress,
    InputWarning,
    LogLine,
    ServerSetup,
    UploadProgress,
)
from embly_build.client.watch.events import AnyEvent
from embly_build.errors import EnvironmentProblem
from embly_build.server.sizes import format_size

if TYPE_CHECKING:
    from rich.console import Console

    from embly_build.cli.terminal.build_status import BuildStatus


class JsonRenderer:
    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._reader_gone = False
        self._on_reader_gone: Callable[[], None] | None = None

    def stop_when_reader_gone(self, stop: Callable[[], None]) -> None:
        """Call `stop` (once) when the events' reader has gone (`| head`), instead of
        raising BrokenPipeError; nothing more is written then."""
        self._on_reader_gone = stop

    def __call__(self, event: AnyEvent | InputWarning) -> None:
        if self._reader_gone:
            return
        try:
            self._out.write(json.dumps(event.to_json()) + "\n")
            self._out.flush()
        except BrokenPipeError:
            if self._on_reader_gone is None:
                raise
            self._reader_gone = True
            self._on_reader_gone()
        except OSError as error:
            raise EnvironmentProblem(
                f"cannot write the events to standard output: {error.strerror or error}; "
                "send them where there is room (a file on another disk, a pipe)"
            ) from error

    def summary(self, results: list[BuildFinished], seconds: float) -> None:
        return None

    def close(self) -> None:
        return None


class HumanRenderer:
    """One line per finished function; a failed function's full log right under it.

    Logs are kept per function until it finishes, so concurrent builds never interleave
    their compiler output. With `verbose` every line is shown as it arrives. In a terminal
    (and neither verbose nor quiet), status lines under the output show what each unfinished
    function is doing; they are erased by `close()`.
    """

    def __init__(
        self, *, verbose: bool = False, quiet: bool = False, console: Console | None = None
    ) -> None:
        # Made on first output unless given: quiet runs never load rich.
        self._stderr: Console | None = console
        self._verbose = verbose
        self._quiet = quiet
        self._logs: dict[str, list[LogLine]] = defaultdict(list)
        self._status: BuildStatus | None = None
        self._status_wanted = not (verbose or quiet)  # until a first event shows if it can be
        self._output = TerminalOutput()

    def stop_when_reader_gone(self, stop: Callable[[], None]) -> None:
        """Call `stop` when the report's reader has gone (`2>&1 | head`)."""
        self._output.on_reader_gone = stop

    def __call__(self, event: ClientEvent) -> None:
        if self._status_wanted:
            self._status_wanted = False
            self._output(self._start_status)
        if self._status is not None:
            self._output(partial(self._status.update, event))
        if isinstance(event, BuildStarted):
            if self._verbose:
                self._print(f"[dim]{event.function}: started[/dim]")
        elif isinstance(event, LogLine):
            if self._verbose:
                self._print(f"[dim]{event.function} |[/dim] {escape(event.text)}")
            elif event.stream != "server":
                self._logs[event.function].append(event)
            if event.stream == "client" and not self._quiet:
                self._print(f"[dim]{event.function}: {escape(event.text)}[/dim]")
        elif isinstance(event, BuildFinished):
            self._finished(event)
        elif isinstance(event, ServerSetup) and (
            self._verbose or (not self._quiet and setup_line_shown(event))
        ):
            self._print(f"[dim]{escape(setup_text(event))}[/dim]")

    def _finished(self, event: BuildFinished) -> None:
        logs = self._logs.pop(event.function, [])
        if event.ok:
            if not self._quiet:
                self._print(_result_line(event))
            return
        if event.status == "cancelled":  # not a failure: its log says nothing wrong
            self._print(cancelled_line(event.function, event.duration_ms / 1000))
            if event.error:
                self._print(f"[dim]{escape(event.error)}[/dim]")
            return
        self._print(_result_line(event))
        if not self._verbose:
            for line in logs:
                self._print(escape(line.text))
        if event.error:
            self._print(f"[red]error:[/red] {escape(event.error)}")

    def _start_status(self) -> None:
        console = self._console()
        if console.is_interactive:
            from embly_build.cli.terminal.build_status import BuildStatus

            self._status = BuildStatus(console)

    def _console(self) -> Console:
        if self._stderr is None:
            from embly_build.cli.terminal.console import OutputConsole

            self._stderr = OutputConsole(stderr=True, highlight=False, soft_wrap=True)
        return self._stderr

    def _print(self, markup: str) -> None:
        self._output(lambda: self._console().print(markup))

    def close(self) -> None:
        """Erase the status lines (the result lines stay); call when the build is over."""
        if self._status is not None:
            self._output(self._status.close)
            self._status = None

    def summary(self, results: list[BuildFinished], seconds: float) -> None:
        if self._quiet and all(r.ok for r in results):
            return
        ok = sum(r.ok for r in results)
        cached = sum(r.ok and r.cache_hit for r in results)
        cancelled = sum(r.status == "cancelled" for r in results)
        failed = len(results) - ok - cancelled
        self._print(summary_markup(ok, cached, failed, seconds, cancelled=cancelled))


_IMAGE_MILESTONES = ("Step ", "preparing ", "building ", "Successfully built")


def setup_line_shown(event: ServerSetup) -> bool:
    """Whether a line of the server's set-up stays on screen: the container's, and of the
    image build our own lines and the start of each step (the steps' output shows with -v,
    and its end when the build fails)."""
    return event.phase != "image" or event.text.startswith(_IMAGE_MILESTONES)


def setup_text(event: ServerSetup) -> str:
    return f"docker {event.phase}: {event.text}"


def progress_text(progress: IndexProgress | UploadProgress) -> str | None:
    """`indexing: 12,345 files, 1.2 GiB read` or `uploading 120.0 MiB of 400.0 MiB`; None
    once it is done."""
    if isinstance(progress, IndexProgress):
        if progress.finished:
            return None
        return f"indexing: {progress.files:,} files, {format_size(progress.read_bytes)} read"
    if progress.sent_bytes >= progress.total_bytes:
        return None
    sent, total = format_size(progress.sent_bytes), format_size(progress.total_bytes)
    return f"uploading {sent} of {total}"


def sizes_text(sizes: Mapping[str, int]) -> str:
    """Artifact sizes by kind: `wasm 67.9 KiB  cwasm 206.9 KiB`."""
    return "  ".join(f"{kind} {format_size(size)}" for kind, size in sizes.items())


def _result_line(event: BuildFinished) -> str:
    if not event.ok:
        return f"[red]✗ {event.function}[/red]  {event.status}  {event.duration_ms / 1000:.1f}s"
    state = "cached" if event.cache_hit else "built"
    return ok_line(
        event.function, state, event.duration_ms / 1000, sizes_text(event.artifact_sizes)
    )


def escape(text: str) -> str:
    """`text` shown as is, not read as rich markup."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)
