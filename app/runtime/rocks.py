"""The state store on RocksDB (rocksdict): one database per routed partition.

Changes and the changelog offset they reach are written in one write batch, so
the store never claims a changelog position it does not hold.

Memory (README, "The rules that keep the promise") has two parts on a worker, neither
growing with the rate of records:

- **the block cache**, ``rocksdb_block_cache_bytes``, one cache shared by every
  partition's database on the worker (one cache object in the shared table options),
  charged with the **memtables**: each partition's are at most
  ``rocksdb_max_write_buffers`` x ``rocksdb_write_buffer_bytes``; together, those of every
  partition on the worker are held to ``rocksdb_write_buffer_bytes`` by one write buffer
  manager, which flushes a database when the total passes it, and whose memory is reserved
  in the block cache. Without it the memtables filled up to 8 partitions x 4 MiB before
  the first flush: at 1,500 records/s that took ~15 minutes, a steady rise of the
  worker's RSS (``make soak``);
- **the index and filter blocks of the live SST files**, held by their table readers:
  ~2.5 bytes per stored key (``make soak``: 0.48 MiB for the 202,665 keys stored after 30
  minutes), growing with the table, not with the rate of records, and freed with the file
  when a compaction replaces it. Charged to the block cache instead, they stayed there
  after their file was replaced (RocksDB evicts nothing before the cache is full, and
  nothing reads them again): the cache filled with them for the whole of a 30-minute soak
  run. They are not
  charged to the cache for a second reason: lookups do not fill it (below), so an index
  block evicted from it would be read from the file at every lookup.

**Data blocks are not cached** by the lookups (``fill_cache`` off): they are read from
the operating system's page cache, which is not the worker's memory. Cached, they
filled the block cache over ~8 minutes at 1,500 records/s (every flush and
compaction makes new blocks), and a lookup from the page cache costs about the same
on this table (~2 µs either way).

**Listings** (:meth:`RocksStore.scan`) read the stored keys in order, a few hundred per call,
through an iterator with ``fill_cache`` off too: a listing or an export of the whole table
reads its blocks once and leaves the cache to the lookups.

**Freed memory goes back**: :meth:`RocksStores.release_memory` (the engine loop calls it
every 30 s) runs glibc's ``malloc_trim(0)`` (:mod:`app.runtime.malloc`, which also sets
malloc's thresholds at start). Flushes, compactions and bursts of records
free memory inside malloc's heaps that malloc keeps; without it the worker's RSS stays
at the highest point any burst reached (``make soak``: a burst at minute 4 kept ~10 MiB
for the rest of the run).

**No write-ahead log** (as Kafka Streams' RocksDB stores): the changelog is the store's log.
A write batch (changes and the changelog position they reach) goes to the memtable only; a
hard kill loses the batches not yet flushed to a file, all of them after some point, so the
store reopens at an older changelog position with exactly the changes below it, and recovery
reads the rest from the changelog. Nothing is written to a store that is not in the changelog
first (checkpoint step 4, recovery, standbys). A clean close flushes the memtables. Without
the log, each batch is written once instead of twice: recovering 1,000,000 changelog records
(the worker's changelog reader and stores, in one process, 5 runs paired with the log on)
went from a median of 178,367 to 199,846 records/s, the stores' writes from 1.86 to 1.52 s.

**In-place updates**: the bookkeeping keys (the changelog position, the highest input
offsets decided) are rewritten at every checkpoint with a value of the same size;
RocksDB then updates them in the memtable instead of appending a new version each
time, so the memtables fill with the keys that change, not with the number of
checkpoints. (Writes come from one thread: concurrent memtable writes, which in-place
updates exclude, are not needed.)

:meth:`RocksStores.memory` reports RocksDB's own figures.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import rocksdict
from rocksdict import Options, Rdict, ReadOptions, WriteBatch, WriteOptions

from app.runtime import malloc
from app.settings import Settings
from app.stream.keys import CHANGELOG_NEXT_KEY

# Memtables allocate in arena blocks (RocksDB's default: an eighth of the write buffer,
# 512 KiB): that much per partition even when nearly empty. Smaller blocks keep the
# write buffer manager's budget for data.
ARENA_BLOCK_BYTES = 64 * 1024
# In-place updates lock stripes of the memtable (RocksDB's default: 10,000 locks, 560 KB
# allocated with every memtable, at every flush, outside the write buffer budget). Writes come
# from one thread: a few stripes are enough.
INPLACE_UPDATE_LOCKS = 16
# Index entries written whole only every 16th (RocksDB's default: every one), the others sharing
# their prefix: ~40 % less memory for the index and filter blocks (4.4 -> 2.5 bytes per stored
# key in make soak; a lookup ~0.1 µs slower).
INDEX_RESTART_INTERVAL = 16
DEFAULT_FAMILY = "default"
PROPERTIES = (  # per database, in bytes (or counts)
    "rocksdb.cur-size-all-mem-tables",
    "rocksdb.size-all-mem-tables",
    "rocksdb.estimate-table-readers-mem",
    "rocksdb.block-cache-usage",
    "rocksdb.block-cache-pinned-usage",
    "rocksdb.estimate-num-keys",
    "rocksdb.num-entries-active-mem-table",
    "rocksdb.live-sst-files-size",
)


def _options(settings: Settings, cache: rocksdict.Cache, write_buffers: rocksdict.WriteBufferManager) -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_max_open_files(64)
    options.set_write_buffer_size(settings.rocksdb_write_buffer_bytes)
    options.set_max_write_buffer_number(settings.rocksdb_max_write_buffers)
    options.set_arena_block_size(min(ARENA_BLOCK_BYTES, settings.rocksdb_write_buffer_bytes))
    options.set_write_buffer_manager(write_buffers)
    options.set_allow_concurrent_memtable_write(False)
    options.set_inplace_update_support(True)
    options.set_inplace_update_locks(INPLACE_UPDATE_LOCKS)
    table = rocksdict.BlockBasedOptions()
    table.set_block_cache(cache)
    table.set_cache_index_and_filter_blocks(False)  # held by the table readers (module docstring)
    table.set_index_block_restart_interval(INDEX_RESTART_INTERVAL)
    table.set_bloom_filter(10, block_based=True)
    options.set_block_based_table_factory(table)
    return options


def _after_prefix(prefix: bytes) -> bytes | None:
    """The least key greater than every key starting with ``prefix`` (None: there is none)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else None


def _write_options() -> WriteOptions:
    write = WriteOptions()
    write.disable_wal = True  # the changelog is the log (module docstring)
    return write


def _read_options() -> ReadOptions:
    read = ReadOptions()
    read.fill_cache(False)
    return read


class RocksStore:
    def __init__(self, path: Path, options: Options) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the default column family's options given too: else rocksdict opens an existing
        # database with those of its OPTIONS file (no bloom filter, a cache of its own)
        self.db = Rdict(str(path), options, column_families={DEFAULT_FAMILY: options})
        self.db.set_read_options(_read_options())
        self._write = _write_options()
        raw = self.db.get(CHANGELOG_NEXT_KEY)
        self._next = int(raw) if raw else 0

    def get(self, key: bytes) -> bytes | None:
        return self.db.get(key)

    def write(self, changes: dict[bytes, bytes], changelog_next: int) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in changes.items():
            batch.put(key, value)
        self._next = max(self._next, changelog_next)
        batch.put(CHANGELOG_NEXT_KEY, str(self._next).encode())
        self.db.write(batch, self._write)

    def changelog_next(self) -> int:
        return self._next

    def scan(self, after: bytes | None, limit: int, prefix: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Stored pairs in key order after ``after`` (see :meth:`StorePort.scan`): one iterator per
        call, positioned by a seek, reading at most ``limit`` keys; data blocks are not
        cached (``fill_cache`` off, as for the lookups: a listing of the whole table must not
        fill the block cache)."""
        read = _read_options()
        upper = _after_prefix(prefix) if prefix else None
        if upper is not None:
            read.set_iterate_upper_bound(upper)
        it = self.db.iter(read)
        if after is not None and (prefix is None or after >= prefix):
            it.seek(after)
            if it.valid() and it.key() == after:
                it.next()
        else:
            it.seek(prefix or b"")
        out: list[tuple[bytes, bytes]] = []
        while len(out) < limit and it.valid():
            key = it.key()
            if prefix is not None and not key.startswith(prefix):
                break
            out.append((key, it.value()))
            it.next()
        return out

    def close(self) -> None:
        self.db.close()


class RocksStores:
    def __init__(self, settings: Settings) -> None:
        self.root = Path(settings.data_dir) / settings.app_id / "state"
        self.settings_cache_bytes = settings.rocksdb_block_cache_bytes
        self.cache = rocksdict.Cache(settings.rocksdb_block_cache_bytes)
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            settings.rocksdb_write_buffer_bytes, False, self.cache)
        self.options = _options(settings, self.cache, self.write_buffers)
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

    def release_memory(self) -> None:
        """Give the memory freed inside malloc's heaps back to the system."""
        malloc.trim()

    def memory(self) -> dict:
        """RocksDB's memory figures: the worker's shared block cache (its usage includes the
        memtables' reservations) and write buffer budget, the index and filter blocks of
        the open partitions (``table_readers``), and each open partition's properties
        (``rocksdb.`` prefix dropped)."""
        partitions: dict[int, dict[str, int | None]] = {}
        for partition, store in sorted(self.open_stores.items()):
            values: dict[str, int | None] = {}
            for name in PROPERTIES:
                try:
                    values[name.removeprefix("rocksdb.")] = store.db.property_int_value(name)
                except Exception:  # noqa: BLE001 - closed meanwhile, or unknown to this build
                    values[name.removeprefix("rocksdb.")] = None
            partitions[partition] = values
        return {
            "block_cache_capacity": self.settings_cache_bytes,
            "block_cache_usage": self.cache.get_usage(),
            "block_cache_pinned": self.cache.get_pinned_usage(),
            "write_buffer_budget": self.write_buffers.get_buffer_size(),
            "write_buffer_usage": self.write_buffers.get_usage(),
            "table_readers": sum(v["estimate-table-readers-mem"] or 0 for v in partitions.values()),
            "partitions": partitions,
        }

    def wipe(self) -> None:
        self.close_all()
        shutil.rmtree(self.root, ignore_errors=True)
