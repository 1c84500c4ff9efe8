"""Run a built function under wasmtime with WASI: args in, stdout/stderr/exit code out."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from embly_build.errors import EmblyError
from embly_build.wasm.native_signals import stop_signals_kill

if TYPE_CHECKING:
    import wasmtime

TRAP_EXIT_CODE = 134  # what a shell reports for an aborted process; a trap is an abort
# WASI passes exit statuses 0..125 through; wasmtime refuses a larger one (126 and up mean
# "cannot execute", "not found" and "killed by a signal" to a shell) with a plain error,
# so the status is lost. It was a failure: exit 1, as `wasmtime run` does.
REFUSED_STATUS_EXIT_CODE = 1
_REFUSED_STATUS_MESSAGE = "exit with invalid exit status"  # wasmtime's words


def run_module(
    artifact: Path, program_name: str, args: Sequence[str], *, native: bytes | None = None
) -> int:
    """Run `artifact` as a WASI command; return its exit code. A .wasm is compiled here;
    for a .cwasm, `native` holds its bytes, read and vouched for by the caller (wasmtime
    loads native code without checking it). Meanwhile SIGINT, SIGTERM and SIGHUP kill the
    process, as they would a native program (native_signals.py)."""
    import wasmtime

    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # the module writes to the same descriptors, and may be killed
    with stop_signals_kill():
        engine = wasmtime.Engine()
        module = _load(engine, artifact, native)
        store = wasmtime.Store(engine)
        store.set_wasi(_wasi_config([program_name, *args]))
        instance = _instantiate(engine, store, module, artifact)
        start = instance.exports(store).get("_start")
        if not isinstance(start, wasmtime.Func):
            raise EmblyError(f"{artifact} has no `_start` export: is the crate a binary?")
        try:
            start(store)
        except wasmtime.ExitTrap as exit_trap:
            return int(exit_trap.code)
        except wasmtime.Trap as trap:
            print(f"error: the function trapped: {trap.message}", file=sys.stderr)
            return TRAP_EXIT_CODE
        except wasmtime.WasmtimeError as error:
            print(f"error: {_failure(program_name, error)}", file=sys.stderr)
            return REFUSED_STATUS_EXIT_CODE
    return 0


def _load(engine: wasmtime.Engine, artifact: Path, native: bytes | None) -> wasmtime.Module:
    import wasmtime

    try:
        if native is not None:
            return wasmtime.Module.deserialize(engine, native)
        return wasmtime.Module.from_file(engine, str(artifact))
    except wasmtime.WasmtimeError as exc:
        raise EmblyError(f"cannot load {artifact}: {exc}; rebuild it with `embly build`") from exc


def _wasi_config(argv: list[str]) -> wasmtime.WasiConfig:
    import wasmtime

    wasi = wasmtime.WasiConfig()
    wasi.argv = argv
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    return wasi


def _instantiate(
    engine: wasmtime.Engine, store: wasmtime.Store, module: wasmtime.Module, artifact: Path
) -> wasmtime.Instance:
    import wasmtime

    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    try:
        return linker.instantiate(store, module)
    except wasmtime.WasmtimeError as exc:
        raise EmblyError(
            f"cannot run {artifact}: {exc}. `embly run` provides WASI only: an import from "
            "elsewhere is the embly runtime's own, or an `extern` function no crate defines"
        ) from exc


def _failure(program_name: str, error: wasmtime.WasmtimeError) -> str:
    """What to say when wasmtime ends a run with an error that is neither an exit nor a
    trap: in practice, an exit status that WASI does not pass through."""
    if _REFUSED_STATUS_MESSAGE in str(error):
        return (
            f"{program_name} exited with a status outside 0..125, which wasmtime refuses "
            f"to pass through (WASI allows 0..125); exiting with {REFUSED_STATUS_EXIT_CODE}"
        )
    return f"{program_name} failed in wasmtime: {error}"
