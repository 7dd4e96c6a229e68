"""OutputBatch: one record batch per topic-partition, default-partitioner placement, order kept."""

import asyncio

from aiokafka.partitioner import DefaultPartitioner

from app.agents.output_batch import OutputBatch
from app.records import Output


class FakeBatch:
    def __init__(self, capacity: int) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []
        self.capacity = capacity

    def append(self, *, key, value, timestamp):
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return object()


class FakeCluster:
    def partitions_for_topic(self, topic):
        return {0, 1, 2, 3} if topic != "one" else {0}


class FakeClient:
    cluster = FakeCluster()

    async def _wait_on_metadata(self, topic):
        return None


class FakeProducer:
    def __init__(self, capacity: int = 1000) -> None:
        self.client = FakeClient()
        self.capacity = capacity
        self.sent: list[tuple[str, int, list]] = []

    def create_batch(self):
        return FakeBatch(self.capacity)

    async def send_batch(self, batch, topic, *, partition):
        self.sent.append((topic, partition, batch.records))


def run(outputs: list[Output], capacity: int = 1000) -> FakeProducer:
    producer = FakeProducer(capacity)
    batch = OutputBatch(producer)

    async def go():
        await batch.prepare({o.topic for o in outputs})
        for output in outputs:
            batch.add(output)
        await batch.send()

    asyncio.run(go())
    return producer


def test_keyed_records_land_where_the_default_partitioner_puts_them():
    keys = [f"+1415555{n:04d}".encode() for n in range(50)]
    producer = run([Output("t", b"v" + k, key=k) for k in keys])
    placed = {key: partition for topic, partition, records in producer.sent for key, _ in records}
    for key in keys:
        assert placed[key] == DefaultPartitioner()(key, [0, 1, 2, 3], [0, 1, 2, 3])


def test_explicit_partition_wins_and_order_is_kept_per_partition():
    outputs = [Output("t", f"{i}".encode(), key=b"k", partition=2) for i in range(10)]
    producer = run(outputs, capacity=3)  # several batches for one partition
    values = [v for topic, partition, records in producer.sent for _, v in records if partition == 2]
    assert values == [f"{i}".encode() for i in range(10)]
    assert {partition for _, partition, _ in producer.sent} == {2}


def test_unkeyed_records_are_all_sent():
    producer = run([Output("one", b"x"), Output("one", b"y")])
    assert producer.sent == [("one", 0, [(None, b"x"), (None, b"y")])]
