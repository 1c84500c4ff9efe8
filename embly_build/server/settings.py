"""A build server's settings and the layout of its state under EMBLY_HOME."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from embly_build.home import embly_home
from embly_build.server.executors import DEFAULT_EXECUTOR
from embly_build.server.toolchains import DEFAULT_PROVIDER


def default_jobs() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ServerSettings:
    home: Path = field(default_factory=embly_home)
    jobs: int = field(default_factory=default_jobs)
    toolchains: str = field(
        default_factory=lambda: os.environ.get("EMBLY_TOOLCHAINS", DEFAULT_PROVIDER)
    )
    executor: str = DEFAULT_EXECUTOR

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def action_cache_dir(self) -> Path:
        return self.home / "action-cache"

    @property
    def spaces_dir(self) -> Path:
        return self.home / "spaces"

    @property
    def cargo_homes_dir(self) -> Path:
        return self.home / "cargo-home"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"
