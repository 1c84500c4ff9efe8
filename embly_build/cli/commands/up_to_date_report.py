"""`embly build` with nothing to do: its last run's report, printed again at once.

`report_if_up_to_date` runs before the command line is even parsed (entry.py), so this
module imports only what client/records/up_to_date.py does; `report_of`, which the full command
calls after a build, imports what it needs when called.
"""

from __future__ import annotations

import os
import sys
import time

from embly_build.cli.terminal.result_lines import ANSI_GREEN, NO_COLOUR, ok_line, summary_markup
from embly_build.client.records.up_to_date import Report, invocation_key, unchanged_report

TYPE_CHECKING = False  # not typing's: see client/records/up_to_date.py
if TYPE_CHECKING:
    from collections.abc import Sequence

    from embly_build.client.session.events import BuildFinished

# How each kind of output reports a build, as `embly build` chose its renderer. Verbose
# output (every log line) is not recorded: who asks for it wants to see the build asked for.
REPORT_MODES = ("human", "quiet", "json")
# Where a recorded build_finished event's duration goes: the one place json.dumps writes a
# quote followed by a colon is after a key, so this cannot match inside a string value.
_DURATION = '"duration_ms": 0'


def report_if_up_to_date(argv: Sequence[str]) -> int | None:
    """Print the report of the last identical `embly build` and return its exit code, when
    nothing it depended on has changed since; else None, and nothing is printed."""
    started = time.perf_counter()
    report = unchanged_report(invocation_key(argv, os.getcwd(), os.environ))
    if report is None:
        return None
    try:
        _print_report(report, time.perf_counter() - started)
    except BrokenPipeError:
        return 141  # the reader has gone (`| head`): exit_codes.BROKEN_PIPE, as a full build
    return 0


def report_of(results: Sequence[BuildFinished], mode: str) -> Report:
    """What a run that reported `results` in `mode` printed, kept for printing again: each
    function a cache hit that uploaded nothing, its duration filled in then."""
    import json

    from embly_build.cli.terminal.render import sizes_text
    from embly_build.client.session.events import BuildStarted

    functions = []
    for result in results:
        event = result.to_json()
        event.update(cache_hit=True, uploaded_bytes=0, timings={}, up_to_date=True)
        event["duration_ms"] = 0
        before, duration, after = json.dumps(event).partition(_DURATION)
        before += duration.removesuffix("0")  # the key stays; its value is filled in then
        started = json.dumps(BuildStarted(result.function, 0).to_json())
        functions.append(
            (result.function, started, before, after, sizes_text(result.artifact_sizes))
        )
    return {"mode": mode, "functions": functions}


def _print_report(report: Report, seconds: float) -> None:
    mode, functions = report["mode"], report["functions"]
    if not isinstance(functions, (list, tuple)) or mode == "quiet":
        return
    if mode == "json":
        lines = [started for _, started, _, _, _ in functions]
        milliseconds = int(seconds * 1000)
        lines += [f"{before}{milliseconds}{after}" for _, _, before, after, _ in functions]
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
        return
    colour = ANSI_GREEN if _colour(sys.stderr) else NO_COLOUR
    lines = [ok_line(name, "cached", seconds, sizes, colour) for name, _, _, _, sizes in functions]
    lines.append(summary_markup(len(functions), len(functions), 0, seconds))  # no markup
    sys.stderr.write("".join(line + "\n" for line in lines))
    sys.stderr.flush()


def _colour(stream: object) -> bool:
    """Whether rich would colour `stream`: a terminal, and neither NO_COLOR nor TERM=dumb."""
    isatty = getattr(stream, "isatty", None)
    if not (callable(isatty) and isatty()):
        return False
    return "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
