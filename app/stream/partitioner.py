"""Kafka's default partitioner (murmur2 of the key bytes), the one home of it: the router
places numbers with it, the Kafka ports and the in-memory driver place keyed outputs
with it, so a number's records and its table partition always agree."""

from __future__ import annotations

import functools
import sys

from aiokafka.partitioner import murmur2

from app.domain.bounded_cache import BoundedCache


@functools.lru_cache(maxsize=65536)
def _murmur_cached(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def key_hash(key: bytes) -> int:
    """Kafka's default partitioner hash; cached for short keys (phone numbers: pure-Python
    murmur2 was 8 % of the worker's CPU), never for long ones (memory stays bounded)."""
    return _murmur_cached(key) if len(key) <= 32 else murmur2(key) & 0x7FFFFFFF


def _partition_cost(key: tuple[str, int], value: int) -> int:
    return 104 + sys.getsizeof(key) + sys.getsizeof(key[0]) + sys.getsizeof(value)


# keys are E.164 numbers we normalized (at most 16 characters): ~250 bytes an entry
_partitions: BoundedCache[tuple[str, int], int] = BoundedCache(65_536, 16 * 1024 * 1024, _partition_cost)


def partition_for(number: str, partitions: int) -> int:
    """Kafka's default (murmur2) partition for the key bytes ``number`` (murmur2 in pure
    Python costs ~3 µs, so the partitions of recent numbers are kept)."""
    key = (number, partitions)
    partition = _partitions.get(key)
    if partition is None:
        partition = (murmur2(number.encode()) & 0x7FFFFFFF) % partitions
        _partitions.put(key, partition)
    return partition
