"""Writing the record of a successful `embly build` that up_to_date.py checks the next one by."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from embly_build.atomic_write import write_atomically
from embly_build.client.config.project import CONFIG_FILE_NAME, ProjectConfig
from embly_build.client.inputs.gitignore import info_exclude_sources
from embly_build.client.inputs.index import FunctionInputs
from embly_build.client.records.record_files import files_in, remove_files
from embly_build.client.records.up_to_date import (
    RACY_WINDOW_NS,
    Report,
    StatKey,
    encode_record,
    record_is_current,
    record_path,
    records_dir,
    stat_key,
)
from embly_build.client.session.events import BuildFinished
from embly_build.home_paths import config_file_path

# Files in a directory above the inputs that decide what the inputs are: ignore rules, the
# repository they belong to, an enclosing cargo workspace.
_DECIDING_NAMES = (".gitignore", ".git", "Cargo.toml")


@dataclass(frozen=True)
class FinishedRun:
    """An `embly build` that has ended, as much of it as its record needs."""

    key: bytes  # up_to_date.invocation_key of its command line
    started_ns: int  # time.time_ns() before embly.hcl was looked for
    search_start: Path  # where embly.hcl was looked for from
    config: ProjectConfig
    inputs: Mapping[str, FunctionInputs]  # by function
    results: Sequence[BuildFinished]
    report: Report  # what it printed, to be printed again (cli/commands/up_to_date_report.py)
    # What else the results depended on (toolchains, code); listed while the record is made,
    # so that a failure to list them only means no record.
    environment: Callable[[], Iterable[Path]]


def record_run(run: FinishedRun, home: Path) -> bool:
    """Record `run` for the next identical command, when it can vouch for everything its
    results depended on; else remove the record an earlier run left. Whether it recorded."""
    target = Path(record_path(run.key, str(home)))
    checks = _checks(run) if _recordable(run) else None
    try:
        if checks is None:
            target.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, encode_record(run.key, checks, run.report))
    except OSError:
        with contextlib.suppress(OSError):  # only an optimisation: the next run builds
            target.unlink(missing_ok=True)
        return False
    return True


def code_paths() -> list[Path]:
    """The code that makes the artifacts: this package's modules and wasmtime's."""
    package = Path(__file__).resolve().parents[1]
    modules = sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    # Found, not imported: importing wasmtime takes longer than a cache-hit build's record.
    spec = importlib.util.find_spec("wasmtime")
    if spec is None or spec.origin is None:
        raise OSError("wasmtime is not installed")
    wasmtime_dir = Path(spec.origin).resolve().parent
    return [*modules, wasmtime_dir, wasmtime_dir / "__init__.py"]


def _recordable(run: FinishedRun) -> bool:
    return (
        bool(run.results)
        and all(r.ok and not r.optimising for r in run.results)
        and {r.function for r in run.results} == set(run.inputs)
    )


def _checks(run: FinishedRun) -> list[tuple[str, StatKey]] | None:
    """Each dependency with its stat now; None when one changed too recently to vouch for."""
    checks: dict[str, StatKey] = {}
    racy_from = run.started_ns - RACY_WINDOW_NS
    try:
        for path in _dependencies(run):
            if path not in checks:
                key = checks[path] = stat_key(path)
                if key is not None and key[1] >= racy_from:
                    return None
        for result in run.results:  # written by this run: their stat is as it left them
            for artifact in result.artifacts.values():
                checks[artifact] = stat_key(artifact)
    except OSError:
        return None
    return list(checks.items())


def _dependencies(run: FinishedRun) -> Iterator[str]:
    config = run.config
    start = run.search_start.resolve()
    for directory in (start, *start.parents):
        if directory == config.root:
            break
        yield str(directory / CONFIG_FILE_NAME)  # absent, or the search would stop there
    yield str(config.config_file)
    yield config_file_path()
    above: set[Path] = {config.root}
    for inputs in run.inputs.values():
        for directory in inputs.directories:
            yield str(directory)
            yield str(directory / ".gitignore")
        for file in inputs.files:
            yield file.location
        for single in inputs.input_files:
            yield str(single)
        above.update(inputs.input_dirs)
        above.update(single.parent for single in inputs.input_files)
    yield from _deciding_files_above(above)
    yield from map(str, run.environment())


def _deciding_files_above(directories: Iterable[Path]) -> Iterator[str]:
    seen: set[Path] = set()
    for directory in directories:
        for parent in (directory, *directory.parents):
            if parent in seen:
                continue
            seen.add(parent)
            for name in _DECIDING_NAMES:
                yield str(parent / name)
            if (parent / ".git").exists():
                yield from map(str, info_exclude_sources(parent))


def remove_outdated_records(home: Path, *, dry_run: bool = False) -> tuple[int, int]:
    """Remove the records under `home` that can no longer answer (and any left half
    written); how many, and the bytes they took on disk. With `dry_run`, remove nothing."""
    records = files_in(records_dir(str(home)))
    return remove_files((r for r in records if not record_is_current(r.path)), dry_run=dry_run)
