"""Sizes as users write them (`500M`, `10G`, `2GiB`, `1500000`), as we print them, and as
a tree occupies them on disk.

K, M, G, T (alone or as KiB, MiB, GiB, TiB) are powers of 1024; KB, MB, GB, TB are powers
of 1000, as in GNU coreutils.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from embly_build.errors import UsageError

_BINARY = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}
_SIZE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(?:([KMGT])(i?B)?|B)?", re.IGNORECASE)
_UNITS = ("KiB", "MiB", "GiB", "TiB")


def parse_size(text: str) -> int:
    """A size in bytes; `UsageError` naming the accepted forms when `text` is not one."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise UsageError(
            f"invalid size {text!r}: give bytes or a number with a unit, e.g. 500M, 10G, "
            "2GiB (K, M, G, T are powers of 1024; KB, MB, GB, TB powers of 1000)"
        )
    number, prefix, suffix = match.groups()
    prefix = (prefix or "").upper()
    base = 1000 if suffix is not None and suffix.upper() == "B" else 1024
    return int(float(number) * base ** _BINARY[prefix])


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in _UNITS[:-1]:
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_UNITS[-1]}"


def disk_usage(root: Path) -> int:
    """Bytes a file or tree occupies on disk, each hard-linked file counted once."""
    try:
        total = root.lstat().st_blocks * 512
    except FileNotFoundError:
        return 0
    seen: set[tuple[int, int]] = set()
    pending = [root] if root.is_dir() and not root.is_symlink() else []
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                pending.append(Path(entry.path))
            elif info.st_nlink > 1:
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total
