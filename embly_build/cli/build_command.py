"""`embly build`: build the functions once and report each."""

from __future__ import annotations

import time
from pathlib import Path

from embly_build.cli import exit_codes
from embly_build.cli.connect import connected_client
from embly_build.cli.options import ClientOptions
from embly_build.cli.render import HumanRenderer, JsonRenderer
from embly_build.cli.stop_signals import cancel_on_stop_signals


async def build_once(
    options: ClientOptions, functions: list[str], renderer: JsonRenderer | HumanRenderer
) -> int:
    started = time.monotonic()
    with cancel_on_stop_signals() as stop:
        try:
            async with connected_client(options) as client:
                results = await client.build(options.project or Path.cwd(), functions, renderer)
        finally:
            renderer.close()
    if stop.exit_code is not None:
        return stop.exit_code
    renderer.summary(results, time.monotonic() - started)
    return exit_codes.OK if all(r.ok for r in results) else exit_codes.BUILD_FAILED
