"""Where a function's artifacts live in the project: embly_build/<function>.<kind>."""

from __future__ import annotations

from pathlib import Path

EXTENSIONS = {"wasm": ".wasm", "cwasm": ".cwasm"}


def artifact_path(output_dir: Path, function: str, kind: str) -> Path:
    return output_dir / f"{function}{EXTENSIONS[kind]}"
