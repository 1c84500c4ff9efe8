"""The local crates a crate depends on through `path = ...`: they are inputs of its build."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from embly_build.errors import InputError

_DEPENDENCY_TABLES = (
    "dependencies",
    "dev-dependencies",
    "build-dependencies",
    # Older spellings cargo still accepts.
    "dev_dependencies",
    "build_dependencies",
)


def local_path_dependencies(crate_dir: Path) -> list[Path]:
    """Resolved directories of every local path dependency of the crate, transitively.

    First seen first, no duplicates, the crate itself excluded.
    """
    crate = crate_dir.resolve()
    found: dict[Path, None] = {}
    pending = [crate]
    while pending:
        manifest = pending.pop(0) / "Cargo.toml"
        for dependency in _declared_paths(manifest):
            if dependency != crate and dependency not in found:
                found[dependency] = None
                pending.append(dependency)
    return list(found)


def _declared_paths(manifest: Path) -> Iterator[Path]:
    """The resolved `path` of every dependency entry in one Cargo.toml, in file order."""
    data = _read_manifest(manifest)
    for entry in _dependency_entries(data):
        path = entry.get("path")
        if path is None:
            continue
        if not isinstance(path, str):
            raise InputError(f"{manifest}: a dependency's `path` must be a string, not {path!r}")
        directory = (manifest.parent / path).resolve()
        if not (directory / "Cargo.toml").is_file():
            raise InputError(
                f"{manifest}: path dependency {path!r} has no Cargo.toml at {directory}; "
                "fix the path or create the crate"
            )
        yield directory


def _dependency_entries(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every table-valued dependency entry: plain, per target, [patch.*], [replace],
    and [workspace.dependencies]. Entry keys may rename (`package = "x"`); only `path` matters."""
    tables: list[Any] = [data.get(name) for name in _DEPENDENCY_TABLES]
    for target in _tables(data.get("target")):
        tables.extend(target.get(name) for name in _DEPENDENCY_TABLES)
    tables.extend(_tables(data.get("patch")))
    tables.append(data.get("replace"))
    workspace = data.get("workspace")
    if isinstance(workspace, Mapping):
        tables.append(workspace.get("dependencies"))
    for table in tables:
        yield from _tables(table)


def _tables(value: Any) -> Iterator[Mapping[str, Any]]:
    """The table values of a TOML table; anything else (a version string, nothing) yields none."""
    if isinstance(value, Mapping):
        yield from (v for v in value.values() if isinstance(v, Mapping))


def _read_manifest(manifest: Path) -> dict[str, Any]:
    try:
        with manifest.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError as exc:
        raise InputError(f"{manifest} does not exist; a function's crate needs one") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{manifest} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise InputError(f"cannot read {manifest}: {exc.strerror}") from exc
