"""The state store on RocksDB (rocksdict): one database per routed partition.

Changes and the changelog offset they reach are written in one write batch, so
the store never claims a changelog position it does not hold. Memory is set
explicitly per partition (README, Configuration): RocksDB's defaults would
reserve far more.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import rocksdict
from rocksdict import Options, Rdict, WriteBatch

from app.settings import Settings

NEXT_KEY = b"__changelog_next__"


def _options(settings: Settings) -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_max_open_files(64)
    options.set_write_buffer_size(settings.rocksdb_write_buffer_bytes)
    options.set_max_write_buffer_number(settings.rocksdb_max_write_buffers)
    table = rocksdict.BlockBasedOptions()
    table.set_block_cache(rocksdict.Cache(settings.rocksdb_block_cache_bytes))
    table.set_bloom_filter(10, block_based=True)
    options.set_block_based_table_factory(table)
    return options


class RocksStore:
    def __init__(self, path: Path, options: Options) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = Rdict(str(path), options)
        raw = self.db.get(NEXT_KEY)
        self._next = int(raw) if raw else 0

    def get(self, key: bytes) -> bytes | None:
        return self.db.get(key)

    def write(self, changes: dict[bytes, bytes], changelog_next: int) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in changes.items():
            batch.put(key, value)
        self._next = max(self._next, changelog_next)
        batch.put(NEXT_KEY, str(self._next).encode())
        self.db.write(batch)

    def changelog_next(self) -> int:
        return self._next

    def close(self) -> None:
        self.db.close()


class RocksStores:
    def __init__(self, settings: Settings) -> None:
        self.root = Path(settings.data_dir) / settings.app_id / "state"
        self.options = _options(settings)
        self.open_stores: dict[int, RocksStore] = {}

    def open(self, partition: int) -> RocksStore:
        store = self.open_stores.get(partition)
        if store is None:
            store = self.open_stores[partition] = RocksStore(self.root / f"{partition}", self.options)
        return store

    def close(self, partition: int) -> None:
        store = self.open_stores.pop(partition, None)
        if store is not None:
            store.close()

    def close_all(self) -> None:
        for partition in list(self.open_stores):
            self.close(partition)

    def wipe(self) -> None:
        self.close_all()
        shutil.rmtree(self.root, ignore_errors=True)
