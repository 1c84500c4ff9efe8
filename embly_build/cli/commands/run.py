"""`embly run`: execute a built artifact with WASI."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from embly_build.client.config.project import find_config, load_project
from embly_build.client.records.cwasm_trust import written_cwasm
from embly_build.client.session.artifact_names import artifact_path
from embly_build.errors import UsageError
from embly_build.wasm.runner import run_module


def run_function(project_dir: Path | None, function: str, args: Sequence[str]) -> int:
    """Run the function's .cwasm when a build on this machine wrote it, else its .wasm."""
    project = load_project(find_config(Path(project_dir or Path.cwd()).absolute()))
    project.select([function])  # unknown names fail here, listing the known ones
    cwasm = artifact_path(project.output_dir, function, "cwasm")
    wasm = artifact_path(project.output_dir, function, "wasm")
    if cwasm.exists():
        native = written_cwasm(cwasm)
        if native is not None:
            return run_module(cwasm, function, args, native=native)
        if not wasm.exists():
            raise UsageError(
                f"{cwasm} was not written by a build on this machine (or has changed since), "
                "so it is not loaded: a .cwasm is native code. Run `embly build "
                f"{function}` to build the function here"
            )
        print(
            f"embly: {cwasm} was not written by a build on this machine (or has changed "
            f"since), so it is not loaded; running {wasm.name} instead. `embly build "
            f"{function}` writes a new one.",
            file=sys.stderr,
            flush=True,
        )
    if wasm.exists():
        return run_module(wasm, function, args)
    raise UsageError(f"{function} has not been built yet: run `embly build {function}` first")
