"""`embly watch`: the long-running foreground process; stops cleanly on SIGINT, SIGTERM or
SIGHUP."""

from __future__ import annotations

from pathlib import Path

from embly_build.cli import exit_codes
from embly_build.cli.connect import connected_client, watch_quick_first
from embly_build.cli.options import ClientOptions
from embly_build.cli.stop_signals import cancel_on_stop_signals
from embly_build.cli.terminal.live_view import LiveView
from embly_build.cli.terminal.render import JsonRenderer
from embly_build.cli.terminal.warning_events import warnings_as_events
from embly_build.client.session.client import load
from embly_build.client.watch.watcher import Watcher
from embly_build.errors import EmblyError


async def watch(options: ClientOptions, functions: list[str], as_json: bool, poll: bool) -> int:
    """Watch until a signal arrives, or the output's reader goes away; every build is
    cancelled and its processes killed before this returns 130 (SIGINT), 143 (SIGTERM), 129
    (SIGHUP) or 141 (as SIGPIPE)."""
    with cancel_on_stop_signals() as stop:
        if as_json:
            renderer = JsonRenderer()
            renderer.stop_when_reader_gone(stop.reader_gone)
            with warnings_as_events(renderer):
                await _watch(options, functions, renderer, poll)
        else:
            with LiveView() as view:
                view.stop_when_reader_gone(stop.reader_gone)
                await _watch(options, functions, view, poll)
    return stop.exit_code or exit_codes.OK


async def _watch(
    options: ClientOptions,
    functions: list[str],
    emit: JsonRenderer | LiveView,
    poll: bool,
) -> None:
    quick_first = watch_quick_first(options)
    project = options.project or Path.cwd()
    load(project).select(functions)  # said before a server is set up; reloaded when watched
    async with connected_client(options, on_setup=emit) as client:
        watcher = Watcher(client, project, functions, emit, poll=poll, quick_first=quick_first)
        try:
            await watcher.run()
        except BaseExceptionGroup as group:
            raise _first_embly_error(group) from None


def _first_embly_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Errors from inside the watcher's task group, unwrapped so the CLI reports them."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            error = _first_embly_error(error)
        if isinstance(error, EmblyError):
            return error
    return group
