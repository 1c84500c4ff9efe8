"""The status lines under `embly build`'s output in a terminal: each function still being
built, what it is doing and for how long. They are redrawn in place and erased at the end;
the result lines printed above them stay."""

from __future__ import annotations

import time

from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from embly_build.cli.terminal.activity import Activities, ProgressLine
from embly_build.client.session.events import (
    BuildFinished,
    BuildStarted,
    ClientEvent,
    IndexProgress,
    ServerSetup,
    UploadProgress,
)


class BuildStatus:
    def __init__(self, console: Console) -> None:
        self._activities = Activities()
        self._started: dict[str, float] = {}
        self._progress = ProgressLine()
        self._live = Live(self, console=console, refresh_per_second=4, transient=True)
        self._live.start()

    def update(self, event: ClientEvent) -> None:
        self._activities.update(event)
        if isinstance(event, IndexProgress | UploadProgress | ServerSetup):
            self._progress.update(event)
        elif isinstance(event, BuildStarted):
            self._progress.build_started()
            self._started[event.function] = time.monotonic()
        elif isinstance(event, BuildFinished):
            self._started.pop(event.function, None)
        self._live.refresh()

    def close(self) -> None:
        self._live.stop()

    def __rich__(self) -> RenderableType:
        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        if self._progress.text is not None:
            table.add_row("", Text(self._progress.text, style="yellow"), "")
        for function, started in self._started.items():
            table.add_row(
                Text(function, style="bold"),
                Text(self._activities.of(function), style="yellow"),
                f"{now - started:5.1f}s",
            )
        return table
