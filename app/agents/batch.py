"""The hot path: batches of records, processed below Faust's per-event machinery.

Faust delivers every record through a task pair (``wait_first``), a channel
queue and a ``Stream`` iterator; a profile put that at most of the CPU per
message. Here the worker's consumer (Faust's, so assignment, co-partitioning,
table recovery, standby replicas, offset commits and rebalances are Faust's)
hands each fetched batch of the project's topics to :class:`BatchProcessor`,
which runs the routing and deciding steps in order, hands the outputs to the
producer one record batch per topic-partition, and only then acks the records. Faust commits acked offsets
after flushing the producer, so a crash can duplicate an output, never lose
one. Records of other topics (table changelogs during recovery, Faust's own)
take Faust's normal path, except the table's changelog, which is applied a batch at a
time (``app/agents/changelog.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

from app.agents.changelog import ChangelogApplier, ChangelogRecord
from app.agents.guard import internal_error, origin_of
from app.agents.output_batch import OutputBatch
from app.agents.partition_table import PartitionTable
from app.records import Output

if TYPE_CHECKING:
    from faust.types import TP

    from app.agents.reply_first import ReplyFirstGate
    from app.faust_app import Pipeline

log = logging.getLogger("app.batch")


class BatchProcessor:
    def __init__(self, pipeline: Pipeline, gate: ReplyFirstGate) -> None:
        s = pipeline.settings
        self.pipeline = pipeline
        self.gate = gate
        self.source_topics = frozenset({s.inbound_topic, s.outbound_topic, s.status_topic})
        self.routed_topic = s.routed_topic
        self.topics = self.source_topics | {self.routed_topic}
        self.first_topics = gate.first_topics
        self._tables: dict[int, PartitionTable] = {}
        self._outputs: OutputBatch | None = None
        self.changelog = ChangelogApplier(pipeline.app, pipeline.table)
        self.output_topics = {
            s.routed_topic, s.provider_topic, s.suppressed_topic, s.deadletter_topic, s.consent_topic, s.review_topic,
        }

    def on_assignment_changed(self) -> None:
        self._tables.clear()  # RocksDB handles of revoked partitions must not be reused

    def _table(self, partition: int) -> PartitionTable:
        table = self._tables.get(partition)
        if table is None:
            table = self._tables[partition] = PartitionTable(self.pipeline.table, partition)
        return table

    def outputs_for(self, message: Record) -> list[Output]:
        """What one record becomes. Never raises: errors become dead letters."""
        pipeline = self.pipeline
        try:
            if message.topic == self.routed_topic:
                return pipeline.decider.process(message.value, self._table(message.partition))
            output = pipeline.router.route(origin_of(message), message.key, message.value)
        except Exception as exc:  # a bug must not drop the record
            return [internal_error(pipeline, message, exc)]
        if output is None:
            pipeline.stats.count("receipts_ignored")
            return []
        return [output]

    async def process(self, consumer: Any, messages: list[Record]) -> None:
        app = self.pipeline.app
        if self._outputs is None:
            self._outputs = OutputBatch(app.producer._ensure_producer())
        outputs = self._outputs
        await outputs.prepare(self.output_topics)
        assignment = consumer.assignment()
        gate_seen = self.gate.routed_offset
        first_topics = self.first_topics
        done: list[Record] = []
        for message in messages:
            if message.tp not in assignment or not consumer.flow_active:
                continue  # revoked or rebalancing: the new owner processes it
            for output in self.outputs_for(message):
                outputs.add(output)
            done.append(message)
        try:
            await outputs.send()
        except BaseException as exc:
            for table in self._tables.values():
                table.discard()  # the replay will make these changes again, with their outputs
            self._outputs = None  # nor may a later batch send what was left of this one
            if not isinstance(exc, asyncio.CancelledError):
                log.critical("cannot hand outputs to the producer (%r): stopping the worker", exc)
                await app.crash(exc)
            raise
        # state changes only now, after their outputs (see PartitionTable)
        for table in self._tables.values():
            table.flush()
        # ack only now: every output of these records is with the producer, and Faust
        # flushes the producer before it commits acked offsets
        for message in done:
            if message.topic in first_topics:
                gate_seen(message.tp, message.offset)
            consumer.ack(message)


class Record:
    """A fetched record of the project's topics: what the processor and Faust's
    ``Consumer.ack`` read of a message, without building a full Faust message."""

    __slots__ = ("__weakref__", "acked", "key", "offset", "partition", "timestamp_ms", "topic", "tp", "value")

    def __init__(self, tp: TP, record: Any) -> None:
        self.tp = tp
        self.topic = record.topic
        self.partition = record.partition
        self.offset = record.offset
        self.timestamp_ms = record.timestamp
        self.key = record.key
        self.value = record.value
        self.acked = False


class BatchingConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, with a batch hand-off for the project's topics."""

    batch_processor: BatchProcessor | None = None

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        if self.batch_processor is not None:
            self.batch_processor.on_assignment_changed()
        await super().on_partitions_assigned(assigned, generation_id)

    async def _fetch_batch(self, timeout: float) -> list[tuple[TP, list[Any]]]:
        """One fetched batch as aiokafka records, per partition, in offset order.

        Faust's ``getmany`` turns every record into a Faust message and asks for the
        partition's highwater on the way; changelog records need neither."""
        if not self.flow_active:
            await self.perform_seek()  # as Faust's getmany does while flow is stopped
            await asyncio.sleep(0.05)
            return []
        generation_id = self.app.consumer_generation_id
        records, active_partitions = await self._wait_next_records(timeout)
        if not records or self.should_stop or not self.flow_active:
            return []
        if self.app.consumer_generation_id != generation_id:
            return []  # a rebalance happened while fetching
        buffered = self._buffered_partitions
        return [
            (tp, batch)
            for tp, batch in records.items()
            if active_partitions is None or tp in active_partitions or tp in buffered
        ]

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised end to end
        processor = self.batch_processor
        if processor is None:
            return await super()._drain_messages(fetcher)
        # Adapted from faust.transport.consumer.Consumer._drain_messages: the same
        # read-offset, gap and commit bookkeeping, but one hand-off per batch for
        # our topics instead of one task pair per record.
        callback = self.callback
        batch_topics = processor.topics
        changelog = processor.changelog
        changelog_topic = changelog.topic
        read_offset = self._read_offset
        to_message = self._to_message
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                batch: list[Record] = []
                changelog_batch: list[ChangelogRecord] = []
                await asyncio.sleep(0)
                if not self.should_stop:
                    for tp, records in await self._fetch_batch(timeout=1.0):
                        topic = tp.topic
                        for record in records:
                            offset = record.offset
                            r_offset = read_offset[tp]
                            if r_offset is not None and offset < r_offset:
                                continue  # already read (Faust drops these too)
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if topic in batch_topics:
                                batch.append(Record(tp, record))
                            elif topic == changelog_topic:
                                changelog_batch.append(ChangelogRecord(tp, record))
                            else:
                                message = to_message(tp, record)
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            read_offset[tp] = offset
                    if changelog_batch:
                        changelog.apply(changelog_batch)
                    if batch:
                        await processor.process(self, batch)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


def install_batch_processing(pipeline: Pipeline, gate: ReplyFirstGate) -> BatchProcessor:
    """Subscribe the project's topics and route their records to a BatchProcessor.

    Must run before anything touches ``app.consumer`` (it is created lazily)."""
    app = pipeline.app
    processor = BatchProcessor(pipeline, gate)
    app.transport.Consumer = BatchingConsumer
    consumer = app.consumer  # created now, from the class above
    assert isinstance(consumer, BatchingConsumer)
    consumer.batch_processor = processor
    for name in sorted(processor.topics):
        app.topics.add(pipeline.topics[name] if name in pipeline.topics else app.topic(name))
    return processor
