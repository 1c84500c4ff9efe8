"""`embly info`: what the build server is and holds."""

from __future__ import annotations

import json

from rich.console import Console

from embly_build.cli.connect import connected_client
from embly_build.cli.options import ClientOptions
from embly_build.server.sizes import format_size


async def show_info(options: ClientOptions, as_json: bool) -> int:
    async with connected_client(options) as client:
        info = await client.server_info()
    if as_json:
        print(json.dumps(info.to_dict(include_default_values=True)))
        return 0
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"server      embly-build {info.server_version} on {info.platform}")
    console.print(f"executor    {info.executor}")
    console.print(f"wasmtime    {info.wasmtime_version}")
    console.print(f"runtimes    {', '.join(info.runtimes)}")
    store = info.store
    console.print(
        f"store       {store.blob_count} blobs, {format_size(store.blob_bytes)}; "
        f"{store.action_cache_entries} cached actions"
    )
    for toolchain in info.toolchains:
        console.print(
            f"toolchain   {toolchain.runtime} ({toolchain.provider}) {toolchain.store_path}"
        )
    return 0
