"""The files a provisioned toolchain is trusted by.

While none of them has changed (and the environment is the same), provisioning again gives
the same toolchain: the GC roots and their records, the host tools a record names and the
directories of the search path they were found on (a tool installed there changes them), and
the Nix expressions.
"""

from __future__ import annotations

import os
from pathlib import Path

from embly_build.server.toolchains.host_record import recorded_tools


def toolchain_state_paths(embly_home: Path, nixexprs_dir: Path, search_path: str) -> list[Path]:
    gcroots = embly_home / "gcroots"
    paths = [gcroots]
    try:
        entries = sorted(gcroots.iterdir())
    except OSError:
        entries = []
    for entry in entries:
        paths.append(entry)
        if entry.suffix == ".json":
            paths.extend(recorded_tools(entry))
    paths.extend(Path(directory or ".").absolute() for directory in search_path.split(os.pathsep))
    paths.extend(sorted(p for p in nixexprs_dir.rglob("*") if p.is_file()))
    return paths
