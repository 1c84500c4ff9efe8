"""Files and crates laid out by the client tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def write(path: Path, data: bytes | str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def crate(directory: Path, manifest: str = "") -> Path:
    """A library crate named after its directory; `manifest` is appended to its Cargo.toml."""
    write(directory / "Cargo.toml", f'[package]\nname = "{directory.name}"\n{manifest}')
    write(directory / "src" / "lib.rs", "// code\n")
    return directory


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` zero bytes that takes no disk space: reading it all still takes a
    while. Skips the test where the filesystem cannot leave a hole."""
    with open(path, "wb") as data:
        data.truncate(size)
    if path.stat().st_blocks * 512 >= 2**20:
        path.unlink()
        pytest.skip(f"{path.parent} cannot hold sparse files")
    return path
