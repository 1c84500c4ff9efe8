"""`python -m embly_build.server.toolchains.report RUNTIME`: provision this machine's
toolchain for RUNTIME (EMBLY_TOOLCHAINS names the provider) and print it as one JSON
object. A server whose steps run in a container asks the container this way, so the
toolchain and its identity are the container's own."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from embly_build.errors import EmblyError
from embly_build.server.settings import ServerSettings
from embly_build.server.toolchains import toolchain_provider
from embly_build.server.toolchains.base import Toolchain


def toolchain_fields(toolchain: Toolchain) -> dict[str, Any]:
    return {
        "runtime": toolchain.runtime,
        "provider": toolchain.provider,
        "store_path": str(toolchain.store_path),
        "identity": toolchain.identity,
        "wasm_target": toolchain.wasm_target,
        "versions": dict(toolchain.versions),
    }


async def _report(runtime: str) -> dict[str, Any]:
    settings = ServerSettings()
    provider = toolchain_provider(settings.toolchains, settings.home)
    return toolchain_fields(await provider.provision(runtime))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m embly_build.server.toolchains.report RUNTIME", file=sys.stderr)
        return 2
    try:
        fields = asyncio.run(_report(argv[0]))
    except EmblyError as error:
        print(error, file=sys.stderr)
        return 2
    print(json.dumps(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
