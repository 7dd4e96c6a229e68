"""The Kafka output port on a real broker: the record batches of successive calls (none waiting
for the one before) keep their order per partition, an abort leaves none of its batches in a
later transaction, and the reply partitions' ends count a partition added a moment ago
(app.runtime.kafka_ports)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from app.engine.inputs import TP
from app.records import Output
from app.runtime.kafka_ports import KafkaOutputs, KafkaTransactionalOutputs
from app.settings import Settings
from tests.integration.harness import Topology

pytestmark = pytest.mark.integration


def _settings(topology: Topology, guarantee: str) -> Settings:
    topology.create_topics()
    return Settings(
        kafka_bootstrap_servers=topology.bootstrap, app_id=topology.id, inbound_topic=topology.inbound,
        outbound_topic=topology.outbound, provider_topic=topology.provider, suppressed_topic=topology.suppressed,
        deadletter_topic=topology.deadletter, status_topic=topology.status, consent_topic=topology.consent,
        review_topic=topology.review, partitions=topology.partitions, input_partitions=topology.input_partitions,
        processing_guarantee=guarantee,
    )


async def _read(bootstrap: str, topic: str, partition: int, count: int) -> list[bytes]:
    """The committed records of one partition, from the start, once ``count`` are there (or 10 s)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        values: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + 10
        while len(values) < count and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(tp, timeout_ms=200)).values():
                values.extend(r.value for r in records)
        return values
    finally:
        await consumer.stop()


async def test_record_batches_of_successive_calls_keep_their_order_per_partition(topology):
    settings = _settings(topology, "at_least_once")
    outputs = KafkaOutputs(settings)
    await outputs.start([settings.provider_topic])
    try:
        deliveries = []
        for call in range(60):  # one call per engine step, none waiting for the one before
            deliveries.append(await outputs.send([Output(settings.provider_topic, f"{call}-{i}".encode(), partition=1)
                                                  for i in range(25)]))
        acked = [a for delivery in deliveries for a in await delivery]
    finally:
        await outputs.stop()
    assert max(a.offset for a in acked) == 60 * 25 - 1
    values = await _read(topology.bootstrap, settings.provider_topic, 1, 60 * 25)
    assert values == [f"{call}-{i}".encode() for call in range(60) for i in range(25)]


async def test_an_abort_leaves_none_of_its_batches_in_a_later_transaction(topology):
    settings = _settings(topology, "exactly_once")
    outputs = KafkaTransactionalOutputs(settings)
    await outputs.start([settings.provider_topic])
    task = TP(settings.outbound_topic, 0)
    await outputs.open_task(task)
    try:
        stale = [await outputs.send([Output(settings.provider_topic, f"stale-{call}-{i}".encode(), partition=0)
                                     for i in range(50)], task) for call in range(20)]
        await outputs.abort_tasks()  # the replay makes these again: none may reach the next transaction
        # the replay's transaction begins at once (a stale batch still waiting would join it)
        fresh = await outputs.send([Output(settings.provider_topic, f"fresh-{i}".encode(), partition=0)
                                    for i in range(10)], task)
        await fresh
        await outputs.commit_tasks({task: {}}, {task})
        # each stale delivery was acknowledged into the aborted transaction, or cancelled: none is seen
        await asyncio.gather(*stale, return_exceptions=True)
    finally:
        await outputs.stop()
    values = await _read(topology.bootstrap, settings.provider_topic, 0, 10)
    assert values == [f"fresh-{i}".encode() for i in range(10)]


async def test_the_reply_ends_count_a_partition_added_a_moment_ago(topology):
    settings = _settings(topology, "at_least_once")
    outputs = KafkaOutputs(settings)
    await outputs.start([settings.inbound_topic, settings.status_topic])
    admin = AIOKafkaAdminClient(bootstrap_servers=topology.bootstrap)
    await admin.start()
    try:
        before = await outputs.log_ends([settings.inbound_topic, settings.status_topic])
        assert set(before) == {TP(t, p) for t in (settings.inbound_topic, settings.status_topic)
                               for p in range(topology.input_partitions)}
        added = topology.input_partitions
        await admin.create_partitions({settings.inbound_topic: NewPartitions(total_count=added + 1)})
        sent = await outputs.send([Output(settings.inbound_topic, b"STOP", partition=None)])
        # the producer may not know the new partition yet: write to it by number once it does
        for _ in range(50):
            if len(await outputs.producer.partitions_for(settings.inbound_topic)) > added:
                break
            await outputs.producer.client.force_metadata_update()
            await asyncio.sleep(0.1)
        await sent
        on_new = await outputs.send([Output(settings.inbound_topic, b"STOP", partition=added)])
        await on_new
        after = await outputs.log_ends([settings.inbound_topic, settings.status_topic])
    finally:
        await admin.close()
        await outputs.stop()
    assert after[TP(settings.inbound_topic, added)] == 1
    assert sum(after.values()) == sum(before.values()) + 2
