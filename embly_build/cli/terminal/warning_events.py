"""With `--json`, warnings about inputs are `warning` events on stdout, where the program
reading the events finds them, rather than text on stderr."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from embly_build.client.inputs.input_warnings import LOGGER_NAME, WARNING_TEXT
from embly_build.client.session.events import InputWarning


@contextmanager
def warnings_as_events(emit: Callable[[InputWarning], None]) -> Iterator[None]:
    """Inside the block, each input warning goes to `emit` (on the event loop's thread, as
    every other event: indexes warn from worker threads) and not to stderr."""
    handler = _AsEvents(asyncio.get_running_loop(), emit)
    logger = logging.getLogger(LOGGER_NAME)
    propagated = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagated


class _AsEvents(logging.Handler):
    def __init__(
        self, loop: asyncio.AbstractEventLoop, emit: Callable[[InputWarning], None]
    ) -> None:
        super().__init__(logging.WARNING)
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._emit = emit

    def emit(self, record: logging.LogRecord) -> None:
        event = InputWarning(str(getattr(record, WARNING_TEXT, record.getMessage())))
        if threading.get_ident() == self._loop_thread:
            self._emit(event)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._emit, event)
