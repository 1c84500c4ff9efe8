"""The cargo workspace a crate belongs to, when its root lies above the crate.

Cargo builds a workspace member with the root's `Cargo.toml` (inherited `version.workspace`
and `dep.workspace = true`, `[workspace.dependencies]`, the root's `[profile]` and `[patch]`)
and its `Cargo.lock`. Those two files are then inputs of the function, and the paths of the
root's `[workspace.dependencies]` resolve inherited dependencies.
"""

from __future__ import annotations

import glob
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embly_build.errors import InputError


@dataclass(frozen=True)
class CargoWorkspace:
    root: Path  # resolved directory of the root Cargo.toml
    files: tuple[Path, ...]  # the root's Cargo.toml, and its Cargo.lock when there is one
    manifest: Mapping[str, Any]  # the root's Cargo.toml, parsed

    @property
    def dependencies(self) -> Mapping[str, Any]:
        """[workspace.dependencies]"""
        workspace = self.manifest.get("workspace")
        dependencies = workspace.get("dependencies") if isinstance(workspace, Mapping) else None
        return dependencies if isinstance(dependencies, Mapping) else {}


def enclosing_workspace(crate: Path, own: Mapping[str, Any]) -> CargoWorkspace | None:
    """The workspace above `crate` (whose Cargo.toml, parsed, is `own`) that cargo would build
    it in; None when the crate is its own root or belongs to none."""
    if "workspace" in own:
        return None
    package = own.get("package")
    explicit = package.get("workspace") if isinstance(package, Mapping) else None
    if not isinstance(explicit, str):
        explicit = None
    candidates = [crate / explicit] if explicit is not None else list(crate.parents)
    for directory in candidates:
        manifest = directory / "Cargo.toml"
        if not manifest.is_file():
            continue
        data = read_manifest(manifest)
        workspace = data.get("workspace")
        if not isinstance(workspace, Mapping):
            continue
        root = directory.resolve()
        if explicit is None and not _is_member(crate, root, workspace):
            # Not one of its members: cargo itself would refuse to build the crate inside
            # it, so the crate cannot rely on it; it is built on its own.
            return None
        lock = root / "Cargo.lock"
        files = (root / "Cargo.toml", lock) if lock.is_file() else (root / "Cargo.toml",)
        return CargoWorkspace(root, files, data)
    return None


def _is_member(crate: Path, root: Path, workspace: Mapping[str, Any]) -> bool:
    """Whether `members` (paths or globs, relative to the root) names the crate and
    `exclude` does not."""
    members = workspace.get("members")
    exclude = workspace.get("exclude")
    if isinstance(exclude, list) and any(
        isinstance(entry, str) and crate.is_relative_to((root / entry).resolve())
        for entry in exclude
    ):
        return False
    if not isinstance(members, list):
        return False
    for pattern in members:
        if isinstance(pattern, str):
            matches = glob.glob(glob.escape(str(root)) + "/" + pattern)
            if any(Path(match).resolve() == crate for match in matches):
                return True
    return False


def read_manifest(manifest: Path) -> dict[str, Any]:
    try:
        with manifest.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError as exc:
        raise InputError(f"{manifest} does not exist; a function's crate needs one") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{manifest} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise InputError(f"cannot read {manifest}: {exc.strerror}") from exc
