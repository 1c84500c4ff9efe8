"""The Rust runtime: `cargo build --release --target wasm32-wasi[p1]` in the build space."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embly_build.errors import BuildFailed
from embly_build.protocol.paths import SOURCE_ROOT
from embly_build.server.runtimes.base import CompileJob
from embly_build.server.runtimes.cargo_config import NEUTRAL_CWD, config_arguments
from embly_build.server.runtimes.cargo_workspace import (
    CarriedTableWarnings,
    is_generated_root,
    prepare_workspace,
)
from embly_build.server.toolchains.base import Toolchain

CARGO_HOME_ALIAS = "/embly-cargo-home"
TARGET_DIR_ALIAS = "/embly-target"
_RELATIVE_LOCATION = re.compile(r"^(\s*--> )(?!/)([^:\s]+)(:\d+:\d+)")


class RustRuntime:
    name = "rust"

    def command(self, toolchain: Toolchain) -> Sequence[str]:
        return (
            "cargo",
            "build",
            "--release",
            "--target",
            toolchain.wasm_target,
            "--message-format=json-render-diagnostics",
        )

    async def compile(self, job: CompileJob) -> Path:
        crate = job.source_dir / job.crate_dir
        workspace_root = prepare_workspace(job.source_dir, job.crate_dir)
        rewrite = LogPathRewriter(job.source_dir, workspace_root)
        carried = CarriedTableWarnings() if is_generated_root(job.source_dir) else None
        messages: list[dict[str, Any]] = []

        def on_stdout(line: str) -> None:
            message = _parse_message(line)
            if message is None:
                job.on_log("stdout", rewrite(line))
            else:
                messages.append(message)

        def on_stderr(line: str) -> None:
            if carried is None or carried.keep(line):
                job.on_log("stderr", rewrite(line))

        env = {
            "CARGO_TARGET_DIR": str(job.target_dir),
            "CARGO_HOME": str(job.cargo_home),
            "CARGO_TERM_COLOR": "never",
            # Build-space paths never reach the artifact or the logs, so the same sources give
            # the same bytes wherever they are built (nixexprs/toolchains/rustc-wrapper.sh).
            "RUSTC_WRAPPER": str(job.toolchain.store_path / "bin" / "embly-rustc-wrapper"),
            "EMBLY_REMAP_SOURCE": f"{job.source_dir}={SOURCE_ROOT}",
            "EMBLY_REMAP_TARGET": f"{job.target_dir}={TARGET_DIR_ALIAS}",
            "EMBLY_REMAP_CARGO_HOME": f"{job.cargo_home}={CARGO_HOME_ALIAS}",
        }
        argv = [
            *self.command(job.toolchain),
            "--manifest-path",
            str(crate / "Cargo.toml"),
            *config_arguments(job.source_dir, job.crate_dir),
        ]
        code = await job.executor.run(
            job.toolchain,
            argv,
            cwd=NEUTRAL_CWD,
            env=env,
            on_stdout=on_stdout,
            on_stderr=on_stderr,
        )
        if code != 0:
            raise BuildFailed(f"cargo build failed (exit code {code})")
        return _find_wasm(messages, crate / "Cargo.toml")


class LogPathRewriter:
    """Turn build-space paths in compiler output into SOURCE_ROOT paths a client can map."""

    def __init__(self, source_dir: Path, workspace_root: str) -> None:
        self._source_dir = str(source_dir)
        relative = "" if workspace_root == "." else workspace_root + "/"
        self._workspace_prefix = f"{SOURCE_ROOT}/{relative}"

    def __call__(self, line: str) -> str:
        line = line.replace(self._source_dir, SOURCE_ROOT)
        # cargo hands rustc the paths of workspace packages relative to the workspace root.
        return _RELATIVE_LOCATION.sub(rf"\g<1>{self._workspace_prefix}\g<2>\g<3>", line)


def _parse_message(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _find_wasm(messages: list[dict[str, Any]], manifest: Path) -> Path:
    """The .wasm of the crate's own bin or cdylib target, whatever the package is called."""
    found: dict[str, Path] = {}
    for message in messages:
        if message.get("reason") != "compiler-artifact":
            continue
        if Path(message.get("manifest_path", "")) != manifest:
            continue
        kinds = set(message.get("target", {}).get("kind", []))
        if not kinds & {"bin", "cdylib"}:
            continue
        for filename in message.get("filenames", []):
            if filename.endswith(".wasm"):
                found[message["target"]["name"]] = Path(filename)
    if not found:
        raise BuildFailed(
            "cargo produced no .wasm for this crate: an embly function must be a binary "
            "crate (src/main.rs) or a cdylib"
        )
    if len(found) > 1:
        names = ", ".join(sorted(found))
        raise BuildFailed(
            f"the crate has several binary targets ({names}); an embly function needs "
            "exactly one: move the others to another crate or mark them `test = false`"
        )
    return next(iter(found.values()))
