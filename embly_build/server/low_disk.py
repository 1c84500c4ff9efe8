"""A hint for a build that failed with little disk space left: tools then fail in ways that
do not say so (the linker dies of SIGBUS writing a memory-mapped output, cargo reports a
broken file), and the user would look for the cause in the code."""

from __future__ import annotations

import shutil
from pathlib import Path

from embly_build.server.sizes import format_size

# Below this much free space a failure is likely to be the disk's: one function's cargo
# target directory alone takes tens of megabytes.
LOW_DISK_BYTES = 100 * 2**20


def low_disk_hint(where: Path) -> str | None:
    """What to do about the disk holding `where`, when it is nearly full; else None."""
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return None
    if free >= LOW_DISK_BYTES:
        return None
    return (
        f"the disk holding {where} has only {format_size(free)} free, which can make cargo, "
        "the linker and the wasm tools fail (a linker killed by SIGBUS, files reported "
        "broken): free disk space there or run `embly gc --max-size SIZE`, then build again"
    )
