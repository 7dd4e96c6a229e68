"""The opt-out table of ONE partition, read and written without Faust's event context.

Faust's ``Table[key] = value`` finds the partition through the "current event"
(a context variable set by its stream machinery). The batch processor works
below that machinery, so it names the partition explicitly: values go to the
partition's RocksDB database and to the same partition of the changelog, with
Faust's own callback recording the changelog offset for recovery. The bytes
are those Faust itself would write (raw key, JSON value), so Faust's recovery,
standby replicas and ``Table.get`` read them unchanged.

Writes are held back until :meth:`flush`, which the batch processor calls
only after the batch's outputs (consent log, confirmations, decisions) are with
the producer. Reads see the held-back writes. So a worker stopped in between
loses the state change together with its outputs, and the replayed records
produce both again; the other order would store the change and lose the
outputs (the replay is then taken for a duplicate).
"""

from __future__ import annotations

from typing import Any

import faust

from app.records import dumps, loads


class PartitionTable:
    __slots__ = ("_db", "_index", "_partition", "_pending", "_table")

    def __init__(self, table: faust.Table, partition: int) -> None:
        store = table.data
        self._table = table
        self._partition = partition
        self._db = store._db_for_partition(partition)
        self._index = store._key_index
        self._pending: dict[bytes, Any] = {}

    def get(self, key: bytes, default: Any = None) -> Any:
        if key in self._pending:
            return self._pending[key]
        raw = self._db.get(key)
        return default if raw is None else loads(raw)

    def __setitem__(self, key: bytes, value: Any) -> None:
        self._pending[key] = value

    def flush(self) -> None:
        """Store the held-back writes: RocksDB, then the changelog (same partition)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        for key, value in pending.items():
            raw = dumps(value)
            self._db.put(key, raw)
            self._index[key] = self._partition
            self._table.send_changelog(self._partition, key, raw, key_serializer="raw", value_serializer="raw")

    def discard(self) -> None:
        self._pending.clear()
