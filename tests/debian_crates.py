"""Real crates with no network: vendored by `cargo vendor` from Debian's packaged sources.

Debian's librust-*-dev packages put the sources of crates under /usr/share/cargo/registry,
one directory each (`regex-1.7.1/`). `cargo vendor` cannot read them as they are: given a
directory source, cargo 1.65 deletes each crate it resolved from it (its work-around for
stale registry extractions) and then finds nothing to vendor. So they are first packed as a
local registry (an index and `.crate` archives, what `cargo vendor` reads a registry
through), into a scratch directory, and `cargo vendor` runs there, offline, away from any
project's `.cargo/config.toml` (it reads the configuration of its working directory).

The archives are made byte for byte the same from the same sources, so the checksums in
Cargo.lock and in each vendored `.cargo-checksum.json` are too.

As a script, vendors a crate's registry dependencies:
    .venv/bin/python -m tests.debian_crates CRATE_DIR VENDOR_DIR
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")
# The packages whose crates the vendored examples and tests use (with their dependencies).
PACKAGES = (
    "librust-serde-dev",
    "librust-serde-derive-dev",
    "librust-serde-json-dev",
    "librust-regex-dev",
)
CARGO = "/usr/bin/cargo"  # Debian's, not a rustup one that may come first on PATH
RUSTC = "/usr/bin/rustc"


def vendor(crate_dir: Path, destination: Path, sources: Path = DEBIAN_REGISTRY) -> None:
    """Vendor the registry dependencies of the crate in `crate_dir` into `destination` (made
    anew) with `cargo vendor`, writing the crate's Cargo.lock."""
    with tempfile.TemporaryDirectory(prefix="embly-vendor-") as scratch:
        work = Path(scratch)
        registry = work / "registry"
        local_registry(sources, registry)
        cargo_home = work / "cargo-home"
        cargo_home.mkdir()
        (cargo_home / "config.toml").write_text(
            '[source.crates-io]\nreplace-with = "debian-packages"\n\n'
            f'[source.debian-packages]\nlocal-registry = "{registry}"\n'
        )
        vendored = work / "vendor"
        result = subprocess.run(
            [
                *(CARGO, "vendor", "--offline", "--respect-source-config"),
                *("--manifest-path", str(crate_dir.resolve() / "Cargo.toml"), str(vendored)),
            ],
            cwd=work,
            env={**os.environ, "CARGO_HOME": str(cargo_home), "RUSTC": RUSTC},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cargo vendor failed:\n{result.stderr}")
        shutil.rmtree(destination, ignore_errors=True)
        shutil.move(vendored, destination)


def source_replacement(directory: str) -> str:
    """The `.cargo/config.toml` that `cargo vendor` asks for, its crates in `directory`
    (relative to the directory holding `.cargo`)."""
    return (
        '[source.crates-io]\nreplace-with = "vendored-sources"\n\n'
        f'[source.vendored-sources]\ndirectory = "{directory}"\n'
    )


def local_registry(sources: Path, registry: Path) -> None:
    """A cargo local registry in `registry` of every crate directory under `sources`."""
    registry.mkdir(parents=True)
    for crate in sorted(sources.iterdir()):
        manifest = tomllib.loads((crate / "Cargo.toml").read_text(encoding="utf-8"))
        package = manifest["package"]
        name, version = package["name"], package["version"]
        archive = _crate_archive(crate, f"{name}-{version}")
        (registry / f"{name}-{version}.crate").write_bytes(archive)
        features = manifest.get("features", {})
        # Features that use `dep:` or `?/` go in `features2`, as the index format requires.
        newer = {k: v for k, v in features.items() if any("dep:" in x or "?/" in x for x in v)}
        entry = {
            "name": name,
            "vers": version,
            "deps": _index_dependencies(manifest),
            "cksum": hashlib.sha256(archive).hexdigest(),
            "features": {k: v for k, v in features.items() if k not in newer},
            "yanked": False,
            "links": package.get("links"),
        }
        if newer:
            entry.update(features2=newer, v=2)
        index = registry / "index" / _index_path(name)
        index.parent.mkdir(parents=True, exist_ok=True)
        with index.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")


def _crate_archive(crate: Path, prefix: str) -> bytes:
    """A `.crate`: a gzipped tar of the crate's files under `prefix/`, with no time, owner
    or order of its own. Debian's `.cargo-checksum.json` is not part of a published crate."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in crate.rglob("*") if p.is_file()):
            relative = path.relative_to(crate).as_posix()
            if relative == ".cargo-checksum.json":
                continue
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{prefix}/{relative}")
            info.size = len(data)
            info.mode = 0o755 if path.stat().st_mode & 0o100 else 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def _index_dependencies(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A published Cargo.toml's normal and build dependencies as index entries (a
    dependency's own dev-dependencies are never resolved)."""
    found = []
    holders = [(None, manifest), *manifest.get("target", {}).items()]
    for target, holder in holders:
        for kind, table in (("normal", "dependencies"), ("build", "build-dependencies")):
            for name, spec in holder.get(table, {}).items():
                spec = {"version": spec} if isinstance(spec, str) else spec
                entry = {
                    "name": name,
                    "req": spec.get("version", "*"),
                    "features": spec.get("features", []),
                    "optional": spec.get("optional", False),
                    "default_features": spec.get("default-features", True),
                    "target": target,
                    "kind": kind,
                }
                if "package" in spec:
                    entry["package"] = spec["package"]
                found.append(entry)
    return found


def _index_path(name: str) -> str:
    """Where a crate's entries are in a registry index (the crates.io layout)."""
    lower = name.lower()
    if len(lower) <= 2:
        return f"{len(lower)}/{lower}"
    if len(lower) == 3:
        return f"3/{lower[0]}/{lower}"
    return f"{lower[:2]}/{lower[2:4]}/{lower}"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} CRATE_DIR VENDOR_DIR")
    vendor(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"Vendored. Add this to .cargo/config.toml:\n\n{source_replacement(sys.argv[2])}")
