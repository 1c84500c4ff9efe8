"""Runtimes: how a function's source becomes a .wasm (the interface is in base.py).

RUNTIMES is the one list of them: the names embly.hcl's `runtime = "..."` may give, and
what the server compiles with. Each runtime is a module of its own, imported only when
one is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embly_build.server.runtimes.base import Runtime

__all__ = ["RUNTIMES", "RuntimeFactory", "make_runtimes"]

RuntimeFactory = Callable[[], "Runtime"]


def _rust() -> Runtime:
    from embly_build.server.runtimes.rust import RustRuntime

    return RustRuntime()


RUNTIMES: Mapping[str, RuntimeFactory] = {"rust": _rust}


def make_runtimes() -> dict[str, Runtime]:
    """One of each runtime, by name."""
    return {name: make() for name, make in RUNTIMES.items()}
