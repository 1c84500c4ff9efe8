"""Warnings about what decides a function's inputs (a `.gitignore` line that matches
nothing, git that cannot be asked which files it tracks): each said once per process, not
again at every index a watch makes.

They go to the `embly.inputs` logger; with no handler set up, Python prints them on stderr
as they are.
"""

from __future__ import annotations

import logging
import threading

_log = logging.getLogger("embly.inputs")
_said: set[str] = set()
_lock = threading.Lock()  # indexes run in worker threads


def warn_once(message: str) -> None:
    with _lock:
        if message in _said:
            return
        _said.add(message)
    _log.warning("embly: warning: %s", message)
