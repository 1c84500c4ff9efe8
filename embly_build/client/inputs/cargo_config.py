"""The cargo configuration a crate is built with, as cargo reads it in place.

Cargo reads `.cargo/config.toml` (`.cargo/config` instead when both exist) in the directory
it runs in and in each directory above, then `$CARGO_HOME/config.toml`. A project's own
configuration is what lies in the crate's directory and its ancestors: `cargo vendor` run
at the project root asks for a source replacement in the root's `.cargo/config.toml`, next
to `vendor/`. Those files, up to the project's directory or its git repository's root,
whichever is higher (a monorepo's configuration sits at the repository's root), are inputs
of the function. Above that, and `$CARGO_HOME` wherever it is, are the user's machine
settings (linkers, registry tokens): never sent to a build.

What the files name is then needed too: `[patch]` and `paths` crates are inputs, found like
path dependencies; a `directory` or `local-registry` source that replaces a registry holds
the crates the registry would give, and must lie among the function's inputs when the crate
has registry dependencies (see `vendored_sources.py`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embly_build.client.inputs.gitignore import repository_of
from embly_build.errors import InputError

# In one directory cargo reads `config` when both exist (and warns about it).
CONFIG_NAMES = ("config", "config.toml")
_SOURCE_KEYS = ("directory", "local-registry")


@dataclass(frozen=True)
class NamedSource:
    """A source replacement's directory, as one config file names it."""

    config: Path  # the file that names it
    table: str  # `[source.NAME]`
    key: str  # `directory` or `local-registry`
    value: str  # as written
    directory: Path  # resolved: relative to the directory holding `.cargo`

    def describe(self) -> str:
        return f'{self.config}: {self.table} {self.key} = "{self.value}"'


@dataclass(frozen=True)
class CargoConfig:
    files: tuple[Path, ...]  # outermost first
    crates: tuple[Path, ...]  # resolved `[patch]` and `paths` crates
    sources: tuple[NamedSource, ...]  # directories that replace a registry


def cargo_config(crate: Path, project_root: Path | None) -> CargoConfig:
    """The configuration cargo reads building `crate` (resolved) in place, within the top
    described in the module's doc."""
    files = config_files(crate, config_top(crate, project_root))
    parsed = [(file, _read(file)) for file in files]
    crates: dict[Path, None] = {}
    for file, data in parsed:
        crates.update(dict.fromkeys(_named_crates(file, data)))
    return CargoConfig(tuple(files), tuple(crates), tuple(_replacing_sources(parsed)))


def config_files(crate: Path, top: Path) -> list[Path]:
    """The config files in `crate` and its ancestors up to `top`, outermost first, without
    the one in `$CARGO_HOME`."""
    cargo_home = _cargo_home()
    found = []
    for directory in (crate, *crate.parents):
        if not directory.is_relative_to(top):
            break
        dot_cargo = directory / ".cargo"
        if cargo_home is not None and dot_cargo == cargo_home:
            continue
        for name in CONFIG_NAMES:
            if (dot_cargo / name).is_file():
                found.append(dot_cargo / name)
                break
    return found[::-1]


def config_top(crate: Path, project_root: Path | None) -> Path:
    """Where the search for the config files of `crate` (resolved) ends: the highest of its
    git repository's root and the project's directory, of those that hold the crate; the
    crate's own directory when neither does."""
    candidates = [crate]
    repository = repository_of(crate)
    if repository is not None:
        candidates.append(repository)
    if project_root is not None and crate.is_relative_to(project_root):
        candidates.append(project_root)
    return min(candidates, key=lambda path: len(path.parts))


def _cargo_home() -> Path | None:
    configured = os.environ.get("CARGO_HOME")
    try:
        home = Path(configured) if configured else Path.home() / ".cargo"
        return home.resolve()
    except (OSError, RuntimeError):  # no home directory to speak of
        return None


def _read(file: Path) -> Mapping[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{file} is not valid TOML: {exc}; cargo would refuse it too") from exc
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from exc


def _base(file: Path) -> Path:
    """What paths in a config file are relative to: the directory holding its `.cargo`."""
    return file.parent.parent


def _named_crates(file: Path, data: Mapping[str, Any]) -> Iterator[Path]:
    """The crates of `[patch.REGISTRY]` path entries and of `paths` overrides."""
    named: list[tuple[str, Any]] = []
    patch = data.get("patch")
    if isinstance(patch, Mapping):
        for registry, table in patch.items():
            if isinstance(table, Mapping):
                named.extend(
                    (f"[patch.{registry}] {name}", entry.get("path"))
                    for name, entry in table.items()
                    if isinstance(entry, Mapping) and "path" in entry
                )
    paths = data.get("paths")
    if isinstance(paths, list):
        named.extend(("paths", path) for path in paths)
    for where, path in named:
        if not isinstance(path, str):
            raise InputError(f"{file}: {where}: a path must be a string, not {path!r}")
        directory = (_base(file) / path).resolve()
        if not (directory / "Cargo.toml").is_file():
            raise InputError(
                f"{file}: {where} names {path!r}, which has no Cargo.toml at {directory}; "
                "fix the path or create the crate"
            )
        yield directory


def _replacing_sources(parsed: list[tuple[Path, Mapping[str, Any]]]) -> Iterator[NamedSource]:
    """The directory sources some `replace-with` points to, as the nearest file that sets
    each key says (cargo merges the files, a nearer one winning)."""
    merged: dict[str, dict[str, tuple[Path, Any]]] = {}
    for file, data in parsed:
        sources = data.get("source")
        if not isinstance(sources, Mapping):
            continue
        for name, table in sources.items():
            if isinstance(table, Mapping):
                merged.setdefault(name, {}).update((k, (file, v)) for k, v in table.items())
    targets = set()
    for table in merged.values():
        _, target = table.get("replace-with", (None, None))
        if isinstance(target, str):
            targets.add(target)
    for name in sorted(targets):
        table = merged.get(name, {})
        for key in _SOURCE_KEYS:
            if key not in table:
                continue
            file, value = table[key]
            if not isinstance(value, str):
                raise InputError(f"{file}: [source.{name}] {key} must be a string, not {value!r}")
            directory = (_base(file) / value).resolve()
            yield NamedSource(file, f"[source.{name}]", key, value, directory)
