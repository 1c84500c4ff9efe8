"""Where to watch a function whose inputs cannot be indexed, so that its fix is seen."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from embly_build.client.inputs.cancellation import Cancellation
from embly_build.client.inputs.ignore import input_filter
from embly_build.client.inputs.walk import outermost
from embly_build.errors import InputError


def listable_directories(
    dirs: Sequence[Path], output_dir: Path, cancellation: Cancellation | None = None
) -> tuple[Path, ...]:
    """`dirs` and every directory below them that the ignore rules keep and that can be
    listed, found without reading a file or following a symlink. A problem anywhere in a
    function's inputs (a file that cannot be read, a name that is not UTF-8) is in one of
    these, or in one that could not be listed, whose fix is an event in its parent. Once
    `cancellation` is requested, IndexCancelled is raised before the next directory."""
    try:
        ignored = input_filter(dirs, output_dir)
    except (InputError, OSError):  # an unreadable .gitignore: its directory is found anyway
        return tuple(dirs)
    found: list[Path] = []
    pending = [str(d) for d in outermost(dirs)]
    while pending:
        if cancellation is not None:
            cancellation.check()
        directory = pending.pop()
        found.append(Path(directory))
        subdirs: list[str] = []
        others: list[str] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    (subdirs if is_dir else others).append(entry.name)
        except OSError:
            continue
        skipped = ignored.ignored_entries(directory, subdirs, others)
        pending.extend(os.path.join(directory, n) for n in subdirs if n not in skipped)
    return tuple(found)
