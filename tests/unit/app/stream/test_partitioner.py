"""Kafka's default partitioner, the project's own murmur2 (app/stream/partitioner.py)."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from app.stream.partitioner import key_hash, murmur2, partition_for

# Kafka's own test vectors (clients' UtilsTest.testMurmur2), as signed Java ints
KAFKA_VECTORS = {
    b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829, b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def test_kafkas_own_vectors() -> None:
    for key, signed in KAFKA_VECTORS.items():
        assert murmur2(key) == signed & 0xFFFFFFFF


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200))
def test_the_same_hash_as_aiokafkas_for_any_bytes(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True), st.integers(1, 64))
def test_a_numbers_partition_is_the_producers(number: str, partitions: int) -> None:
    expected = (aiokafka_murmur2(number.encode()) & 0x7FFFFFFF) % partitions
    assert partition_for(number, partitions) == expected == key_hash(number.encode()) % partitions
