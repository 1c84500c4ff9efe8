"""Values kept for the keys used last, up to a total size over all of them."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SizeBoundedLru(Generic[K, V]):
    """Each value has a size (files, say); beyond `max_size` in all, the values used least
    recently are dropped first. The newest value is kept whatever its size."""

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._values: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0

    def get(self, key: K) -> V | None:
        """The value for `key`, now the most recently used; None when there is none."""
        kept = self._values.get(key)
        if kept is None:
            return None
        self._values.move_to_end(key)
        return kept[0]

    def pop(self, key: K) -> V | None:
        """Remove the value for `key` and return it; None when there was none."""
        kept = self._values.pop(key, None)
        if kept is None:
            return None
        self._size -= kept[1]
        return kept[0]

    def put(self, key: K, value: V, size: int) -> None:
        """Keep `value` for `key` (in place of any before), as the most recently used."""
        self.pop(key)
        self._values[key] = (value, size)
        self._size += size
        while self._size > self._max_size and len(self._values) > 1:
            _, (_, dropped) = self._values.popitem(last=False)
            self._size -= dropped
