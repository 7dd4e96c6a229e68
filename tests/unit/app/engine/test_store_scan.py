"""``StorePort.scan``: stored keys in order, in chunks, after a key, under a prefix.

The checks take a fresh store; they run here on :class:`MemoryStore` and in
``tests/unit/app/runtime/test_rocks_scan.py`` on RocksDB, so both stores answer alike."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from app.engine.ports import StorePort
from app.engine.state import MemoryStore, PartitionState

NewStore = Callable[[], StorePort]

KEYS = [b"+14155550100|acme", b"+14155550100|acme|replies", b"+14155550101|acme", b"+4930123456|default",
        b"__decided__", b"__offsets__", b"review|0-abc", b"reviews|pending", b"+14155550100|a\xffb"]


def filled(new: NewStore) -> StorePort:
    store = new()
    shuffled = KEYS[:]
    random.Random(7).shuffle(shuffled)
    for i, key in enumerate(shuffled):
        store.write({key: b"v" + key}, i + 1)
    return store


def all_by_chunks(store: StorePort, size: int, prefix: bytes | None = None) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    after = None
    while True:
        chunk = store.scan(after, size, prefix)
        assert len(chunk) <= size
        if not chunk:
            return out
        out += chunk
        after = chunk[-1][0]


def check_order_and_chunks(new: NewStore) -> None:
    store = filled(new)
    stored = [(k, v) for k, v in sorted(store.scan(None, 1000)) if k in KEYS]
    assert stored == [(k, b"v" + k) for k in sorted(KEYS)]
    assert [k for k, _ in store.scan(None, 1000) if k in KEYS] == sorted(KEYS)  # in key order
    for size in (1, 2, 3, 1000):
        assert [kv for kv in all_by_chunks(store, size) if kv[0] in KEYS] == stored


def check_after_a_key(new: NewStore) -> None:
    store = filled(new)
    everything = store.scan(None, 1000)
    keys = [k for k, _ in everything]
    for i, key in enumerate(keys):
        assert store.scan(key, 1000) == everything[i + 1:]  # strictly after
    assert store.scan(b"+14155550100|acme\x00", 1)[0][0] == b"+14155550100|acme|replies"  # not stored: next one
    assert store.scan(b"\xff\xff", 10) == []
    assert store.scan(None, 0) == []


def check_prefix(new: NewStore) -> None:
    store = filled(new)
    numbers = sorted(k for k in KEYS if k.startswith(b"+"))
    assert [k for k, _ in store.scan(None, 100, b"+")] == numbers
    assert [k for k, _ in all_by_chunks(store, 2, b"+")] == numbers
    assert [k for k, _ in store.scan(None, 100, b"review")] == [b"reviews|pending", b"review|0-abc"]  # "|" > "s"
    assert [k for k, _ in store.scan(b"+14155550101|acme", 100, b"+1415")] == []
    assert [k for k, _ in store.scan(b"+", 100, b"+1415")] == sorted(k for k in KEYS if k.startswith(b"+1415"))
    assert [k for k, _ in store.scan(b"+4930123456|default", 100, b"+")] == []  # the last one
    assert [k for k, _ in store.scan(b"!", 100, b"+4")] == [b"+4930123456|default"]  # "after" before the prefix
    assert [k for k, _ in store.scan(None, 100, b"\xff")] == []


def check_later_writes(new: NewStore) -> None:
    store = filled(new)
    first = store.scan(None, 2, b"+")
    store.write({b"+10000000000|acme": b"new", b"+19999999999|acme": b"new", first[0][0]: b"changed"}, 99)
    rest = store.scan(first[-1][0], 100, b"+")
    assert b"+19999999999|acme" in [k for k, _ in rest]  # a key after the cursor is seen
    assert b"+10000000000|acme" not in [k for k, _ in rest]  # one before it is not: never twice
    assert store.scan(None, 1, b"+")[0] == (b"+10000000000|acme", b"new")
    assert store.get(first[0][0]) == b"changed"


CHECKS = [check_order_and_chunks, check_after_a_key, check_prefix, check_later_writes]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_memory_store_scan(check: Callable[[NewStore], None]) -> None:
    check(MemoryStore)


def test_a_scan_reads_the_stored_state_not_what_the_checkpoint_holds_back() -> None:
    state = PartitionState(0, MemoryStore())
    state[b"+14155550100|acme"] = {"opted_out": True}
    assert state.store.scan(None, 10) == []
    state.persist(state.pending(), 1)
    assert state.store.scan(None, 10) == [(b"+14155550100|acme", b'{"opted_out":true}')]
