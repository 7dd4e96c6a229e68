"""RocksDB stores: what they keep, and their memory bound (``app/runtime/rocks.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.runtime.rocks import RocksStores
from app.settings import Settings
from app.stream.keys import CHANGELOG_NEXT_KEY, ORIGINS_KEY

KIB = 1024


def stores(tmp_path: Path, **settings: int) -> RocksStores:
    return RocksStores(Settings(data_dir=tmp_path, kafka_bootstrap_servers="unused:9092", **settings))


def test_changes_and_the_changelog_position_survive_a_reopen(tmp_path: Path) -> None:
    s = stores(tmp_path)
    s.open(3).write({b"+16175550123|default": b'{"opted_out":true}'}, 17)
    s.open(3).write({b"+16175550123|default": b'{"opted_out":false}'}, 12)  # never goes back
    s.close_all()
    again = stores(tmp_path).open(3)
    assert again.get(b"+16175550123|default") == b'{"opted_out":false}'
    assert again.changelog_next() == 17 and again.get(CHANGELOG_NEXT_KEY) == b"17"


def test_the_block_cache_is_one_per_worker_and_lookups_do_not_fill_it(tmp_path: Path) -> None:
    s = stores(tmp_path, rocksdb_block_cache_bytes=2 * 1024 * KIB)
    a, b = s.open(0), s.open(1)
    for i in range(3000):
        a.write({f"+1617555{i:04d}|default".encode(): b"x" * 200}, i + 1)
    a.db.flush()
    after_flush = s.memory()["block_cache_usage"]
    for i in range(3000):
        assert a.get(f"+1617555{i:04d}|default".encode()) == b"x" * 200
    memory = s.memory()
    usage = memory["partitions"]
    assert memory["block_cache_capacity"] == 2 * 1024 * KIB
    # ~600 KiB of data read, none of it cached (the usage is the memtables' reservation)
    assert 0 < memory["block_cache_usage"] <= after_flush
    # one cache: partition 1 read nothing, and reports the same usage as partition 0
    assert usage[0]["block-cache-usage"] == usage[1]["block-cache-usage"] == memory["block_cache_usage"]
    assert b.get(b"nothing") is None


def test_a_reopened_store_keeps_the_workers_options_not_those_of_its_files(tmp_path: Path) -> None:
    """rocksdict opens an existing database with the options of its OPTIONS file unless the
    column family's are given: every restart lost the bloom filter (a lookup of a number not
    in the table read and decompressed a data block of every file, ~3 µs instead of ~0.3)
    and got a block cache of 8 MiB per partition instead of the worker's one."""
    first = stores(tmp_path, rocksdb_block_cache_bytes=3 * 1024 * KIB)
    for partition in (0, 1):
        first.open(partition).write({b"+16175550123|default": b'{"opted_out":true}'}, 1)
        first.open(partition).db.flush()
    first.close_all()
    again = stores(tmp_path, rocksdb_block_cache_bytes=3 * 1024 * KIB)
    for partition in (0, 1):
        store = again.open(partition)
        assert store.get(b"+16175550123|default") == b'{"opted_out":true}'
        assert store.db.property_int_value("rocksdb.block-cache-capacity") == 3 * 1024 * KIB
        newest = max((tmp_path / "sms-optout" / "state" / str(partition)).glob("OPTIONS-*"),
                     key=lambda f: int(f.name.split("-")[1]))
        assert "filter_policy=bloomfilter" in newest.read_text()


def test_bookkeeping_rewritten_at_every_checkpoint_does_not_grow_the_memtable(tmp_path: Path) -> None:
    """The highest decided input offset per input partition and the changelog position are
    rewritten at every checkpoint (10 a second): updated in place, not appended."""
    store = stores(tmp_path).open(0)
    origins = {f"app.outbound:{p}": 100_000 for p in range(16)}
    store.write({ORIGINS_KEY: json.dumps(origins).encode()}, 100_000)
    before = store.db.property_int_value("rocksdb.cur-size-all-mem-tables")
    for checkpoint in range(1, 5001):
        origins = {name: offset + 17 for name, offset in origins.items()}
        store.write({ORIGINS_KEY: json.dumps(origins).encode()}, 100_000 + checkpoint)
    assert store.db.property_int_value("rocksdb.num-entries-active-mem-table") <= 4
    assert store.db.property_int_value("rocksdb.cur-size-all-mem-tables") - before < 64 * KIB
    assert json.loads(store.get(ORIGINS_KEY) or b"{}") == origins
    assert store.changelog_next() == 105_000


def test_the_memtables_of_all_partitions_share_one_write_buffer_budget(tmp_path: Path) -> None:
    """Each partition writes less than its own write buffer (512 KiB), together 6 times more:
    without the worker's shared budget nothing would ever be flushed."""
    budget = 512 * KIB
    s = stores(tmp_path, rocksdb_write_buffer_bytes=budget, rocksdb_max_write_buffers=2)
    opened = [s.open(p) for p in range(8)]
    for i in range(8 * 1300):  # ~ 3 MiB of distinct keys, ~ 390 KiB per partition
        opened[i % 8].write({f"+1617{i:07d}|default".encode(): b"v" * 250}, i + 1)
        if i % 400 == 399:
            time.sleep(0.01)  # let the background flushes run (a worker writes ~50 KiB/s)
    deadline = time.monotonic() + 20
    while s.memory()["write_buffer_usage"] > 1.25 * budget and time.monotonic() < deadline:
        time.sleep(0.05)
    memory = s.memory()
    assert memory["write_buffer_budget"] == budget
    total = sum(p["cur-size-all-mem-tables"] for p in memory["partitions"].values())
    # a soft limit: a flush starts once the memtables pass ~90 % of it, checked at each write
    assert memory["write_buffer_usage"] <= 1.25 * budget and total <= 1.25 * budget
    flushed = [p for p, values in memory["partitions"].items() if values["live-sst-files-size"]]
    assert len(flushed) >= 4
    # the memtables' memory is charged to the block cache: one bound for RocksDB on the worker
    assert memory["block_cache_usage"] >= memory["write_buffer_usage"]
    assert all(store.get(f"+1617{i:07d}|default".encode()) == b"v" * 250
               for i, store in ((i, opened[i % 8]) for i in range(0, 8 * 1300, 97)))


def test_index_and_filter_blocks_are_freed_with_the_files_a_compaction_replaces(tmp_path: Path) -> None:
    """Four flushes, then one compaction: the index and filter blocks are the table readers'
    (not the block cache's, where RocksDB left those of replaced files until the cache was
    full), and go with the four replaced files; lookups use the live file's."""
    s = stores(tmp_path)
    store = s.open(0)
    keys = [f"history|+1617555{i:04d}|default|0000".encode() for i in range(4000)]
    for flush in range(4):
        for i in range(flush, len(keys), 4):
            store.write({keys[i]: b"e" * 300}, i + 1)
        store.db.flush()
    readers = store.db.property_int_value("rocksdb.estimate-table-readers-mem")
    store.db.compact_range(None, None)
    cache = s.cache.get_usage()
    assert all(store.get(key) == b"e" * 300 for key in keys[::50])
    live = store.db.property_int_value("rocksdb.estimate-table-readers-mem")
    assert store.db.property_int_value("rocksdb.num-files-at-level0") == 0
    assert 4000 < live < readers  # the live file's (its filter alone: 10 bits a key); the replaced ones' went
    assert live <= 4000 * 6  # a few bytes per key (~2.5 in make soak: README, "The rules that keep the promise")
    assert cache == s.cache.get_pinned_usage()  # the cache holds the memtables' reservation, nothing left over
    assert s.cache.get_usage() == cache  # and lookups cached nothing
    assert s.memory()["table_readers"] == live  # reported (/metrics: rocksdb_table_readers_bytes)


RELEASE = r"""
import sys, tempfile
from pathlib import Path
from app.runtime.rocks import RocksStores
from app.settings import Settings

def rss_mib():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1]) / 1024

stores = RocksStores(Settings(data_dir=Path(tempfile.mkdtemp()), kafka_bootstrap_servers="unused:9092"))
blobs = [bytes(1024) + i.to_bytes(4, "little") for i in range(60_000)]  # ~60 MiB through malloc
pin = bytes(4096)  # allocated last: the top of the heap stays in use, so free() alone returns nothing
full = rss_mib()
del blobs
kept = rss_mib()
stores.release_memory()
print(full, kept, rss_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim, /proc")
def test_release_memory_gives_freed_heap_pages_back() -> None:
    done = subprocess.run([sys.executable, "-c", RELEASE], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    full, kept, released = (float(x) for x in done.stdout.split())
    assert kept > full - 10  # freed, but held by malloc
    assert released < kept - 40  # given back


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from app.runtime.rocks import RocksStores
from app.settings import Settings
stores = RocksStores(Settings(data_dir=Path(sys.argv[1]), kafka_bootstrap_servers="unused:9092",
                              rocksdb_block_cache_bytes=3 * 1024 * 1024))
store = stores.open(0)
store.write({b"+16175550123|default": b'{"opted_out":true}'}, 7)
store.db.flush()
store.write({b"+16175550124|default": b'{"opted_out":true}'}, 8)  # in the memtable only (no write-ahead log)
os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush
"""


def test_a_store_reopened_after_its_worker_was_killed_keeps_its_data_and_the_workers_options(tmp_path: Path) -> None:
    """The reopen after a hard kill goes through the same options as a first open: the bloom
    filter and the worker's one block cache. The store has no write-ahead log (the changelog
    is its log): what was flushed is there, with the changelog position it reached; the
    batch still in the memtable is gone, position and change together (recovery reads it
    from the changelog again)."""
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=Path(__file__).resolve().parents[4],
                            capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    store = stores(tmp_path, rocksdb_block_cache_bytes=3 * 1024 * KIB).open(0)
    assert store.get(b"+16175550123|default") == b'{"opted_out":true}'
    assert store.get(b"+16175550124|default") is None
    assert store.changelog_next() == 7
    assert store.db.property_int_value("rocksdb.block-cache-capacity") == 3 * 1024 * KIB
    newest = max((tmp_path / "sms-optout" / "state" / "0").glob("OPTIONS-*"), key=lambda f: int(f.name.split("-")[1]))
    assert "filter_policy=bloomfilter" in newest.read_text()


PREFIX_WRITER = """
import os, signal, sys
from pathlib import Path
from app.runtime.rocks import RocksStores
from app.settings import Settings
stores = RocksStores(Settings(data_dir=Path(sys.argv[1]), kafka_bootstrap_servers="unused:9092",
                              rocksdb_write_buffer_bytes=64 * 1024))
store = stores.open(0)
for i in range(int(sys.argv[2])):  # batch i: key i, and key 'last' rewritten; the position i + 1
    store.write({b"k%06d" % i: b"%d" % i, b"last": b"%d" % i}, i + 1)
os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush
"""


def test_a_killed_store_reopens_at_a_position_with_exactly_the_changes_below_it(tmp_path: Path) -> None:
    """Without a write-ahead log a hard kill loses the batches still in the memtables: the store
    reopens with a prefix of its batches, the position among them (never a change without its
    position, nor a position without its changes), and takes more batches after it."""
    batches = 20_000
    killed = subprocess.run([sys.executable, "-c", PREFIX_WRITER, str(tmp_path), str(batches)],
                            cwd=Path(__file__).resolve().parents[4], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    store = stores(tmp_path).open(0)
    reached = store.changelog_next()
    assert 0 < reached <= batches  # some memtables were flushed (64 KiB); the last one, most likely not
    assert store.get(b"last") == b"%d" % (reached - 1)
    assert all(store.get(b"k%06d" % i) == b"%d" % i for i in range(reached))
    assert store.get(b"k%06d" % reached) is None
    assert not [key for key, _ in store.scan(b"k%06d" % reached, 10, b"k")]
    store.write({b"k%06d" % reached: b"again"}, reached + 1)
    store.close()
    reopened = stores(tmp_path).open(0)  # a clean close flushes the memtables
    assert reopened.changelog_next() == reached + 1 and reopened.get(b"k%06d" % reached) == b"again"
