"""The action key: sha256 over everything that decides a build's outputs.

(toolchain identity, input tree digest, runtime, crate path, command, wasm target,
post-processing options, AOT target, wasmtime version and Cranelift's optimisation level),
and whose it is: each authenticated caller has entries of its own.
Nothing else: not the function's name, the project's path or the build space's location.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

# Raised when the same inputs may now give different outputs, so no older entry is taken
# for a newer build. 2: cargo reads no config file above the build space, and a crate's
# [profile], [patch] and [replace] apply. 3: the .cwasm's Cranelift optimisation level.
KEY_VERSION = 3


@dataclass(frozen=True)
class ActionInputs:
    toolchain_identity: str
    input_tree_digest: str
    runtime: str
    crate_dir: str
    command: Sequence[str]
    wasm_target: str
    postprocess: Sequence[str]
    aot_target: str  # empty when no .cwasm is produced
    wasmtime_version: str
    native_opt_level: str  # Cranelift's, for the .cwasm; empty when none is produced
    # Whose entry this is (server/caller_namespaces.py); empty for a caller nobody
    # authenticated, and then left out, so such keys are as they were before callers had
    # namespaces.
    caller_namespace: str = ""

    def key(self) -> str:
        fields = asdict(self)
        fields["command"] = list(self.command)
        fields["postprocess"] = list(self.postprocess)
        fields["key_version"] = KEY_VERSION
        if not self.caller_namespace:
            del fields["caller_namespace"]
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
