"""`embly build`: build the functions once and report each."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from embly_build.cli import exit_codes
from embly_build.cli.commands.up_to_date_report import REPORT_MODES, report_of
from embly_build.cli.connect import Resolved, connected_client, resolve
from embly_build.cli.options import ClientOptions
from embly_build.cli.stop_signals import cancel_on_stop_signals
from embly_build.cli.terminal.render import HumanRenderer, JsonRenderer
from embly_build.cli.terminal.warning_events import warnings_as_events
from embly_build.client.config.project import ProjectConfig
from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.records.up_to_date import invocation_key
from embly_build.client.records.up_to_date_record import FinishedRun, code_paths, record_run
from embly_build.client.session.client import load
from embly_build.client.session.events import BuildFinished, ClientEvent, LogLine


@dataclass(frozen=True)
class _Invocation:
    command_line: Sequence[str] | None
    report_mode: str
    started_ns: int  # before embly.hcl is looked for
    search_start: Path  # where it is looked for from


async def build_once(
    options: ClientOptions,
    functions: list[str],
    renderer: JsonRenderer | HumanRenderer,
    *,
    command_line: Sequence[str] | None = None,
    report_mode: str = "",
) -> int:
    """Build and report. With the `command_line` this process was started with, and a
    `report_mode` (see up_to_date_report.py), a successful in-process build is recorded so
    that the same command, while nothing has changed, reports again without building."""
    started = time.monotonic()
    invocation = _Invocation(
        command_line, report_mode, time.time_ns(), (options.project or Path.cwd()).absolute()
    )
    indexed: list[tuple[ProjectConfig, Mapping[str, FunctionInputs]]] = []
    client_lines: list[LogLine] = []

    def show(event: ClientEvent) -> None:
        if isinstance(event, LogLine) and event.stream == "client":
            client_lines.append(event)
        renderer(event)

    with (
        cancel_on_stop_signals() as stop,
        warnings_as_events(renderer) if isinstance(renderer, JsonRenderer) else nullcontext(),
    ):
        renderer.stop_when_reader_gone(stop.reader_gone)
        try:
            resolved = resolve(options)
            # A missing embly.hcl or an unknown function is said before a server is set up.
            config = load(invocation.search_start)
            config.select(functions)
            async with connected_client(options, resolved, show) as client:
                results = await client.build(
                    config,
                    functions,
                    show,
                    on_indexed=lambda config, inputs: indexed.append((config, inputs)),
                )
        finally:
            renderer.close()
    if stop.exit_code is not None:
        return stop.exit_code
    renderer.summary(results, time.monotonic() - started)
    if stop.exit_code is not None:  # the summary's reader had gone
        return stop.exit_code
    # The client's own lines (a .cwasm it cannot make for `--target`) come with every run,
    # a cached one too; a report printed again without them would not be the same.
    if indexed and not client_lines:
        _record(invocation, resolved, *indexed[-1], results)
    return exit_codes.OK if all(r.ok for r in results) else exit_codes.BUILD_FAILED


def _record(
    invocation: _Invocation,
    resolved: Resolved,
    config: ProjectConfig,
    inputs: Mapping[str, FunctionInputs],
    results: Sequence[BuildFinished],
) -> None:
    """Record the run for the next identical command. Only in-process builds are: a build
    server's toolchains can change without this machine seeing it."""
    if (
        invocation.command_line is None
        or invocation.report_mode not in REPORT_MODES
        or resolved.settings is None
    ):
        return
    from embly_build.server.toolchains import find_nixexprs_dir
    from embly_build.server.toolchains.state_paths import toolchain_state_paths

    home = resolved.settings.home
    search_path = os.environ.get("PATH", os.defpath)

    def environment() -> list[Path]:
        toolchains = toolchain_state_paths(home, find_nixexprs_dir(), search_path)
        return [*toolchains, *code_paths()]

    run = FinishedRun(
        key=invocation_key(invocation.command_line, os.getcwd(), os.environ),
        started_ns=invocation.started_ns,
        search_start=invocation.search_start,
        config=config,
        inputs=inputs,
        results=results,
        report=report_of(results, invocation.report_mode),
        environment=environment,
    )
    record_run(run, home)
