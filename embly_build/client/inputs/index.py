"""The file index of one function: every input file with its sha256, relative to one root."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from embly_build.client.inputs.cancellation import Cancellation
from embly_build.client.inputs.cargo_deps import cargo_inputs
from embly_build.client.inputs.collector_paused import collector_paused
from embly_build.client.inputs.ignore import IgnoreFilter, ignoring_rule, input_filter
from embly_build.client.inputs.input_warnings import printable
from embly_build.client.inputs.stat_cache import StatCache, default_stat_cache_path
from embly_build.client.inputs.vendored_sources import require_among_inputs, require_indexed
from embly_build.client.inputs.walk import IndexCounters, IndexedFile, WalkedDirectory, Walker
from embly_build.errors import InputError


@dataclass(frozen=True)
class FunctionInputs:
    root: Path  # common ancestor of all input directories
    crate_dir: str  # the function's crate directory relative to root ('.' if equal)
    input_dirs: tuple[Path, ...]  # crate dir, each `sources` dir, each local path dependency
    files: tuple[IndexedFile, ...]  # sorted by `path`
    # Single files outside those directories: an enclosing cargo workspace's root files.
    input_files: tuple[Path, ...] = ()
    # Every directory walked (the input directories and their subdirectories that are not
    # ignored), for a watcher. Not part of what was indexed: an empty directory is no input.
    directories: tuple[Path, ...] = field(default=(), compare=False)
    # Each directory walked, by its absolute path: what a re-index may take again.
    walked: Mapping[str, WalkedDirectory] = field(default_factory=dict, compare=False, repr=False)


def index_function(
    crate_dir: Path,
    sources: Sequence[Path],
    output_dir: Path,
    *,
    stat_cache: StatCache | None = None,
    counters: IndexCounters | None = None,
    previous: FunctionInputs | None = None,
    cancellation: Cancellation | None = None,
) -> FunctionInputs:
    """Index a function's inputs. With `stat_cache`, a file whose stat matches its cached
    entry takes the cached sha256 without being read. `counters` count the files indexed and
    the bytes read, as they go. What is as `previous` found it is given as the objects it
    holds (see `Walker.earlier`). Once `cancellation` is requested, IndexCancelled is
    raised within a moment."""
    crate = _existing_dir(crate_dir)
    project_root = output_dir.resolve().parent
    cargo = cargo_inputs(crate, project_root)
    dirs = tuple(dict.fromkeys([crate, *map(_existing_dir, sources), *cargo.crates]))
    single = tuple(f for f in cargo.files if not any(f.is_relative_to(d) for d in dirs))
    require_among_inputs(cargo.sources, dirs, crate, project_root)
    root = Path(os.path.commonpath([*dirs, *(f.parent for f in single)]))
    rounds = stat_cache.indexing(root) if stat_cache is not None else nullcontext(None)
    with collector_paused(), rounds as cache:  # objects per file, all kept
        ignored = input_filter(dirs, output_dir)
        walker = Walker(root, dirs, ignored, cache, counters, cancellation)
        if previous is not None:
            walker.earlier = previous.walked
        inputs = _walked_inputs(walker, crate.relative_to(root).as_posix(), single)
    _require_manifests((crate, *cargo.crates), inputs.files, ignored)
    require_indexed(cargo.sources, inputs.files)
    return inputs


def reindex_function(
    previous: FunctionInputs,
    rescan: Iterable[str],
    rewalk: Iterable[str],
    output_dir: Path,
    *,
    stat_cache: StatCache | None = None,
    counters: IndexCounters | None = None,
    cancellation: Cancellation | None = None,
) -> FunctionInputs:
    """Index a function again, listing only the directories in `rescan`, those below each
    of `rewalk`, the volatile ones and any not walked before; every other directory's files
    are taken from `previous` unread and unlisted. Right only when nothing else changed
    since `previous` (a file-system monitor says so) and neither the ignore rules nor the
    crates' manifests did: the caller decides (see `embly_build.client.inputs.reindex`)."""
    rescan, rewalk = frozenset(rescan), tuple(os.path.join(d, "") for d in rewalk)
    dirs = previous.input_dirs
    listed = [*rescan, *(str(f.parent) for f in previous.input_files)]
    rounds = (
        stat_cache.indexing(*rewalk, directories=listed)
        if stat_cache is not None
        else nullcontext(None)
    )
    with collector_paused(), rounds as cache:  # objects per file, all kept
        ignored = input_filter(dirs, output_dir)
        walker = Walker(previous.root, dirs, ignored, cache, counters, cancellation)
        walker.earlier = previous.walked
        walker.reusable = {
            directory: walked
            for directory, walked in previous.walked.items()
            if not walked.volatile
            and directory not in rescan
            and not os.path.join(directory, "").startswith(rewalk)
        }
        return _walked_inputs(walker, previous.crate_dir, previous.input_files)


def index_with_stat_cache(
    crate_dir: Path,
    sources: Sequence[Path],
    output_dir: Path,
    counters: IndexCounters | None = None,
    previous: FunctionInputs | None = None,
    cancellation: Cancellation | None = None,
) -> FunctionInputs:
    """`index_function` backed by the persistent stat cache under EMBLY_HOME, so files
    unchanged since any earlier index (in any process) are not read again."""
    with StatCache(default_stat_cache_path()) as cache:
        return index_function(
            crate_dir,
            sources,
            output_dir,
            stat_cache=cache,
            counters=counters,
            previous=previous,
            cancellation=cancellation,
        )


def _walked_inputs(walker: Walker, crate_dir: str, single: tuple[Path, ...]) -> FunctionInputs:
    """Walk the inputs and say what was found."""
    walker.walk_inputs(single)
    return FunctionInputs(
        root=walker.root,
        crate_dir=crate_dir,
        input_dirs=walker.dirs,
        files=tuple(walker.files),
        input_files=single,
        directories=tuple(map(Path, walker.directories)),
        walked=walker.walked,
    )


def _require_manifests(
    crates: Sequence[Path], files: Sequence[IndexedFile], ignored: IgnoreFilter
) -> None:
    """Each crate's Cargo.toml is among the inputs, or an error says which rule leaves it out
    (a whitelist `.gitignore` that does not name the function's directory, say): the build
    server would only find it missing."""
    indexed = {f.location for f in files}
    for crate in crates:
        manifest = crate / "Cargo.toml"
        if str(manifest) not in indexed and manifest.is_file():
            raise InputError(_left_out(manifest, ignored))


def _left_out(manifest: Path, ignored: IgnoreFilter) -> str:
    """Why a crate's Cargo.toml is not an input, and what to do."""
    shown = printable(str(manifest))
    found = ignoring_rule(ignored, manifest)
    if found is None:
        return f"{shown} is left out of the function's inputs; check the ignore rules above it"
    entry, rule, base = found
    relative = printable("/" + entry.relative_to(base).as_posix())
    if entry == manifest:
        what, keep = "it, so git does not list it", f"it with `!{relative}`"
    else:
        what = f"{printable(str(entry))}, so git lists nothing in it"
        keep = f"its files with `!{relative}/` and `!{relative}/**`"
    return (
        f"{shown} is ignored: {rule} ignores {what} and the function's inputs leave it out; "
        f"to build the function, un-ignore {keep} after that line, or remove the rule"
    )


def _existing_dir(directory: Path) -> Path:
    resolved = directory.resolve()
    if not resolved.exists():
        raise InputError(
            f"{directory} does not exist; restore it, or fix the function's `path` or "
            f"`sources` in embly.hcl"
        )
    if not resolved.is_dir():
        raise InputError(f"{directory} is not a directory; a function's inputs must be directories")
    return resolved
