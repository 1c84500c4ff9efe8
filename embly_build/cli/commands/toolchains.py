"""`embly toolchains`: show, or provision with --provision, the pinned toolchains."""

from __future__ import annotations

from embly_build.cli.terminal.console import OutputConsole
from embly_build.server.runtimes import RUNTIMES
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains import toolchain_provider


async def show_toolchains(provision: bool) -> int:
    settings = ServerSettings()
    provider = toolchain_provider(settings.toolchains, settings.home)
    console = OutputConsole(highlight=False, soft_wrap=True)
    console.print(f"provider    {provider.describe()}")
    if not provision:
        console.print("run `embly toolchains --provision` to build them now")
        return 0
    for runtime in RUNTIMES:
        toolchain = await provider.provision(
            runtime, on_log=lambda text: console.print(f"  {text}")
        )
        console.print(f"{runtime:<11} {toolchain.store_path}")
        console.print(f"wasm target {toolchain.wasm_target}")
        for tool, tool_version in sorted(toolchain.versions.items()):
            console.print(f"  {tool:<11} {tool_version}")
    return 0
