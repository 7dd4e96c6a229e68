"""Outputs of one processed batch, handed to the producer per topic-partition.

``AIOKafkaProducer.send`` costs a metadata wait, a partitioner call and an
accumulator lookup per record; appending to one record batch per
topic-partition and submitting each with ``send_batch`` does that once. The
partition of a keyed record is Kafka's default (murmur2 of the key), exactly
what ``send`` would choose; records without a key go to a random partition.
Order per topic-partition is the order of ``add``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from aiokafka.partitioner import murmur2

from app.records import Output


class OutputBatch:
    def __init__(self, producer: Any) -> None:
        self._producer = producer  # aiokafka.AIOKafkaProducer
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], Any] = {}
        self._ready: list[tuple[str, int, Any]] = []

    async def prepare(self, topics: set[str]) -> None:
        """Make sure partition metadata is known for ``topics`` (once per topic)."""
        client = self._producer.client
        for topic in topics - self._partitions.keys():
            await client._wait_on_metadata(topic)
            self._partitions[topic] = sorted(client.cluster.partitions_for_topic(topic))

    def add(self, output: Output) -> None:
        partition = output.partition
        if partition is None:
            partitions = self._partitions[output.topic]
            if output.key is None:
                partition = random.choice(partitions)
            else:
                partition = partitions[(murmur2(output.key) & 0x7FFFFFFF) % len(partitions)]
        slot = (output.topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._producer.create_batch()
        if batch.append(key=output.key, value=output.value, timestamp=None) is None:  # full
            self._ready.append((output.topic, partition, batch))
            batch = self._open[slot] = self._producer.create_batch()
            if batch.append(key=output.key, value=output.value, timestamp=None) is None:
                raise ValueError(f"record of {len(output.value or b'')} bytes does not fit in a batch")

    async def send(self) -> None:
        """Hand every batch to the producer (delivery is confirmed at commit, by flush).

        The producer takes a partition's next batch only once its previous one is
        drained, so partitions are handed over concurrently, each in its own order."""
        per_partition: dict[tuple[str, int], list[Any]] = {}
        for topic, partition, batch in self._ready:
            per_partition.setdefault((topic, partition), []).append(batch)
        for slot, batch in self._open.items():
            per_partition.setdefault(slot, []).append(batch)
        self._ready = []
        self._open = {}
        if len(per_partition) == 1:
            ((topic, partition), batches), = per_partition.items()
            await self._send_in_order(topic, partition, batches)
        elif per_partition:
            await asyncio.gather(
                *(self._send_in_order(topic, partition, batches) for (topic, partition), batches in per_partition.items())
            )

    async def _send_in_order(self, topic: str, partition: int, batches: list[Any]) -> None:
        for batch in batches:
            await self._producer.send_batch(batch, topic, partition=partition)
