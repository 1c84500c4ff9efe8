"""What a build is doing right now, in a few words, for the terminal views.

Read from the events a build already sends: the server's step lines and cargo's own
progress lines (`Compiling serde v1.0.0`), so a long build shows where it is.
"""

from __future__ import annotations

import re

from embly_build.cli.terminal.render import progress_text, setup_text
from embly_build.client.session.events import (
    BuildFinished,
    BuildStarted,
    ClientEvent,
    IndexProgress,
    LogLine,
    ServerSetup,
    UploadProgress,
)

SETUP_LINE_WIDTH = 100

_STEP_ACTIVITIES = {
    "queue": "waiting",
    "toolchain": "provisioning the toolchain",
    "sync": "syncing sources",
    "compile": "compiling",
    "postprocess": "optimising",
    "aot": "AOT-compiling",
    "fetch": "fetching artifacts",
}
# cargo's progress lines: a right-aligned verb, then what it works on.
_CARGO_PROGRESS = re.compile(
    r"^\s*(Compiling|Checking|Downloading|Downloaded|Updating|Locking|Blocking)\s+(\S+)"
)


class Activities:
    """The current activity of each function being built."""

    def __init__(self) -> None:
        self._current: dict[str, tuple[str, str]] = {}  # function -> (step, activity)

    def update(self, event: ClientEvent) -> None:
        if isinstance(event, BuildStarted):
            self._current[event.function] = ("", "starting")
        elif isinstance(event, LogLine):
            step, _ = self._current.get(event.function, ("", ""))
            activity = _activity_of(event)
            if activity:
                self._current[event.function] = (event.step, activity)
            elif event.step != step and event.step in _STEP_ACTIVITIES:
                self._current[event.function] = (event.step, _STEP_ACTIVITIES[event.step])
        elif isinstance(event, BuildFinished):
            self._current.pop(event.function, None)

    def of(self, function: str) -> str:
        return self._current.get(function, ("", ""))[1]


class ProgressLine:
    """The index's or the upload's progress while it is under way, or the last line of the
    build server's set-up until a build starts; nothing once done."""

    def __init__(self) -> None:
        self.text: str | None = None
        self._of_setup = False

    def update(self, progress: IndexProgress | UploadProgress | ServerSetup) -> None:
        self._of_setup = isinstance(progress, ServerSetup)
        if isinstance(progress, ServerSetup):
            self.text = shorten(setup_text(progress), SETUP_LINE_WIDTH)
        else:
            self.text = progress_text(progress)

    def build_started(self) -> None:
        if self._of_setup:
            self.text, self._of_setup = None, False


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _activity_of(line: LogLine) -> str:
    if line.stream == "server" and line.text.startswith("waiting"):
        return "waiting"  # for gc, an identical build, or another build of the function
    if line.step == "compile":
        match = _CARGO_PROGRESS.match(line.text)
        if match is None:
            return ""  # a compiler message: the activity stays what it was
        verb, subject = match.groups()
        if verb == "Blocking":
            return "waiting for cargo's lock"
        return f"{verb.lower()} {subject}"
    if line.step == "postprocess" and line.stream == "server" and "wasm-opt" not in line.text:
        return "stripping"  # a quick result's post-processing, or a build without wasm-opt
    return _STEP_ACTIVITIES.get(line.step, "")
