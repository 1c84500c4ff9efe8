"""Run a built function under wasmtime with WASI: args in, stdout/stderr/exit code out."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from embly_build.errors import EmblyError

TRAP_EXIT_CODE = 134  # what a shell reports for an aborted process; a trap is an abort


def run_module(
    artifact: Path, program_name: str, args: Sequence[str], *, native: bytes | None = None
) -> int:
    """Run `artifact` as a WASI command; return its exit code. A .wasm is compiled here;
    for a .cwasm, `native` holds its bytes, read and vouched for by the caller (wasmtime
    loads native code without checking it)."""
    import wasmtime

    engine = wasmtime.Engine()
    try:
        if native is not None:
            module = wasmtime.Module.deserialize(engine, native)
        else:
            module = wasmtime.Module.from_file(engine, str(artifact))
    except wasmtime.WasmtimeError as exc:
        raise EmblyError(f"cannot load {artifact}: {exc}; rebuild it with `embly build`") from exc
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [program_name, *args]
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    sys.stdout.flush()
    try:
        instance = linker.instantiate(store, module)
    except wasmtime.WasmtimeError as exc:
        raise EmblyError(
            f"cannot run {artifact}: {exc}. `embly run` provides WASI only: an import from "
            "elsewhere is the embly runtime's own, or an `extern` function no crate defines"
        ) from exc
    try:
        start = instance.exports(store).get("_start")
        if not isinstance(start, wasmtime.Func):
            raise EmblyError(f"{artifact} has no `_start` export: is the crate a binary?")
        start(store)
    except wasmtime.ExitTrap as exit_trap:
        return int(exit_trap.code)
    except wasmtime.Trap as trap:
        print(f"error: the function trapped: {trap.message}", file=sys.stderr)
        return TRAP_EXIT_CODE
    return 0
