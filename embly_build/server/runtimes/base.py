"""What a runtime plug-in provides: the command it runs and how to compile one function."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from embly_build.server.executors.base import Executor
from embly_build.server.toolchains.base import Toolchain

LogSink = Callable[[str, str], None]  # (stream: "stdout" | "stderr", text)


@dataclass(frozen=True)
class CompileJob:
    toolchain: Toolchain
    executor: Executor
    source_dir: Path  # the synced build space's source root
    crate_dir: str  # the crate, relative to source_dir ('.' for the root)
    target_dir: Path  # persistent CARGO_TARGET_DIR
    cargo_home: Path  # persistent CARGO_HOME
    on_log: LogSink


class Runtime(Protocol):
    name: str

    def command(self, toolchain: Toolchain) -> Sequence[str]:
        """The compile command, as it enters the action key."""
        ...

    async def compile(self, job: CompileJob) -> Path:
        """Compile the function; return the path of the produced .wasm."""
        ...
