"""Remember a provisioned host toolchain across processes.

Detecting host tools runs a dozen `--version` probes and two nix-store calls; a no-op build
must not pay that each time. The record is trusted only while nothing it was derived from has
changed: the search path, the mtime of each of its directories (a tool installed or
removed there changes it), each chosen tool's file (inode, size, mtime), and the GC root
still pointing at the recorded store path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from embly_build.atomic_write import write_atomically
from embly_build.server.toolchains.base import Toolchain


def fingerprint(search_path: str, tools: Mapping[str, Path]) -> str:
    digest = hashlib.sha256(search_path.encode())
    for directory in search_path.split(os.pathsep):
        digest.update(f"\0dir {directory} {_stat_key(Path(directory or '.'))}".encode())
    for name in sorted(tools):
        path = tools[name]
        digest.update(f"\0tool {name} {path} {path.resolve()} {_stat_key(path)}".encode())
    return digest.hexdigest()


def _stat_key(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def load_record(record: Path, search_path: str, gcroot: Path) -> Toolchain | None:
    try:
        data = json.loads(record.read_text())
        tools = {name: Path(path) for name, path in data["tools"].items()}
        store_path = Path(data["store_path"])
        if data["fingerprint"] != fingerprint(search_path, tools):
            return None
        if gcroot.readlink() != store_path or not store_path.is_dir():
            return None
        return Toolchain(
            runtime=data["runtime"],
            provider="host",
            store_path=store_path,
            identity=data["identity"],
            wasm_target=data["wasm_target"],
            versions=dict(data["versions"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_record(
    record: Path, search_path: str, tools: Mapping[str, Path], toolchain: Toolchain
) -> None:
    data = {
        "fingerprint": fingerprint(search_path, tools),
        "tools": {name: str(path) for name, path in tools.items()},
        "runtime": toolchain.runtime,
        "store_path": str(toolchain.store_path),
        "identity": toolchain.identity,
        "wasm_target": toolchain.wasm_target,
        "versions": dict(toolchain.versions),
    }
    with contextlib.suppress(OSError):  # only a cache: the next run probes again
        write_atomically(record, json.dumps(data, indent=1).encode("utf-8"))


def recorded_tools(record: Path) -> list[Path]:
    """The tool files a record was derived from; none when it cannot be read."""
    try:
        tools = json.loads(record.read_text())["tools"]
        return [Path(path) for path in tools.values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
