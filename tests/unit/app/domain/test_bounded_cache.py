import tracemalloc

import pytest

from app.domain.bounded_cache import BoundedCache
from app.domain.numbers import MAX_NUMBER_CHARS, PARSE_CACHE_BYTES, _entry_cost, parse_number


def cost(key: str, value: int) -> int:
    return len(key)


def test_entries_are_bounded():
    cache = BoundedCache(3, 1000, cost)
    for key in "abcdef":
        cache.put(key, 1)
    assert len(cache) == 3 and cache.get("a") is None and cache.get("f") == 1


def test_bytes_are_bounded():
    cache = BoundedCache(1000, 10, cost)
    cache.put("aaaa", 1)
    cache.put("bbbb", 2)
    cache.put("cccc", 3)  # 12 bytes: the oldest goes
    assert cache.get("aaaa") is None and cache.bytes == 8
    cache.put("x" * 11, 4)  # larger than the whole cache: not kept
    assert cache.get("x" * 11) is None and cache.bytes == 8


def test_a_key_already_held_is_not_counted_twice():
    cache = BoundedCache(10, 100, cost)
    cache.put("k", 1)
    cache.put("k", 2)
    assert cache.bytes == 1 and cache.get("k") == 1


def test_no_room_is_refused():
    with pytest.raises(ValueError):
        BoundedCache(0, 10, cost)


def test_the_parse_cache_accounting_covers_what_python_allocates():
    """Fill a fresh cache with worst-case keys (64 characters, astral: 4 bytes each)
    and compare the bytes it accounts for with what tracemalloc sees."""
    import app.domain.numbers as numbers

    saved = numbers._lenient_cache
    numbers._lenient_cache = BoundedCache(2000, PARSE_CACHE_BYTES, _entry_cost)
    try:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for i in range(2000):
            raw = f"+1 213 555 {i:04d} " + "\U0001f600" * (MAX_NUMBER_CHARS - 16)
            assert len(raw) == MAX_NUMBER_CHARS
            parse_number(raw, "US")
        used = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
        tracemalloc.stop()
        accounted = numbers._lenient_cache.bytes
        assert len(numbers._lenient_cache) == 2000
        assert used <= accounted * 1.1, (used, accounted)
        assert accounted / 2000 < 1024  # per entry, so the byte bound binds before the entry bound
    finally:
        numbers._lenient_cache = saved


def test_an_entry_put_after_an_eviction_keeps_its_own_value():
    """Regression: the eviction loop reused the name of the value being put, so once the cache
    was full every new key got the evicted entry's value (a number parsed as another number)."""
    cache = BoundedCache(2, 1000, lambda k, v: 1)
    for key in "abcdef":
        cache.put(key, key.upper())
        assert cache.get(key) == key.upper()
    bytes_bound = BoundedCache(100, 8, lambda k, v: len(k))
    for key in ("aaaa", "bbbb", "cccc", "dd"):
        bytes_bound.put(key, key * 2)
        assert bytes_bound.get(key) == key * 2


def test_numbers_keep_their_own_parse_once_the_parse_caches_are_full():
    from app.domain import numbers

    raws = [f"+1415{i:07d}" for i in range(numbers._lenient_cache.max_entries + 50)]
    for raw in raws:
        numbers.parse_number(raw, "US")
        numbers.parse_recipient(raw, "US")
    for raw in raws[-100:]:  # the latest, from the caches
        assert numbers.parse_number(raw, "US").e164 in (raw, None), raw
        assert numbers.parse_recipient(raw, "US").e164 in (raw, None), raw

