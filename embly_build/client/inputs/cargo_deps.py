"""What cargo reads beyond the crate: the local crates it depends on through `path = ...`
(also inherited from `[workspace.dependencies]`), its workspace's root files, and the cargo
configuration it is built with in place (see `cargo_config.py`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embly_build.client.inputs.cargo_config import NamedSource, cargo_config
from embly_build.client.inputs.cargo_workspace_root import (
    CargoWorkspace,
    enclosing_workspace,
    read_manifest,
)
from embly_build.errors import InputError

_DEPENDENCY_TABLES = (
    "dependencies",
    "dev-dependencies",
    "build-dependencies",
    # Older spellings cargo still accepts.
    "dev_dependencies",
    "build_dependencies",
)


@dataclass(frozen=True)
class CargoInputs:
    crates: tuple[Path, ...]  # resolved local path dependencies, transitively
    # Single files: an enclosing workspace's root files (Cargo.toml, Cargo.lock), then the
    # cargo config files, outermost first.
    files: tuple[Path, ...]
    # The directories that replace a registry, when the crates have registry dependencies:
    # cargo reads them, so they must be among the inputs.
    sources: tuple[NamedSource, ...] = ()


def cargo_inputs(crate_dir: Path, project_root: Path | None = None) -> CargoInputs:
    """Local path dependencies (first seen first, no duplicates, the crate itself excluded),
    the root files of the workspace the crate belongs to and the config files cargo reads in
    place (up to `project_root` or the repository's root, see `cargo_config.py`)."""
    crate = crate_dir.resolve()
    own = read_manifest(crate / "Cargo.toml")
    workspace = enclosing_workspace(crate, own)
    config = cargo_config(crate, project_root.resolve() if project_root else None)
    # The root's [patch] and [replace] apply to every member, as a config's [patch] and
    # `paths` do: their crates are inputs too.
    patched = [*(_root_patches(workspace) if workspace else []), *config.crates]
    found: dict[Path, None] = dict.fromkeys(p for p in patched if p != crate)
    pending = [crate, *found]
    from_registry = False
    while pending:
        directory = pending.pop(0)
        manifest = directory / "Cargo.toml"
        data = own if directory == crate else read_manifest(manifest)
        from_registry = from_registry or _has_registry_dependencies(data, workspace)
        for dependency in _declared_paths(manifest, data, workspace):
            if dependency != crate and dependency not in found:
                found[dependency] = None
                pending.append(dependency)
    if workspace is not None:
        # Cargo resolves the whole workspace; its root's declarations stand for its members.
        from_registry = from_registry or _has_registry_dependencies(workspace.manifest, None)
    files = (*(workspace.files if workspace else ()), *config.files)
    return CargoInputs(tuple(found), files, config.sources if from_registry else ())


def _root_patches(workspace: CargoWorkspace) -> list[Path]:
    data = workspace.manifest
    tables = [*_named_tables(data.get("patch")), ("replace", data.get("replace"))]
    found = []
    for _, table in tables:
        for _, entry in _named_tables(table):
            path = entry.get("path")
            if isinstance(path, str) and (workspace.root / path / "Cargo.toml").is_file():
                found.append((workspace.root / path).resolve())
    return found


def local_path_dependencies(crate_dir: Path) -> list[Path]:
    """Resolved directories of every local path dependency of the crate, transitively."""
    return list(cargo_inputs(crate_dir).crates)


def _declared_paths(
    manifest: Path, data: Mapping[str, Any], workspace: CargoWorkspace | None
) -> Iterator[Path]:
    """The resolved `path` of every dependency entry in one Cargo.toml (`data`, parsed), in
    file order; an entry with `workspace = true` takes the path of the workspace's entry of
    that name."""
    for name, entry in _dependency_entries(data):
        base = manifest.parent
        if entry.get("workspace") is True and workspace is not None:
            inherited = workspace.dependencies.get(name)
            if not isinstance(inherited, Mapping):
                continue
            entry, base = inherited, workspace.root
        path = entry.get("path")
        if path is None:
            continue
        if not isinstance(path, str):
            raise InputError(f"{manifest}: a dependency's `path` must be a string, not {path!r}")
        directory = (base / path).resolve()
        if not (directory / "Cargo.toml").is_file():
            raise InputError(
                f"{manifest}: path dependency {path!r} has no Cargo.toml at {directory}; "
                "fix the path or create the crate"
            )
        yield directory


def _has_registry_dependencies(data: Mapping[str, Any], workspace: CargoWorkspace | None) -> bool:
    """Whether a Cargo.toml declares a dependency that a registry provides: one with neither
    `path` nor `git` (a version string, or inherited from such a workspace entry)."""
    for name, entry in _dependency_entries(data, tables_only=False):
        if isinstance(entry, Mapping) and entry.get("workspace") is True and workspace:
            entry = workspace.dependencies.get(name)
        if isinstance(entry, str):
            return True
        if isinstance(entry, Mapping) and "path" not in entry and "git" not in entry:
            return True
    return False


def _dependency_entries(
    data: Mapping[str, Any], *, tables_only: bool = True
) -> Iterator[tuple[str, Any]]:
    """Every dependency entry with its name (only the table-valued ones unless
    `tables_only` is False): plain, per target, [patch.*], [replace], and
    [workspace.dependencies]."""
    tables: list[Any] = [data.get(name) for name in _DEPENDENCY_TABLES]
    for target in _tables(data.get("target")):
        tables.extend(target.get(name) for name in _DEPENDENCY_TABLES)
    tables.extend(_tables(data.get("patch")))
    tables.append(data.get("replace"))
    workspace = data.get("workspace")
    if isinstance(workspace, Mapping):
        tables.append(workspace.get("dependencies"))
    for table in tables:
        if tables_only:
            yield from _named_tables(table)
        elif isinstance(table, Mapping):
            yield from table.items()


def _tables(value: Any) -> Iterator[Mapping[str, Any]]:
    """The table values of a TOML table; anything else (a version string, nothing) yields none."""
    for _, table in _named_tables(value):
        yield table


def _named_tables(value: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(value, Mapping):
        yield from ((k, v) for k, v in value.items() if isinstance(v, Mapping))
