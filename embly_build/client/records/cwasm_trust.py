"""Which .cwasm files builds on this machine wrote, so that `embly run` loads no other.

A .cwasm is native code: wasmtime loads it without the validation a .wasm gets, so one
from anywhere else (committed to a repository, copied in, edited) could do anything the
user can. Each build records, for each .cwasm path it writes, the sha256 of what it wrote
there, under EMBLY_HOME (outside the project). `embly run` loads a .cwasm only when its
bytes still have that digest; otherwise it runs the .wasm, which wasmtime checks.

A record holds the digest, then the path (so `embly gc` can drop the records of files that
are gone).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from embly_build.atomic_write import write_atomically
from embly_build.client.records.record_files import files_in, left_over, remove_files
from embly_build.home import embly_home

_TEMP_PREFIX = ".written-"


def record_written_cwasm(path: Path, sha256: str) -> None:
    """A build put a .cwasm with content `sha256` at `path`. Not recording is safe (the
    next `embly run` takes the .wasm), so a failure to write is not an error."""
    resolved = path.resolve()
    record = _record_path(embly_home(), resolved)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        content = sha256.encode() + b"\n" + os.fsencode(resolved)
        write_atomically(record, content, temp_prefix=_TEMP_PREFIX)
    except OSError:
        pass


def written_cwasm(path: Path) -> bytes | None:
    """The bytes of the .cwasm at `path` when they are what a build on this machine wrote
    there; None when it did not, or when either cannot be read."""
    try:
        record = _record_path(embly_home(), path.resolve()).read_bytes()
        data = path.read_bytes()
    except OSError:
        return None
    recorded = record.split(b"\n", 1)[0].decode("ascii", "replace")
    return data if hashlib.sha256(data).hexdigest() == recorded else None


def remove_records_of_gone_files(home: Path, *, dry_run: bool = False) -> tuple[int, int]:
    """Remove the records under `home` whose .cwasm no longer exists (its project moved or
    deleted, the function gone), and temporary files an interrupted write left over an hour
    ago; how many, and the bytes they took on disk. With `dry_run`, remove nothing."""
    now = time.time()
    gone = []
    for file in files_in(str(_records_dir(home))):
        if file.name.startswith(_TEMP_PREFIX):
            if left_over(file, now):
                gone.append(file)
            continue
        try:
            with open(file.path, "rb") as record:
                _, _, recorded_path = record.read().partition(b"\n")
        except OSError:
            continue
        if not recorded_path or not os.path.isfile(recorded_path):
            gone.append(file)
    return remove_files(gone, dry_run=dry_run)


def _records_dir(home: Path) -> Path:
    return home / "client" / "written-cwasm"


def _record_path(home: Path, resolved: Path) -> Path:
    key = hashlib.sha256(os.fsencode(resolved)).hexdigest()
    return _records_dir(home) / key
