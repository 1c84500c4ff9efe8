"""A hint for a build that failed with little disk space left: tools then fail in ways that
do not say so (the linker dies of SIGBUS writing a memory-mapped output, cargo reports a
broken file), and the user would look for the cause in the code. Running out of inodes
(room for files, whatever their size) looks the same and gets a hint too."""

from __future__ import annotations

import os
from pathlib import Path

from embly_build.server.sizes import format_size

# Below this much free space a failure is likely to be the disk's: one function's cargo
# target directory alone takes tens of megabytes.
LOW_DISK_BYTES = 100 * 2**20
# A build writes a few thousand files (sources, cargo's target directory, temporary files).
LOW_DISK_FILES = 5000


def low_disk_hint(where: Path) -> str | None:
    """What to do about the disk holding `where`, when it is nearly full; else None."""
    try:
        disk = os.statvfs(where)
    except OSError:
        return None
    free = disk.f_bavail * disk.f_frsize
    if free < LOW_DISK_BYTES:
        room = f"only {format_size(free)} free"
    elif disk.f_files and disk.f_favail < LOW_DISK_FILES:  # f_files 0: no inode limit
        room = f"room for only {disk.f_favail} more files (inodes)"
    else:
        return None
    return (
        f"the disk holding {where} has {room}, which can make cargo, the linker and the "
        "wasm tools fail (a linker killed by SIGBUS, files reported broken): free disk "
        "space there or run `embly gc --max-size SIZE`, then build again"
    )
