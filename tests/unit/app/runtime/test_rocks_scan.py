"""``RocksStore.scan``: the same contract as the memory store, and what it must not do
to the worker's memory (``app/runtime/rocks.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.runtime.rocks import RocksStores, _after_prefix
from app.settings import Settings
from tests.unit.app.engine.test_store_scan import CHECKS, NewStore

KIB = 1024


def stores(tmp_path: Path, **settings: int) -> RocksStores:
    return RocksStores(Settings(data_dir=tmp_path, kafka_bootstrap_servers="unused:9092", **settings))


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_rocks_store_scan(tmp_path: Path, check: Callable[[NewStore], None]) -> None:
    s = stores(tmp_path)
    opened = iter(range(100))
    try:
        check(lambda: s.open(next(opened)))
    finally:
        s.close_all()


def test_the_bound_after_a_prefix() -> None:
    assert _after_prefix(b"+") == b","
    assert _after_prefix(b"ab\xff") == b"ac"
    assert _after_prefix(b"\xff\xff") is None


def test_flushed_keys_are_scanned_and_a_scan_does_not_fill_the_block_cache(tmp_path: Path) -> None:
    s = stores(tmp_path, rocksdb_block_cache_bytes=2 * 1024 * KIB)
    store = s.open(0)
    keys = [f"+1617555{i:04d}|default".encode() for i in range(3000)]
    for i, key in enumerate(keys):
        store.write({key: b"x" * 200}, i + 1)
    store.db.flush()
    before = s.memory()["block_cache_usage"]
    seen, after = [], None
    while chunk := store.scan(after, 500, b"+"):
        seen += [k for k, _ in chunk]
        after = chunk[-1][0]
    assert seen == keys
    assert s.memory()["block_cache_usage"] <= before + 64 * KIB  # data blocks went through, not into the cache
    s.close_all()
