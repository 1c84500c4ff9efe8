"""`embly info`: what the build server is and holds."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable

from embly_build.cli import exit_codes
from embly_build.cli.connect import connected_client
from embly_build.cli.options import ClientOptions
from embly_build.cli.terminal.render import setup_line_shown, setup_text
from embly_build.client.session.events import ServerSetup
from embly_build.protocol import pb
from embly_build.server.sizes import format_size


async def show_info(options: ClientOptions, mode: str) -> int:
    """Ask the server and print what it says: `mode` is "human", "verbose" (each
    toolchain's identity, WASI target and tool versions too), "json" or "quiet" (nothing:
    the exit code says whether the server answered)."""
    async with connected_client(options, on_setup=_setup_line(mode)) as client:
        info = await client.server_info()
    if mode == "quiet":
        return exit_codes.OK
    if mode == "json":
        text = json.dumps(info_json(info)) + "\n"
    else:
        text = "".join(line + "\n" for line in _lines(info, verbose=mode == "verbose"))
    sys.stdout.write(text)
    sys.stdout.flush()
    return exit_codes.OK


def _setup_line(mode: str) -> Callable[[ServerSetup], None]:
    """Getting the Docker executor's server ready, on stderr (stdout is the answer's)."""

    def show(event: ServerSetup) -> None:
        if mode == "verbose" or (mode == "human" and setup_line_shown(event)):
            print(setup_text(event), file=sys.stderr, flush=True)

    return show


def info_json(info: pb.ServerInfo) -> dict[str, object]:
    """The message's fields as they are: snake_case keys and numbers as numbers, as in every
    other --json output (the proto3 JSON mapping, betterproto's `to_dict`, writes camelCase
    and 64-bit integers as strings)."""
    return dataclasses.asdict(info)


def _activity(activity: pb.BuildActivity) -> str:
    """Builds under way, and since the server started how many the cache answered."""
    now = f"{activity.running} running, {activity.queued} queued"
    finished = activity.builds_finished
    if not finished:
        return f"{now}; none finished since the server started"
    rate = activity.cache_hits / finished
    return (
        f"{now}; {finished} finished since the server started, "
        f"{activity.cache_hits} from the cache ({rate:.0%})"
    )


def _lines(info: pb.ServerInfo, *, verbose: bool) -> list[str]:
    store = info.store
    lines = [
        f"server      embly-build {info.server_version} on {info.platform}",
        f"executor    {info.executor}",
        f"wasmtime    {info.wasmtime_version}",
        f"runtimes    {', '.join(info.runtimes)}",
        f"store       {store.blob_count} blobs, {format_size(store.blob_bytes)}; "
        f"{store.action_cache_entries} cached actions",
        f"builds      {_activity(info.activity)}",
    ]
    for toolchain in info.toolchains:
        lines.append(
            f"toolchain   {toolchain.runtime} ({toolchain.provider}) {toolchain.store_path}"
        )
        if verbose:
            details = {"identity": toolchain.identity, "target": toolchain.wasm_target}
            details.update(sorted(toolchain.versions.items()))
            lines += [f"            {name:<11} {value}" for name, value in details.items()]
    return lines
