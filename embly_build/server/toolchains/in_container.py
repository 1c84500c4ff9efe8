"""The toolchains of the build container `embly serve --executor docker` runs steps in.

The container is asked (`python -m embly_build.server.toolchains.report RUNTIME`, run as
the image's user, who owns its Nix store), so the store path, versions and identity are
the container's: this machine may have no Nix at all. The answer is kept for as long as
the same container runs; each provisioning (one a build) asks the engine whether it still
does, so a container removed between builds is made again by the next one.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.executors.step_container import StepContainer
from embly_build.server.toolchains.base import LogSink, Toolchain, runtime_tools

REPORT = ("python", "-m", "embly_build.server.toolchains.report")
_SHOWN_ERROR_LINES = 10


class ContainerToolchainProvider:
    def __init__(self, container: StepContainer, kind: str) -> None:
        self._container = container
        self._kind = kind
        self._known: dict[tuple[str, str], Toolchain] = {}  # (container id, runtime)
        self._lock = asyncio.Lock()

    def describe(self) -> str:
        return (
            f"{self._kind}, inside the build container {self._container.name} "
            "(the build server image's tools, in its Nix store)"
        )

    async def provision(self, runtime: str, *, on_log: LogSink | None = None) -> Toolchain:
        runtime_tools(runtime)
        async with self._lock:
            container = await self._container.running(on_log, verify=True)
            key = (str(container.id), runtime)
            known = self._known.get(key)
            if known is not None:
                return known
            result = await self._container.capture(
                container, [*REPORT, runtime], env={"EMBLY_TOOLCHAINS": self._kind}
            )
            if result.code != 0:
                shown = "\n".join(result.stderr.strip().splitlines()[-_SHOWN_ERROR_LINES:])
                raise EnvironmentProblem(
                    f"the build container {self._container.name} has no {runtime} toolchain:"
                    f"\n{shown or f'exit status {result.code}'}"
                )
            toolchain = _parse(result.stdout, self._container.name)
            self._known = {k: v for k, v in self._known.items() if k[0] == key[0]}
            self._known[key] = toolchain
            return toolchain


def _parse(text: str, name: str) -> Toolchain:
    try:
        fields = json.loads(text)
        return Toolchain(
            runtime=str(fields["runtime"]),
            provider=str(fields["provider"]),
            store_path=Path(fields["store_path"]),
            identity=str(fields["identity"]),
            wasm_target=str(fields["wasm_target"]),
            versions={str(k): str(v) for k, v in fields["versions"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise EnvironmentProblem(
            f"the build container {name} described its toolchain in a way this embly does not "
            f"read ({error}): its image is not this version's; remove it (docker rm -f {name})"
        ) from error
