"""wasm-opt levels a build can ask for; `BuildOptions.opt_level` empty means no wasm-opt."""

from __future__ import annotations

WASM_OPT_LEVELS: tuple[str, ...] = ("O0", "O1", "O2", "O3", "O4", "Os", "Oz")
DEFAULT_OPT_LEVEL = "O2"
NO_WASM_OPT = "none"  # how users say "strip only, skip wasm-opt"
