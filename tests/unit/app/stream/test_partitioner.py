"""Kafka's default partitioner, the project's own murmur2 (app/stream/partitioner.py)."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.numbers import record_key
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


@pytest.mark.parametrize(("written", "region"), [
    ("+14155550100", "US"), ("(415) 555-0100", "US"), ("415.555.0100", "CA"), ("+44 20 7946 0958", "US"),
    ("020 7946 0958", "GB"), ("+49 30 901820", "DE"),
])
def test_a_record_keyed_with_record_key_lands_on_its_numbers_partition(written: str, region: str) -> None:
    """The producer's helper (app.domain.numbers.record_key) with Kafka's default partitioner
    (aiokafka's, murmur2) puts the record on the partition the worker decides its number on."""
    key = record_key(written, region)
    e164 = key.decode()
    assert e164.startswith("+") and e164[1:].isdigit()
    for partitions in (1, 4, 8, 12, 24):
        every = list(range(partitions))
        assert DefaultPartitioner()(key, every, every) == partition_for(e164, partitions)


def test_record_key_refuses_a_text_the_worker_reads_no_number_from() -> None:
    with pytest.raises(ValueError):
        record_key("not a number")
