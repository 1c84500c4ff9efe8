"""The `host` toolchain provider: tools already installed on this machine, wrapped by Nix.

Works offline. The store path links exactly the detected tools and its hash depends on
their paths and `--version` output, so upgrading a host tool gives a new toolchain identity.
It is added to the store as a prepared directory (`nix-store --add`), not built: no build
users and no sandbox are involved, so it works with Nix as installed (sandbox on, no
`nixbld` group, or a daemon and a user who is not trusted).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from embly_build.errors import EnvironmentProblem
from embly_build.server.owned_temp_files import remove_orphaned
from embly_build.server.toolchains.base import (
    LogSink,
    Toolchain,
    runtime_tools,
    toolchain_identity,
)
from embly_build.server.toolchains.host_record import load_record, save_record
from embly_build.server.toolchains.nix.commands import find_nix_tool, run_command
from embly_build.server.toolchains.nix.store import add_to_store_with_root
from embly_build.server.toolchains.provision_cache import ProvisionCache
from embly_build.server.toolchains.tool_versions import first_line, tool_versions

WASM_TARGETS = ("wasm32-wasip1", "wasm32-wasi")  # newest name first; wasm32-wasi left in 1.84
INSTALL_HINT = (
    "Install them (Debian/Ubuntu: apt-get install rustc cargo libstd-rust-dev-wasm32 wabt "
    "binaryen lld-14 gcc; with rustup: rustup target add wasm32-wasip1) "
    "or use the pinned toolchain with EMBLY_TOOLCHAINS=nixpkgs."
)
_PROBE_TIMEOUT_SECONDS = 30.0
# toolchain-<pid of the process preparing it>-<random>, under EMBLY_HOME/tmp.
_PREPARATION_PREFIX = "toolchain-"


@dataclass
class HostTools:
    """Tool name -> host path, the wasm target rustc supports, and why candidates failed."""

    tools: dict[str, Path] = field(default_factory=dict)
    wasm_target: str = ""
    problems: list[str] = field(default_factory=list)


class HostToolchainProvider:
    def __init__(
        self, embly_home: Path, nixexprs_dir: Path, *, search_path: str | None = None
    ) -> None:
        self._embly_home = embly_home
        self._rustc_wrapper = nixexprs_dir / "toolchains" / "rustc-wrapper.sh"
        self._search_path = search_path
        self._cache = ProvisionCache()

    def describe(self) -> str:
        return "host: tools installed on this machine, wrapped into a Nix store path"

    async def provision(self, runtime: str, *, on_log: LogSink | None = None) -> Toolchain:
        runtime_tools(runtime)
        # Nothing is built, so there is no build log to pass on to `on_log`.
        return await self._cache.get(runtime, lambda: self._provision(runtime))

    async def _provision(self, runtime: str) -> Toolchain:
        find_nix_tool("nix-store")  # no nix is the first thing to say, before any tool
        search_path = self._search_path or os.environ.get("PATH", os.defpath)
        gcroot = self._embly_home / "gcroots" / f"toolchain-{runtime}-host"
        record = gcroot.with_name(gcroot.name + ".json")
        remembered = load_record(record, search_path, gcroot)
        if remembered is not None:
            return remembered
        found = await detect_tools(runtime_tools(runtime), search_path)
        outputs = await tool_versions(found.tools)
        identity_text = "\n".join(f"{k}: {outputs[k]}" for k in sorted(outputs))
        with self._preparation_directory() as temp:
            prepared = temp / f"embly-toolchain-{runtime}-host"
            try:
                write_toolchain_directory(
                    prepared, found.tools, self._rustc_wrapper.read_text(), identity_text
                )
            except OSError as exc:
                raise _cannot_prepare(exc, temp) from exc
            store_path = await add_to_store_with_root(prepared, gcroot, what="the host toolchain")
        versions = {name: first_line(text) for name, text in outputs.items()}
        toolchain = Toolchain(
            runtime=runtime,
            provider="host",
            store_path=store_path,
            identity=toolchain_identity(store_path, versions),
            wasm_target=found.wasm_target,
            versions=versions,
        )
        save_record(record, search_path, found.tools, toolchain)
        return toolchain

    @contextlib.contextmanager
    def _preparation_directory(self) -> Iterator[Path]:
        """A new directory under EMBLY_HOME/tmp, removed afterwards; those of processes that
        died before they could remove theirs are removed first."""
        parent = self._embly_home / "tmp"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            remove_orphaned(parent, (_PREPARATION_PREFIX,))
            temp = Path(tempfile.mkdtemp(prefix=f"{_PREPARATION_PREFIX}{os.getpid()}-", dir=parent))
        except OSError as exc:
            raise _cannot_prepare(exc, parent) from exc
        try:
            yield temp
        finally:
            shutil.rmtree(temp, ignore_errors=True)


def _cannot_prepare(exc: OSError, where: Path) -> EnvironmentProblem:
    if exc.errno == errno.ENOSPC:
        return EnvironmentProblem(
            f"cannot prepare the host toolchain in {where}: the disk is full; free some space "
            "(`embly gc --max-size SIZE` trims EMBLY_HOME) and run again"
        )
    return EnvironmentProblem(
        f"cannot prepare the host toolchain in {where}: {exc.strerror or exc}; "
        "set EMBLY_HOME to a directory you can write"
    )


def write_toolchain_directory(
    directory: Path, tools: Mapping[str, Path], rustc_wrapper: str, identity: str
) -> None:
    """The toolchain's tree: bin/ with a link to each tool (and the rustc wrapper), a `setup`
    that nix-shell sources, and the identity text, so other tool versions give another path.

    The wrapper cannot name its own store path (that depends on its content), so its
    interpreter is the host bash that bin/bash links to."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True)
    for name, path in sorted(tools.items()):
        (bin_dir / name).symlink_to(path)
    wrapper = bin_dir / "embly-rustc-wrapper"
    wrapper.write_text(f"#!{tools['bash']}\n{rustc_wrapper}")
    wrapper.chmod(0o555)
    # nix-shell exports the shell derivation's `stdenv`, which is this store path.
    (directory / "setup").write_text("export PATH=$stdenv/bin\n")
    (directory / "identity").write_text(f"{identity}\n")


async def detect_tools(names: tuple[str, ...], search_path: str) -> HostTools:
    """Find every tool on search_path; rustc must have a wasm WASI standard library."""
    found = HostTools()
    if "rustc" in names:
        await _detect_rust(found, search_path)
    for name in names:
        if name not in found.tools and name != "rustc":
            path = _on_path(name, search_path)
            if path is not None and not (name == "cargo" and _is_rustup_proxy(path)):
                found.tools[name] = path
    missing = [name for name in names if name not in found.tools]
    if missing:
        details = "".join(f"\n  {problem}" for problem in found.problems)
        raise EnvironmentProblem(
            f"the host toolchain is missing {', '.join(missing)}.{details}\n{INSTALL_HINT}"
        )
    return found


async def _detect_rust(found: HostTools, search_path: str) -> None:
    for candidate in _all_on_path("rustc", search_path):
        probe = await _probe_rustc(candidate)
        if isinstance(probe, str):
            found.problems.append(probe)
            continue
        sysroot, found.wasm_target = probe
        # A rustup proxy's sysroot holds the real binaries; prefer them over the proxy.
        found.tools["rustc"] = _existing(sysroot / "bin" / "rustc") or candidate
        cargo = _existing(sysroot / "bin" / "cargo")
        if cargo is not None:
            found.tools["cargo"] = cargo
        lld = next(iter(sorted(sysroot.glob("lib/rustlib/*/bin/rust-lld"))), None)
        if lld is not None:
            found.tools["rust-lld"] = lld
        return


async def _probe_rustc(rustc: Path) -> tuple[Path, str] | str:
    """(sysroot, wasm target) when this rustc can build for WASI, else why it cannot."""
    try:
        sysroot = await _rustc_print(rustc, "sysroot")
        targets = set((await _rustc_print(rustc, "target-list")).split())
    except (OSError, TimeoutError, EnvironmentProblem) as exc:
        return f"{rustc} does not work: {exc}"
    root = Path(sysroot.strip())
    for target in WASM_TARGETS:
        if target in targets and (root / "lib" / "rustlib" / target / "lib").is_dir():
            return root, target
    return f"{rustc} (sysroot {root}) has no wasm32-wasip1 or wasm32-wasi standard library"


async def _rustc_print(rustc: Path, what: str) -> str:
    result = await run_command([str(rustc), "--print", what], timeout=_PROBE_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise EnvironmentProblem(f"--print {what} failed: {first_line(result.stderr)}")
    return result.stdout


def _all_on_path(name: str, search_path: str) -> list[Path]:
    seen: set[Path] = set()
    paths = []
    for directory in search_path.split(os.pathsep):
        candidate = Path(os.path.abspath(Path(directory or ".") / name))
        if _is_executable(candidate) and candidate.resolve() not in seen:
            seen.add(candidate.resolve())
            paths.append(candidate)
    return paths


def _on_path(name: str, search_path: str) -> Path | None:
    return next(iter(_all_on_path(name, search_path)), None)


def _existing(path: Path) -> Path | None:
    return path if _is_executable(path) else None


def _is_executable(path: Path) -> bool:
    try:
        return path.is_file() and os.access(path, os.X_OK)
    except OSError:  # a PATH directory this user may not look into
        return False


def _is_rustup_proxy(path: Path) -> bool:
    return path.resolve().name.startswith("rustup")
