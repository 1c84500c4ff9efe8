"""Warnings about what decides a function's inputs (a `.gitignore` line that matches
nothing, git that cannot be asked which files it tracks): each said once per process, not
again at every index a watch makes.

They go to the `embly.inputs` logger; with no handler set up, Python prints them on stderr
(`embly build --json` makes them events).
What they quote of a file's content or name is made `printable` first: a `.gitignore` line
or a file name could otherwise drive the terminal (set its title, colours, move the cursor).
"""

from __future__ import annotations

import logging
import re
import threading

LOGGER_NAME = "embly.inputs"
WARNING_TEXT = "embly_warning"  # the attribute of a record holding the warning alone
_log = logging.getLogger(LOGGER_NAME)
_said: set[str] = set()
_lock = threading.Lock()  # indexes run in worker threads

# C0 controls, DEL, C1 controls, and the stand-ins os.fsdecode makes of bytes that are not
# UTF-8 (which cannot be written to a UTF-8 terminal at all).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def printable(text: str) -> str:
    """`text` with its control characters written as `\\xNN` escapes."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()) & 0xFF:02x}", text)


def warn_once(message: str) -> None:
    message = printable(message)
    with _lock:
        if message in _said:
            return
        _said.add(message)
    _log.warning("embly: warning: %s", message, extra={WARNING_TEXT: message})
