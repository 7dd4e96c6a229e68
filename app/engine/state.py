"""One partition's state: writes held in an overlay until the checkpoint stores them.

Reads see the overlay. The checkpoint writes the overlay to the store only after
its outputs and its changelog records are acknowledged; until then a crash
loses the change together with its outputs, and the replay makes both again.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from app.engine.ports import StorePort
from app.records import dumps, loads
from app.stream.keys import is_bookkeeping


class PartitionState:
    __slots__ = ("_pending", "partition", "store")

    def __init__(self, partition: int, store: StorePort) -> None:
        self.partition = partition
        self.store = store
        self._pending: dict[bytes, Any] = {}

    def get(self, key: bytes, default: Any = None) -> Any:
        if key in self._pending:
            return self._pending[key]
        raw = self.store.get(key)
        return default if raw is None else loads(raw)

    def __setitem__(self, key: bytes, value: Any) -> None:
        self._pending[key] = value

    def pending(self) -> dict[bytes, bytes]:
        """The held-back writes, encoded (what the changelog and the store get).

        Bookkeeping keys (``__...``, :mod:`app.stream.keys`, e.g. which inputs were decided) come last: a
        crash in the middle of writing the changelog must never leave a record
        saying an input was decided without the state change it made."""
        items = sorted(self._pending.items(), key=lambda kv: is_bookkeeping(kv[0]))
        return {key: dumps(value) for key, value in items}

    def has_pending(self) -> bool:
        return bool(self._pending)

    def persist(self, encoded: dict[bytes, bytes], changelog_next: int) -> None:
        self.store.write(encoded, changelog_next)
        for key in encoded:
            self._pending.pop(key, None)

    def discard(self) -> None:
        self._pending.clear()


class MemoryStore:
    """A :class:`StorePort` in memory (tests, the driver)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.next = 0
        self._sorted: list[bytes] | None = None  # the keys in order, for scan (None: to sort again)

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def write(self, changes: dict[bytes, bytes], changelog_next: int) -> None:
        if self._sorted is not None and any(key not in self.data for key in changes):
            self._sorted = None
        self.data.update(changes)
        self.next = max(self.next, changelog_next)

    def changelog_next(self) -> int:
        return self.next

    def scan(self, after: bytes | None, limit: int, prefix: bytes | None = None) -> list[tuple[bytes, bytes]]:
        if self._sorted is None or len(self._sorted) != len(self.data):  # ``data`` may be written directly
            self._sorted = sorted(self.data)
        keys = self._sorted
        start = bisect_right(keys, after) if after is not None else 0
        if prefix is not None:
            start = max(start, bisect_left(keys, prefix))
        out: list[tuple[bytes, bytes]] = []
        for key in keys[start:start + max(limit, 0)]:
            if prefix is not None and not key.startswith(prefix):
                break
            value = self.data.get(key)
            if value is not None:
                out.append((key, value))
        return out

    def close(self) -> None:
        pass


class MemoryStores:
    """A :class:`StoreFactory` in memory; stores survive a simulated crash unless wiped."""

    def __init__(self) -> None:
        self.stores: dict[int, MemoryStore] = {}
        self.releases = 0  # release_memory calls

    def open(self, partition: int) -> MemoryStore:
        return self.stores.setdefault(partition, MemoryStore())

    def close(self, partition: int) -> None:
        pass

    def release_memory(self) -> None:
        self.releases += 1

    def wipe(self) -> None:
        self.stores.clear()
