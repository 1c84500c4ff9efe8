"""Which .cwasm files builds on this machine wrote, so that `embly run` loads no other.

A .cwasm is native code: wasmtime loads it without the validation a .wasm gets, so one
from anywhere else (committed to a repository, copied in, edited) could do anything the
user can. Each build records, for each .cwasm path it writes, the sha256 of what it wrote
there, under EMBLY_HOME (outside the project). `embly run` loads a .cwasm only when its
bytes still have that digest; otherwise it runs the .wasm, which wasmtime checks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from embly_build.atomic_write import write_atomically
from embly_build.home import embly_home


def record_written_cwasm(path: Path, sha256: str) -> None:
    """A build put a .cwasm with content `sha256` at `path`. Not recording is safe (the
    next `embly run` takes the .wasm), so a failure to write is not an error."""
    record = _record_path(path)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(record, sha256.encode())
    except OSError:
        pass


def written_cwasm(path: Path) -> bytes | None:
    """The bytes of the .cwasm at `path` when they are what a build on this machine wrote
    there; None when it did not, or when either cannot be read."""
    try:
        recorded = _record_path(path).read_bytes().decode("ascii", "replace")
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == recorded else None


def _record_path(path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return embly_home() / "client" / "written-cwasm" / key
