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


def postprocess_description(options: pb.BuildOptions) -> str:
    """The tools post-processing runs, for progress lines: `wasm-strip, wasm-opt -O2`."""
    tools = ["wasm-strip"] if options.strip else []
    if options.opt_level:
        tools.append(f"wasm-opt -{options.opt_level}")
    return ", ".join(tools)


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
    steps: list[list[str]] = []
    if options.strip:
        steps.append(["wasm-strip", str(module)])
    if options.opt_level:
        optimised = work_dir / "module.opt.wasm"
        steps.append(
            [
                "wasm-opt",
                f"-{options.opt_level}",
                *WASM_OPT_FEATURES,
                str(module),
                "-o",
                str(optimised),
            ]
        )
        module = optimised
    if steps:
        await _run(executor, toolchain, steps, work_dir, on_log)
    return module


# Runs each step's argv in turn inside one shell (one nix-shell start instead of one per
# step). The script is constant: every path and option arrives as a positional argument,
# steps separated by a lone ";" argument. A lone step runs without it.
_RUN_STEPS = (
    'step=(); for a in "$@"; do '
    'if [ "$a" = ";" ]; then "${step[@]}" || exit; step=(); else step+=("$a"); fi; '
    "done"
)


async def _run(
    executor: Executor, toolchain: Toolchain, steps: list[list[str]], cwd: Path, on_log: LogSink
) -> None:
    if len(steps) == 1:
        argv = steps[0]
    else:
        argv = ["bash", "-c", _RUN_STEPS, "postprocess"]
        for step in steps:
            argv += [*step, ";"]
    code = await executor.run(
        toolchain,
        argv,
        cwd=cwd,
        env={},
        on_stdout=lambda line: on_log("stdout", line),
        on_stderr=lambda line: on_log("stderr", line),
    )
    if code != 0:
        names = " and ".join(step[0] for step in steps)
        raise BuildFailed(f"{names} failed (exit code {code}); see the messages above")
