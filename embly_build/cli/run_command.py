"""`embly run`: execute a built artifact with WASI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embly_build.client.artifact_names import artifact_path
from embly_build.client.config import find_config, load_project
from embly_build.errors import UsageError
from embly_build.wasm.runner import run_module


def run_function(project_dir: Path | None, function: str, args: Sequence[str]) -> int:
    project = load_project(find_config(Path(project_dir or Path.cwd()).absolute()))
    project.select([function])  # unknown names fail here, listing the known ones
    for kind in ("cwasm", "wasm"):
        artifact = artifact_path(project.output_dir, function, kind)
        if artifact.exists():
            return run_module(artifact, function, args)
    raise UsageError(f"{function} has not been built yet: run `embly build {function}` first")
