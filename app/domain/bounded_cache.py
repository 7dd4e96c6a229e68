"""A cache bounded by entries *and* bytes (pure).

Keys come from outside (a number as upstream wrote it), so an entry count alone
bounds nothing: a caller decides what a key costs. Eviction is first-in,
first-out: a hit costs one dict lookup, and the numbers a campaign texts
again and again are put back as soon as they are evicted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    __slots__ = ("max_entries", "max_bytes", "_cost", "_data", "_bytes")

    def __init__(self, max_entries: int, max_bytes: int, cost: Callable[[K, V], int]) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("a cache needs room for at least one entry and one byte")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._cost = cost  # what one entry costs in bytes: its key, value and the dict slot
        # an OrderedDict: a plain dict's "first key" gets slower as its front is popped again and again
        self._data: OrderedDict[K, V] = OrderedDict()
        self._bytes = 0

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def put(self, key: K, value: V) -> None:
        cost = self._cost(key, value)
        if cost > self.max_bytes or key in self._data:
            return
        data = self._data
        while data and (len(data) >= self.max_entries or self._bytes + cost > self.max_bytes):
            oldest, evicted = data.popitem(last=False)  # (not `value`: that is the entry being put)
            self._bytes -= self._cost(oldest, evicted)
        data[key] = value
        self._bytes += cost

    def clear(self) -> None:
        self._data.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def bytes(self) -> int:
        """Bytes accounted for (by ``cost``) of the entries held now."""
        return self._bytes
