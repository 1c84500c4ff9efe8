"""wasm-opt levels a build can ask for; `BuildOptions.opt_level` empty means no wasm-opt."""

from __future__ import annotations

from embly_build.errors import UsageError

WASM_OPT_LEVELS: tuple[str, ...] = ("O0", "O1", "O2", "O3", "O4", "Os", "Oz")
DEFAULT_OPT_LEVEL = "O2"
NO_WASM_OPT = "none"  # how users say "strip only, skip wasm-opt"


def wasm_opt_level(level: str) -> str:
    """The `BuildOptions.opt_level` for a level as users write it: O0..O4, Os, Oz or none."""
    if level == NO_WASM_OPT:
        return ""
    if level not in WASM_OPT_LEVELS:
        choices = ", ".join((*WASM_OPT_LEVELS, NO_WASM_OPT))
        raise UsageError(f"unknown wasm-opt level {level!r}; choose one of {choices}")
    return level
