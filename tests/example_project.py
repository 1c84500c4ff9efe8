"""Copies of examples/hello-project for tests and benchmarks.

Most of them need the example's small functions only. `person` builds serde, serde_json and
regex from its vendored crates (half a minute cold, on two cores), so `copy_example` leaves it
out unless asked: its block in embly.hcl, its crate, `vendor/` and `.cargo/`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello-project"
SMALL_FUNCTIONS = ("greeter", "counter", "shout")
VENDORED_FUNCTION = "person"
# What only the vendored function uses.
_VENDORED_PARTS = (VENDORED_FUNCTION, "vendor", ".cargo")
_BUILD_OUTPUTS = ("embly_build", "target")


def copy_example(destination: Path, *, vendored: bool = False) -> Path:
    """A copy of the example in `destination` (which must not exist), without build outputs;
    without the vendored function unless `vendored`."""
    left_out = _BUILD_OUTPUTS if vendored else (*_BUILD_OUTPUTS, *_VENDORED_PARTS)

    def ignored(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == EXAMPLE
        return {n for n in names if n in _BUILD_OUTPUTS or (top and n in left_out)}

    shutil.copytree(EXAMPLE, destination, ignore=ignored)
    if not vendored:
        config = destination / "embly.hcl"
        block = re.compile(rf'\nfunction "{VENDORED_FUNCTION}" {{\n.*?\n}}\n', re.DOTALL)
        text, found = block.subn("", config.read_text())
        assert found == 1, f"no block for {VENDORED_FUNCTION} in {config}"
        config.write_text(text)
    return destination
