"""Writing to a terminal that may have gone away."""

from __future__ import annotations

from collections.abc import Callable


class TerminalOutput:
    """Runs writes to the terminal until one fails: its window closed (the SIGHUP that
    follows stops the command) or the file it was redirected to is on a full disk. After
    that nothing more is written. A view never stops the builds it shows."""

    def __init__(self) -> None:
        self.gone = False

    def __call__(self, write: Callable[[], object]) -> None:
        if self.gone:
            return
        try:
            write()
        except OSError:
            self.gone = True
