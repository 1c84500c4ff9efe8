"""Ahead-of-time compilation with wasmtime, for the host only.

This wasmtime wheel cannot cross-compile: an Engine for another architecture aborts the
whole process, so a foreign target is refused before any wasmtime object exists.
"""

from __future__ import annotations

import platform
import sys
from functools import cache
from importlib.metadata import version
from typing import TYPE_CHECKING

from embly_build.errors import EmblyError, UsageError

if TYPE_CHECKING:
    import wasmtime

_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
# The architectures Cranelift, and so a .cwasm, can target.
WASMTIME_ARCHITECTURES = ("x86_64", "aarch64", "s390x", "riscv64gc", "riscv64")


@cache
def host_triple() -> str:
    machine = platform.machine().lower()
    arch = _ARCH_ALIASES.get(machine, machine)
    if sys.platform == "darwin":
        return f"{arch}-apple-darwin"
    if sys.platform == "win32":
        return f"{arch}-pc-windows-msvc"
    return f"{arch}-unknown-linux-gnu"


@cache
def wasmtime_version() -> str:
    return version("wasmtime")


def check_target(target: str) -> None:
    """Refuse a triple no wasmtime compiles for (a typo), before anything is built for it."""
    parts = target.split("-")
    if len(parts) < 3 or not all(parts) or parts[0] not in WASMTIME_ARCHITECTURES:
        raise UsageError(
            f"target {target!r} is not one a .cwasm can be compiled for: give a triple"
            " ARCH-VENDOR-OS[-ENV] such as x86_64-unknown-linux-gnu or aarch64-apple-darwin,"
            f" ARCH one of {', '.join(WASMTIME_ARCHITECTURES)}; leave it out for this machine"
        )


def aot_refusal(target: str, wanted_wasmtime: str) -> str | None:
    """Why this process cannot produce a .cwasm for (target, wasmtime version); None if it can."""
    if target != host_triple():
        return (
            f"this machine's wasmtime compiles for itself ({host_triple()}) only, not for {target}"
        )
    if wanted_wasmtime and wanted_wasmtime != wasmtime_version():
        return (
            f"this machine has wasmtime {wasmtime_version()}, "
            f"a .cwasm for wasmtime {wanted_wasmtime} must be compiled by that version"
        )
    return None


# Cranelift's settings for each kind of .cwasm, as the action key names them. A quick
# .cwasm (for artifacts that a fully optimised build replaces moments later) is compiled
# without Cranelift's optimisations and with its single-pass register allocator, in about
# half the time of an optimised one (the allocator alone saves a third), into larger and
# slower code. Any engine loads either: wasmtime checks neither setting on deserialising.
NATIVE_OPT_LEVELS = {False: "speed", True: "none, single-pass register allocation"}
_CRANELIFT_OPT_LEVELS = {False: "speed", True: "none"}


@cache
def _host_engine(quick: bool) -> wasmtime.Engine:
    """One engine per kind for the process: its compiler warms up once, not per module."""
    import wasmtime

    config = wasmtime.Config()
    config.cranelift_opt_level = _CRANELIFT_OPT_LEVELS[quick]
    if quick:
        config.cranelift_flag_set("regalloc_algorithm", "single_pass")
    return wasmtime.Engine(config)


def prepare_compiler(quick: bool = False) -> None:
    """Import wasmtime and make the engine `compile_cwasm(quick=quick)` uses. In a new
    process that takes about 25 ms, which a build can spend while cargo runs instead."""
    _host_engine(quick)


def compiler_ready() -> bool:
    """Whether wasmtime is imported: then `prepare_compiler` would save 1 ms, not 25."""
    return "wasmtime" in sys.modules


def compile_cwasm(wasm: bytes, target: str, *, quick: bool = False) -> bytes:
    """Compile a module to wasmtime's native format for `target` (which must be the host);
    `quick` skips Cranelift's optimisations, for artifacts soon replaced."""
    refusal = aot_refusal(target, "")
    if refusal:
        raise EmblyError(f"cannot AOT-compile: {refusal}")
    import wasmtime

    try:
        module = wasmtime.Module(_host_engine(quick), wasm)
    except wasmtime.WasmtimeError as exc:
        raise EmblyError(f"wasmtime rejected the module: {exc}") from exc
    return bytes(module.serialize())
