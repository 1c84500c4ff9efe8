"""Executors run one build step's argv with a toolchain's tools and nothing else."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from embly_build.server.toolchains.base import Toolchain, ToolchainProvider


class Executor(Protocol):
    async def run(
        self,
        toolchain: Toolchain,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_stdout: Callable[[str], None],
        on_stderr: Callable[[str], None],
    ) -> int:
        """Run argv in cwd with env added; stream output lines (no trailing newline).

        Returns the exit status (negative: killed by that signal). When cancelled, or when an
        output callback raises, every process the step started is killed before returning.
        """
        ...

    def prepare(self, toolchain: Toolchain, *, after: float = 0.0, steps: int = 2) -> None:
        """Get ready, `after` seconds from now, for `steps` steps with `toolchain` that may
        come later (a hint; may do nothing). `close()` calls off what has not started yet."""
        ...

    async def close(self) -> None:
        """Stop whatever the executor keeps running between steps."""
        ...


@runtime_checkable
class BringsToolchains(Protocol):
    """An executor whose steps run where the server's own toolchains are not (a container):
    it says which toolchains they run with."""

    def toolchain_provider(self) -> ToolchainProvider: ...
