"""The source replacements a build reads must be among its inputs.

A `cargo vendor` layout replaces crates.io with a directory (`directory = "vendor"` in
`.cargo/config.toml`). In place, cargo reads the crates there; in a build space it finds only
what was sent, and a directory left out fails the build with a message about the missing
directory or, with the configuration unseen, about a registry it cannot reach. So a crate
with registry dependencies is checked before anything is uploaded: each directory that
replaces a registry exists, lies in one of the function's input directories and is not
ignored away, or the error names the config file, the directory and what to add to
`sources`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from embly_build.client.inputs.cargo_config import NamedSource
from embly_build.client.inputs.walk import IndexedFile
from embly_build.errors import InputError


def require_among_inputs(
    sources: Sequence[NamedSource], dirs: Sequence[Path], crate: Path, project_root: Path
) -> None:
    """Each source directory exists and lies in one of `dirs` (resolved input directories)."""
    for source in sources:
        if not source.directory.is_dir():
            raise InputError(
                f"{source.describe()} names {source.directory}, which is not a directory; "
                f"the crate {crate} has registry dependencies that cargo takes from there: "
                "run `cargo vendor` to fill it, or fix the path"
            )
        if not any(source.directory.is_relative_to(d) for d in dirs):
            suggested = _as_source(source.directory, project_root)
            raise InputError(
                f"{source.describe()} names {source.directory}, which is not among the inputs "
                f"of the function in {crate}, so cargo would not find the crates it replaces; "
                f'add "{suggested}" to the function\'s `sources` in embly.hcl'
            )


def require_indexed(sources: Sequence[NamedSource], files: Sequence[IndexedFile]) -> None:
    """Each source directory has input files: ignore rules did not take them all."""
    for source in sources:
        prefix = os.path.join(source.directory, "")
        if not any(file.location.startswith(prefix) for file in files):
            raise InputError(
                f"{source.describe()} names {source.directory}, but none of its files is an "
                "input: an ignore rule (a .gitignore, .git/info/exclude) leaves them out; "
                "commit the vendored crates or remove the rule that ignores them"
            )


def _as_source(directory: Path, project_root: Path) -> str:
    """How `sources` in embly.hcl (relative to its directory) names `directory`."""
    relative = os.path.relpath(directory, project_root)
    return relative if relative.startswith("..") else f"./{relative}"
