"""The `nixpkgs` toolchain provider: every tool from a pinned nixpkgs and rust-overlay.

The same toolchain on every machine, at the cost of network access on first use. A sidecar
file next to the GC root remembers which pins produced the store path, so a restart with
unchanged pins skips evaluating nixpkgs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.toolchains.base import (
    LogSink,
    Toolchain,
    runtime_tools,
    toolchain_identity,
)
from embly_build.server.toolchains.nix.commands import (
    CommandResult,
    built_path,
    stderr_tail,
)
from embly_build.server.toolchains.nix.store import nix_build
from embly_build.server.toolchains.provision_cache import ProvisionCache
from embly_build.server.toolchains.tool_versions import first_line, tool_versions

NETWORK_NEEDED = (
    "the nixpkgs toolchain provider needs network access to fetch its pinned nixpkgs and Rust; "
    "on air-gapped machines use EMBLY_TOOLCHAINS=host"
)
_NETWORK_SIGNS = (
    "unable to download",
    "resolve host",
    "Connection timed out",
    "Failed to connect",
    "Network is unreachable",
)


class NixpkgsToolchainProvider:
    def __init__(self, embly_home: Path, nixexprs_dir: Path) -> None:
        self._embly_home = embly_home
        self._expr = nixexprs_dir / "toolchains" / "nixpkgs.nix"
        self._pins_file = nixexprs_dir / "toolchains" / "pins.json"
        self._cache = ProvisionCache()

    def describe(self) -> str:
        pins = self._pins()
        return (
            f"nixpkgs: nixpkgs {pins['nixpkgs']['rev'][:12]}, "
            f"Rust {pins['rust']['version']} (rust-overlay {pins['rust-overlay']['rev'][:12]})"
        )

    async def provision(self, runtime: str, *, on_log: LogSink | None = None) -> Toolchain:
        runtime_tools(runtime)
        return await self._cache.get(runtime, lambda: self._provision(runtime, on_log))

    async def _provision(self, runtime: str, on_log: LogSink | None) -> Toolchain:
        gcroot = self._embly_home / "gcroots" / f"toolchain-{runtime}-nixpkgs"
        inputs = self._inputs_digest(runtime)
        store_path = _recorded_path(gcroot, inputs)
        if store_path is None:
            # Substituters stay on: without the binary cache nix would compile gcc and friends.
            result = await nix_build(
                self._expr, {"runtime": runtime}, gcroot=gcroot, on_log=on_log, offline=False
            )
            if result.returncode != 0:
                raise _build_error(result)
            store_path = built_path(result)
            _record_path(gcroot, inputs, store_path)
        outputs = await tool_versions({t: store_path / "bin" / t for t in runtime_tools(runtime)})
        versions = {name: first_line(text) for name, text in outputs.items()}
        return Toolchain(
            runtime=runtime,
            provider="nixpkgs",
            store_path=store_path,
            identity=toolchain_identity(store_path, versions),
            wasm_target=str(self._pins()["rust"]["wasmTarget"]),
            versions=versions,
        )

    def _pins(self) -> dict[str, dict[str, str]]:
        try:
            pins: dict[str, dict[str, str]] = json.loads(self._pins_file.read_text())
        except (OSError, ValueError) as exc:
            raise EnvironmentProblem(
                f"cannot read toolchain pins {self._pins_file}: {exc}"
            ) from exc
        return pins

    def _inputs_digest(self, runtime: str) -> str:
        digest = hashlib.sha256(runtime.encode())
        for path in (self._expr, self._pins_file):
            digest.update(b"\0" + path.read_bytes())
        return digest.hexdigest()


def _sidecar(gcroot: Path) -> Path:
    return gcroot.with_name(gcroot.name + ".inputs")


def _recorded_path(gcroot: Path, inputs: str) -> Path | None:
    """The store path built earlier from the same inputs, if its GC root still holds it."""
    try:
        recorded = json.loads(_sidecar(gcroot).read_text())
        target = gcroot.readlink()
    except (OSError, ValueError):
        return None
    if recorded.get("inputs") != inputs or str(target) != recorded.get("store_path"):
        return None
    return target if (target / "setup").is_file() else None


def _record_path(gcroot: Path, inputs: str, store_path: Path) -> None:
    partial = gcroot.with_name(gcroot.name + ".inputs.tmp")
    partial.write_text(json.dumps({"inputs": inputs, "store_path": str(store_path)}))
    partial.replace(_sidecar(gcroot))


def _build_error(result: CommandResult) -> EnvironmentProblem:
    if any(sign in result.stderr for sign in _NETWORK_SIGNS):
        return EnvironmentProblem(f"{NETWORK_NEEDED}\n{stderr_tail(result, 3)}")
    return EnvironmentProblem(f"nix-build of the nixpkgs toolchain failed:\n{stderr_tail(result)}")
