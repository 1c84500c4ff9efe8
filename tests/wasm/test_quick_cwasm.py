"""A quick .cwasm (no Cranelift optimisation, single-pass register allocation) is one any
wasmtime engine of the same version loads and runs, with the default settings."""

from __future__ import annotations

import wasmtime

from embly_build.wasm.aot import compile_cwasm, host_triple

# A module exporting `add`: (i32, i32) -> i32, with a loop so the allocator has work.
WAT = """
(module
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    (local $i i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $b)))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $a)))
"""


def _add(cwasm: bytes, a: int, b: int) -> int:
    engine = wasmtime.Engine()  # the default settings, as `embly run` and other hosts have
    store = wasmtime.Store(engine)
    module = wasmtime.Module.deserialize(engine, cwasm)
    add = wasmtime.Instance(store, module, []).exports(store)["add"]
    assert isinstance(add, wasmtime.Func)
    result = add(store, a, b)
    assert isinstance(result, int)
    return result


def test_a_quick_cwasm_runs_in_a_default_engine_as_the_optimised_one_does() -> None:
    wasm = wasmtime.wat2wasm(WAT)
    quick = compile_cwasm(wasm, host_triple(), quick=True)
    optimised = compile_cwasm(wasm, host_triple())
    assert quick != optimised, "compiled differently"
    assert _add(quick, 40, 2) == _add(optimised, 40, 2) == 42
    assert _add(quick, 7, 100_000) == 100_007
