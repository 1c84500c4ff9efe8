"""embly.hcl: find it, parse it, and check everything the build relies on before it starts."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embly_build.client.config.hcl_cache import parse_hcl_cached
from embly_build.client.config.hcl_checks import (
    StringAttribute,
    block_name,
    check_attribute_names,
    check_references,
    check_top_level,
    describe,
    is_string_list,
    quoted,
    required_string,
)
from embly_build.client.config.hcl_model import Block, Body
from embly_build.errors import ConfigError, SourceLocation, UsageError
from embly_build.server.runtimes import RUNTIMES

KNOWN_RUNTIMES: tuple[str, ...] = tuple(RUNTIMES)
CONFIG_FILE_NAME = "embly.hcl"
OUTPUT_DIR_NAME = "embly_build"  # <project>/embly_build/ holds outputs

_FUNCTION_ATTRIBUTES = ("runtime", "path", "sources")
_FILES_ATTRIBUTES = ("path",)
# Function names become file names: embly_build/<name>.wasm.
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    runtime: str
    path: Path  # absolute, resolved crate directory
    sources: tuple[Path, ...]  # absolute, resolved extra directories (may be outside the project)
    location: SourceLocation  # where the block starts in embly.hcl


@dataclass(frozen=True)
class FilesConfig:
    name: str
    path: Path  # absolute, resolved
    location: SourceLocation


@dataclass(frozen=True)
class ProjectConfig:
    root: Path  # absolute directory that holds embly.hcl
    config_file: Path  # absolute path of embly.hcl
    functions: dict[str, FunctionConfig]  # in file order
    files: dict[str, FilesConfig]
    # Gateway and database blocks in python-hcl2's dict shape: the block body, nested one
    # level per label (`database "vinyl" "main" {...}` -> {"vinyl": {"main": {...}}}).
    gateways: tuple[dict[str, Any], ...]
    databases: tuple[dict[str, Any], ...]
    dependencies: tuple[str, ...]

    @property
    def output_dir(self) -> Path:
        return self.root / OUTPUT_DIR_NAME

    def select(self, names: Sequence[str]) -> list[FunctionConfig]:
        """The named functions (each once, in the order given); all of them when names is empty.
        A single name given as a string is that one function, not a list of letters."""
        if isinstance(names, str):
            names = [names]
        if not self.functions:
            raise ConfigError(
                f"{self.config_file} declares no function, so there is nothing to build;"
                ' add a block such as: function "hello" { runtime = "rust"  path = "./hello" }'
            )
        if not names:
            return list(self.functions.values())
        unknown = [name for name in dict.fromkeys(names) if name not in self.functions]
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            listed = ", ".join(map(quoted, unknown))
            known = ", ".join(self.functions)
            raise UsageError(f"unknown function{plural} {listed}; known functions: {known}")
        return [self.functions[name] for name in dict.fromkeys(names)]


def find_config(start: Path) -> Path:
    """Search `start` and its parents for embly.hcl, like git finds .git."""
    start = start.resolve()
    if not start.is_dir():
        what = "is not a directory" if start.exists() else "does not exist"
        raise ConfigError(f"{start} {what}: give --project the directory of an embly project")
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE_NAME
        if _is_file(candidate):
            return candidate
    raise ConfigError(
        f"no {CONFIG_FILE_NAME} found in {start} or any parent directory;"
        " run embly from inside an embly project or pass --project DIR"
    )


def _is_file(path: Path) -> bool:
    """Like Path.is_file, but an unreadable directory on the way counts as 'no file'."""
    try:
        return path.is_file()
    except OSError:
        return False


def load_project(config_file: Path) -> ProjectConfig:
    """Parse and validate. Every error is a ConfigError with a SourceLocation (file, line, column).

    The one exception: a file that cannot be read at all has no location.
    """
    # Resolve the directory but not the file, so a symlinked embly.hcl keeps its project.
    root = Path(os.path.abspath(config_file)).parent.resolve()
    config_file = root / config_file.name
    body = parse_hcl_cached(_read(config_file), config_file)
    check_top_level(body)
    functions = _functions(body, root)
    files = _files(body, root)
    check_references(body, functions)
    return ProjectConfig(
        root=root,
        config_file=config_file,
        functions=functions,
        files=files,
        gateways=tuple(block.to_data() for block in body.blocks_of("gateway")),
        databases=tuple(block.to_data() for block in body.blocks_of("database")),
        dependencies=_dependencies(body),
    )


def _read(config_file: Path) -> str:
    try:
        data = config_file.read_bytes()
    except FileNotFoundError:
        # Found a moment ago (or by a watch at its start): it was removed or renamed since.
        raise ConfigError(f"{config_file} no longer exists; restore it") from None
    except OSError as error:
        raise ConfigError(
            f"cannot read {config_file}: {error.strerror or error};"
            f" check that it is a readable {CONFIG_FILE_NAME} file"
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start : error.start].decode("utf-8", "replace")) + 1
        location = SourceLocation(config_file, data.count(b"\n", 0, error.start) + 1, column)
        raise ConfigError(
            f"{CONFIG_FILE_NAME} is not valid UTF-8; save it as UTF-8", location
        ) from None


def _functions(body: Body, root: Path) -> dict[str, FunctionConfig]:
    functions: dict[str, FunctionConfig] = {}
    for block in body.blocks_of("function"):
        name = block_name(block)
        if not _FUNCTION_NAME.fullmatch(name):
            raise ConfigError(
                f"function name {quoted(name)} cannot be used: function names become file names"
                f" ({OUTPUT_DIR_NAME}/NAME.wasm); use only letters, digits, '_' and '-'"
                " (not '-' first)",
                block.location,
            )
        _check_new_name(block, name, functions)
        functions[name] = _function(block, name, root)
    return functions


def _function(block: Block, name: str, root: Path) -> FunctionConfig:
    check_attribute_names(block, name, _FUNCTION_ATTRIBUTES)
    runtime = required_string(block, name, "runtime", '"rust"')
    if runtime.value not in KNOWN_RUNTIMES:
        raise ConfigError(
            f"unknown runtime {quoted(runtime.value)} for function {quoted(name)};"
            f' known runtimes: {", ".join(KNOWN_RUNTIMES)}; set `runtime = "rust"`',
            runtime.location,
        )
    path = required_string(block, name, "path", f'"./{name}"')
    return FunctionConfig(
        name=name,
        runtime=runtime.value,
        path=_crate_dir(path, name, root),
        sources=_sources(block, name, root),
        location=block.location,
    )


def _crate_dir(path: StringAttribute, name: str, root: Path) -> Path:
    what = f"path {quoted(path.value)} of function {quoted(name)}"
    crate = _resolve_existing(path.value, path.location, what, root, directory=True)
    if not _is_file(crate / "Cargo.toml"):
        raise ConfigError(
            f"path {quoted(path.value)} of function {quoted(name)} has no Cargo.toml ({crate});"
            " point `path` at the Rust crate directory, the one holding Cargo.toml",
            path.location,
        )
    return crate


def _sources(block: Block, name: str, root: Path) -> tuple[Path, ...]:
    sources = block.body.attributes.get("sources")
    if sources is None:
        return ()
    if not is_string_list(sources):
        raise ConfigError(
            f"`sources` of function {quoted(name)} must be a list of quoted strings, e.g."
            f' `sources = ["../lib"]`; got {describe(sources)}',
            sources.location,
        )
    return tuple(
        _resolve_existing(
            source,
            sources.location,
            f"source {quoted(source)} of function {quoted(name)}",
            root,
            directory=True,
        )
        for source in sources.value
    )


def _resolve_existing(
    raw: str, location: SourceLocation, what: str, root: Path, directory: bool
) -> Path:
    try:
        resolved = (root / raw).resolve()
        if not resolved.exists():
            problem, fix = "does not exist", "create it or fix the path"
        elif directory and not resolved.is_dir():
            problem, fix = "is not a directory", "point it at a directory"
        else:
            return resolved
    # ValueError: a NUL character; RuntimeError: a symlink loop (Python < 3.13).
    except (OSError, ValueError, RuntimeError) as error:
        raise ConfigError(f"{what} cannot be used: {error}; fix the path", location) from None
    raise ConfigError(
        f"{what} {problem} ({resolved}); {fix} (relative paths start at the directory"
        f" of {CONFIG_FILE_NAME})",
        location,
    )


def _files(body: Body, root: Path) -> dict[str, FilesConfig]:
    files: dict[str, FilesConfig] = {}
    for block in body.blocks_of("files"):
        name = block_name(block)
        _check_new_name(block, name, files)
        check_attribute_names(block, name, _FILES_ATTRIBUTES)
        path = required_string(block, name, "path", f'"./{name}"')
        what = f"path {quoted(path.value)} of files {quoted(name)}"
        resolved = _resolve_existing(path.value, path.location, what, root, directory=False)
        files[name] = FilesConfig(name=name, path=resolved, location=block.location)
    return files


def _check_new_name(
    block: Block, name: str, seen: Mapping[str, FunctionConfig | FilesConfig]
) -> None:
    earlier = seen.get(name)
    if earlier is not None:
        raise ConfigError(
            f"duplicate {block.type} {quoted(name)} (first declared at line"
            f" {earlier.location.line}); rename or remove one of them",
            block.location,
        )


def _dependencies(body: Body) -> tuple[str, ...]:
    attribute = body.attributes.get("dependencies")
    if attribute is None:
        return ()
    if not is_string_list(attribute):
        raise ConfigError(
            "`dependencies` must be a list of quoted strings, e.g."
            f' `dependencies = ["embly/http"]`; got {describe(attribute)}',
            attribute.location,
        )
    return tuple(attribute.value)
