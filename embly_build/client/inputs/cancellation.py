"""A request to stop an index, made from the event loop and checked by the index's thread."""

from __future__ import annotations


class IndexCancelled(Exception):
    """The index stopped because it was asked to; what it had found is dropped."""


class Cancellation:
    """Set once, from any thread. An index checks it before each directory, each file and
    each chunk of a file it hashes, so it stops within a fraction of a second."""

    __slots__ = ("requested",)

    def __init__(self) -> None:
        # A plain attribute, not a threading.Event: it is read once per file, and one
        # thread writing a bool while another reads it needs no lock in CPython.
        self.requested = False

    def cancel(self) -> None:
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise IndexCancelled("the index was cancelled")
