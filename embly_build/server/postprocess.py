"""Post-processing of a compiled module: wasm-strip, then wasm-opt, inside the toolchain."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from embly_build.errors import BuildFailed
from embly_build.protocol import pb
from embly_build.server.executors.base import Executor
from embly_build.server.runtimes.base import LogSink
from embly_build.server.toolchains.base import Toolchain

# Features rustc's WASI targets may emit and every current wasmtime runs. wasm-strip drops
# the target_features section that would otherwise tell wasm-opt about them.
WASM_OPT_FEATURES: Sequence[str] = (
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
    "--enable-reference-types",
)


def postprocess_signature(options: pb.BuildOptions) -> list[str]:
    """What post-processing does, as it enters the action key."""
    steps = ["wasm-strip"] if options.strip else []
    if options.opt_level:
        steps += ["wasm-opt", f"-{options.opt_level}", *WASM_OPT_FEATURES]
    return steps


async def postprocess(
    compiled: Path,
    work_dir: Path,
    options: pb.BuildOptions,
    *,
    toolchain: Toolchain,
    executor: Executor,
    on_log: LogSink,
) -> Path:
    """Copy the compiled module into `work_dir`, strip and optimise it there; return it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    module = work_dir / "module.wasm"
    shutil.copyfile(compiled, module)
    if options.strip:
        await _run(executor, toolchain, ["wasm-strip", str(module)], work_dir, on_log)
    if options.opt_level:
        optimised = work_dir / "module.opt.wasm"
        argv = ["wasm-opt", f"-{options.opt_level}", *WASM_OPT_FEATURES, str(module)]
        await _run(executor, toolchain, [*argv, "-o", str(optimised)], work_dir, on_log)
        module = optimised
    return module


async def _run(
    executor: Executor, toolchain: Toolchain, argv: list[str], cwd: Path, on_log: LogSink
) -> None:
    code = await executor.run(
        toolchain,
        argv,
        cwd=cwd,
        env={},
        on_stdout=lambda line: on_log("stdout", line),
        on_stderr=lambda line: on_log("stderr", line),
    )
    if code != 0:
        raise BuildFailed(f"{argv[0]} failed (exit code {code})")
