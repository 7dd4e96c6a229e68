"""The opt-out table of ONE partition, read and written without Faust's event context.

Faust's ``Table[key] = value`` finds the partition through the "current event"
(a context variable set by its stream machinery). The batch processor works
below that machinery, so it names the partition explicitly: values go to the
partition's RocksDB database and to the same partition of the changelog, with
Faust's own callback recording the changelog offset for recovery. The bytes
are those Faust itself would write (raw key, JSON value), so Faust's recovery,
standby replicas and ``Table.get`` read them unchanged.
"""

from __future__ import annotations

from typing import Any

import faust

from app.records import dumps, loads


class PartitionTable:
    __slots__ = ("_db", "_index", "_partition", "_table")

    def __init__(self, table: faust.Table, partition: int) -> None:
        store = table.data
        self._table = table
        self._partition = partition
        self._db = store._db_for_partition(partition)
        self._index = store._key_index

    def get(self, key: bytes, default: Any = None) -> Any:
        raw = self._db.get(key)
        return default if raw is None else loads(raw)

    def __setitem__(self, key: bytes, value: Any) -> None:
        raw = dumps(value)
        self._db.put(key, raw)
        self._index[key] = self._partition
        self._table.send_changelog(self._partition, key, raw, key_serializer="raw", value_serializer="raw")
