"""Writing to a terminal that may have gone away."""

from __future__ import annotations

from collections.abc import Callable


class TerminalOutput:
    """Runs writes to the terminal until one fails: its window closed (the SIGHUP that
    follows stops the command), the file it was redirected to is on a full disk, or the
    reader of the pipe it goes to has exited (`2>&1 | head`; `on_reader_gone` is called,
    to stop the command as SIGPIPE would). After that nothing more is written. A view never
    stops the builds it shows on its own."""

    def __init__(self) -> None:
        self.gone = False
        self.on_reader_gone: Callable[[], None] | None = None

    def __call__(self, write: Callable[[], object]) -> None:
        if self.gone:
            return
        try:
            write()
        except OSError as error:
            self.gone = True
            if isinstance(error, BrokenPipeError) and self.on_reader_gone is not None:
                self.on_reader_gone()
