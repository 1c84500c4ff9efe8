"""Python's cycle collector paused while many objects are made that all stay.

Each collection goes through the objects made since the last one, and the oldest generation
through every object: an index making an object per file, or an ignore file of many rules
made into patterns, would have the collector go through them again and again for cycles
they do not have, a large share of the time they take (bench_index.py,
bench_git_listing.py). The collector is paused process-wide: the pause ends with the work.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector for the block; nested and concurrent pauses are fine (the
    one that paused it resumes it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
