"""The engine's ports on aiokafka.

Private aiokafka attributes used here are listed in
``tests/unit/app/runtime/test_private_api.py``, which fails by name when an
upgrade removes one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import InvalidProducerEpoch, InvalidProducerIdMapping, KafkaError, ProducerFenced

from app.engine.failures import BrokerUnavailable, Fenced, NotAcknowledged, RecordRejected
from app.engine.inputs import TP, Acked, InRecord
from app.engine.loop import EngineLoop
from app.records import Output
from app.runtime.kafka_security import bootstrap_servers, kafka_client_options
from app.runtime.topics import wanted_topics
from app.settings import Settings
from app.stream.partitioner import key_hash

log = logging.getLogger("app.runtime")


def bootstrap(settings: Settings) -> list[str]:
    """The bootstrap servers (every client takes them with the security options: ``kafka_client_options``)."""
    return bootstrap_servers(settings)


class Listener(ConsumerRebalanceListener):
    def __init__(self, loop: EngineLoop, on_change: Any) -> None:
        self.loop = loop
        self.on_change = on_change

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.on_change("revoking")
        await self.loop.on_revoked({TP(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.loop.on_assigned({TP(tp.topic, tp.partition) for tp in assigned})
        self.on_change("assigned")


class KafkaSource:
    """The group consumer of the input topics and the routed topic."""

    def __init__(self, settings: Settings, assignor: type) -> None:
        self.settings = settings
        self.consumer = AIOKafkaConsumer(
            **kafka_client_options(settings),
            client_id=f"{settings.app_id}-worker",
            group_id=settings.app_id,
            group_instance_id=settings.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            rebalance_timeout_ms=max(settings.session_timeout_ms, 30_000),
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            max_partition_fetch_bytes=1024 * 1024,
            partition_assignment_strategy=(assignor,),
            retry_backoff_ms=200,
        )
        self.max_records = 2000

    async def start(self, topics: list[str], listener: Listener) -> None:
        await self.consumer.start()
        self.consumer.subscribe(topics=topics, listener=listener)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def fetch(self, timeout_ms: int) -> list[InRecord]:
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        # aiokafka's ConsumerRecords have the fields of an InRecord: handed over as they are
        out: list[InRecord] = []
        for records in batches.values():
            out.extend(records)
        return out

    def assignment(self) -> set[TP]:
        return {TP(tp.topic, tp.partition) for tp in self.consumer.assignment()}

    async def seek_to_committed(self, tps: set[TP]) -> None:
        for tp in tps:
            ktp = TopicPartition(tp.topic, tp.partition)
            if ktp not in self.consumer.assignment():
                continue
            committed = await self.consumer.committed(ktp)
            if committed is None:
                await self.consumer.seek_to_beginning(ktp)
            else:
                self.consumer.seek(ktp, committed)

    async def position(self, tp: TP) -> int:
        return await self.consumer.position(TopicPartition(tp.topic, tp.partition))

    def consumed_position(self, tp: TP) -> int | None:
        try:  # without waiting (private: see the upgrade guard test)
            state = self.consumer._subscription.subscription.assignment.state_value(
                TopicPartition(tp.topic, tp.partition))
            return state.position if state is not None and state.has_valid_position else None
        except (AttributeError, TypeError):
            return None

    def lag(self, tp: TP) -> int | None:
        highwater = self.consumer.highwater(TopicPartition(tp.topic, tp.partition))
        position = self.consumed_position(tp)
        return None if highwater is None or position is None else highwater - position

    async def commit(self, offsets: dict[TP, int]) -> None:
        await self.consumer.commit({TopicPartition(tp.topic, tp.partition): o for tp, o in offsets.items()})

    async def committed(self, tps: Sequence[TP]) -> dict[TP, int]:
        """One OffsetFetch for every partition (private: see the upgrade guard test); a
        coordinator that does not answer within 5 s raises (the snapshot is taken again)."""
        wanted = {TopicPartition(tp.topic, tp.partition) for tp in tps}
        found = await asyncio.wait_for(self.consumer._coordinator.fetch_committed_offsets(wanted), 5)
        return {TP(tp.topic, tp.partition): meta.offset for tp, meta in found.items()
                if meta is not None and meta.offset >= 0}

    async def rejoin(self) -> None:
        """A new assignment round (private: see the upgrade guard test): the partitions are
        revoked and assigned again; tasks still ours get new producers (``open_task``)."""
        self.consumer._coordinator.request_rejoin()

    def refresh_metadata(self) -> None:
        """Partitions added to a subscribed topic reach the group now, not at the next
        periodic refresh (the group rebalances when it sees them)."""
        self.consumer._client.force_metadata_update()

    def pause(self, tps: set[TP]) -> None:
        assigned = self.consumer.assignment()
        self.consumer.pause(*[k for tp in tps if (k := TopicPartition(tp.topic, tp.partition)) in assigned])

    def resume(self, tps: set[TP]) -> None:
        assigned = self.consumer.assignment()
        self.consumer.resume(*[k for tp in tps if (k := TopicPartition(tp.topic, tp.partition)) in assigned])


def _track_only(client: Any, settings: Settings) -> None:
    """Keep ``client``'s metadata to the worker's topics. An aiokafka client never asked for a
    topic by name (it had them all from its bootstrap) refreshes the metadata of every topic
    of the cluster every 5 minutes, and keeps an object per partition of the cluster: ~2,300
    objects after the first refresh on the soak's broker (10 clients), many more on a shared
    cluster. (Takes effect at once; the refresh it starts is not waited for.)"""
    client.set_topics(sorted(wanted_topics(settings)))


def _producer(settings: Settings, **extra: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **kafka_client_options(settings),
        client_id=f"{settings.app_id}-worker",
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.producer_linger_ms,
        max_batch_size=512 * 1024,
        max_request_size=1024 * 1024,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
        **extra,
    )


def _as_fenced(exc: BaseException) -> bool:
    """A transactional producer that can do nothing more: fenced by a newer one (a new owner,
    or the broker after the transaction timeout), or in aiokafka's fatal state (which raises
    an AssertionError on the next transition)."""
    return isinstance(exc, ProducerFenced | InvalidProducerEpoch | InvalidProducerIdMapping | AssertionError)


def _task_producer(settings: Settings, task: TP) -> AIOKafkaProducer:
    """The task's transactional producer: whoever opens the task next fences this one."""
    return _producer(settings, transactional_id=f"{settings.app_id}-{task.topic}-{task.partition}",
                     transaction_timeout_ms=settings.transaction_timeout_ms)


class KafkaOutputs:
    """At-least-once: one idempotent producer; one record batch per topic-partition
    per call, every delivery observed. The changelog of each routed partition is written
    through that partition's task producer, in a transaction per checkpoint: the next
    owner's ``open_task`` fences it, so a zombie's stale state never lands after the new
    owner's (the same transactional id as the exactly-once task of that partition)."""

    transactional = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = _producer(settings)
        self.admin_consumer: AIOKafkaConsumer | None = None
        self._partitions: dict[str, list[int]] = {}
        self.changelog_tasks: dict[TP, AIOKafkaProducer] = {}
        self.changelog_in_txn: set[TP] = set()
        self.partitions_changed: Any = None  # called when log_ends finds partitions added

    async def start(self, topics: Sequence[str]) -> None:
        await self.producer.start()
        _track_only(self.producer.client, self.settings)
        # end offsets are high watermarks (read_uncommitted): a committed record is below it
        self.admin_consumer = AIOKafkaConsumer(**kafka_client_options(self.settings), enable_auto_commit=False,
                                               group_id=None, isolation_level="read_uncommitted")
        await self.admin_consumer.start()
        _track_only(self.admin_consumer._client, self.settings)
        for topic in topics:
            self._partitions[topic] = sorted(await self.producer.partitions_for(topic))

    async def stop(self) -> None:
        for task in list(self.changelog_tasks):
            await self.close_task(task)
        await self.producer.stop()
        if self.admin_consumer is not None:
            await self.admin_consumer.stop()

    def partitions(self, topic: str) -> int:
        return len(self._partitions[topic])

    async def end_offsets(self, tps: Sequence[TP]) -> dict[TP, int]:
        assert self.admin_consumer is not None
        ends = await self.admin_consumer.end_offsets([TopicPartition(tp.topic, tp.partition) for tp in tps])
        return {TP(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def log_ends(self, topics: Sequence[str]) -> dict[TP, int]:
        """Metadata read afresh (a partition added a moment ago counts), then the high
        watermarks: one Metadata and one ListOffsets request per leader."""
        assert self.admin_consumer is not None
        client = self.admin_consumer._client  # private: see the upgrade guard test
        if not await client.force_metadata_update():
            raise BrokerUnavailable("no broker answered a metadata request")
        tps: list[TopicPartition] = []
        for topic in topics:
            found = client.cluster.partitions_for_topic(topic)
            if not found:
                raise BrokerUnavailable(f"topic {topic!r} has no partitions in the broker's metadata")
            partitions = sorted(found)
            if partitions != self._partitions.get(topic):
                if topic in self._partitions:
                    log.warning("%s has %d partition(s) now (was %d): sends wait for every one of them",
                                topic, len(partitions), len(self._partitions[topic]))
                    if self.partitions_changed is not None:
                        self.partitions_changed()
                self._partitions[topic] = partitions
            tps.extend(TopicPartition(topic, p) for p in partitions)
        ends = await self.admin_consumer.end_offsets(tps)
        return {TP(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def open_task(self, task: TP) -> None:
        if task.topic != self.settings.routed_topic or task in self.changelog_tasks:
            return
        producer = _task_producer(self.settings, task)
        await producer.start()  # InitProducerId: fences the previous owner's, aborts its open transaction
        self.changelog_tasks[task] = producer
        _track_only(producer.client, self.settings)

    async def close_task(self, task: TP) -> None:
        producer = self.changelog_tasks.pop(task, None)
        self.changelog_in_txn.discard(task)
        if producer is not None:
            await producer.stop()

    async def commit_tasks(self, offsets: dict[TP, dict[TP, int]], changed: set[TP]) -> None:
        raise NotImplementedError("at-least-once commits offsets on the consumer")

    async def send_changelog(self, partition: int, records: Sequence[Output]) -> Any:
        task = TP(self.settings.routed_topic, partition)
        return await self._send_in_transaction(self.changelog_tasks, self.changelog_in_txn, task, records)

    async def _send_in_transaction(self, producers: dict[TP, AIOKafkaProducer], in_txn: set[TP], task: TP,
                                   outputs: Sequence[Output]) -> Any:
        """Hand ``outputs`` to ``task``'s producer, in its open transaction (begun if none)."""
        producer = producers.get(task)
        if producer is None:
            raise Fenced(f"no producer for {task} here (fenced, or not assigned)")
        if task not in in_txn:
            await _fenced_or_raise(task, producer.begin_transaction())
            in_txn.add(task)
        return await self._send_with(producer, outputs)

    async def seal_changelog(self) -> None:
        async def commit(task: TP) -> None:
            await _fenced_or_raise(task, self.changelog_tasks[task].commit_transaction())
            self.changelog_in_txn.discard(task)

        await _all_or_raise([commit(t) for t in self.changelog_in_txn if t in self.changelog_tasks])

    async def abort_tasks(self) -> None:
        await _abort(self.changelog_tasks, self.changelog_in_txn, self.close_task)

    async def send(self, outputs: Sequence[Output], task: TP | None = None) -> Any:
        return await self._send_with(self.producer, outputs)

    async def _send_with(self, producer: AIOKafkaProducer, outputs: Sequence[Output]) -> Any:
        batches: dict[tuple[str, int], list[tuple[Any, int]]] = {}
        receipts: dict[tuple[str, int], list[tuple[int, int, Any]]] = {}  # slot -> (batch, index, receipt)
        for output in outputs:
            partition = output.partition
            if partition is None:
                partitions = self._partitions.get(output.topic)
                if partitions is None:
                    partitions = self._partitions[output.topic] = sorted(await producer.partitions_for(output.topic))
                if output.key is None:
                    partition = random.choice(partitions)
                else:
                    partition = partitions[key_hash(output.key) % len(partitions)]
            slot = (output.topic, partition)
            open_batches = batches.setdefault(slot, [])
            if not open_batches or open_batches[-1][0].append(key=output.key, value=output.value,
                                                              timestamp=None) is None:
                batch = producer.create_batch()
                if batch.append(key=output.key, value=output.value, timestamp=None) is None:
                    raise RecordRejected(f"a record of {len(output.value or b'')} bytes does not fit in a batch")
                open_batches.append((batch, 1))
            else:
                last, count = open_batches[-1]
                open_batches[-1] = (last, count + 1)
            if output.receipt is not None:
                receipts.setdefault(slot, []).append((len(open_batches) - 1, open_batches[-1][1] - 1, output.receipt))
        futures = await asyncio.gather(*(_hand_over(producer, topic, partition, items, receipts.get((topic, partition)))
                                         for (topic, partition), items in batches.items()))
        return asyncio.ensure_future(_acks([f for group in futures for f in group]))


class KafkaTransactionalOutputs(KafkaOutputs):
    """Exactly-once: a transactional producer per task (input partition), its id
    ``<app id>-<topic>-<partition>``: whoever is assigned the partition next starts a
    producer with the same id, which fences this one and aborts its open transaction.
    (aiokafka's ``send_offsets_to_transaction`` takes a group id only, not the group
    metadata KIP-447 fences with; a producer per partition is the older pattern that
    fences across rebalances without it.) Progress reports and operator opt-outs go
    through the shared idempotent producer, outside any transaction."""

    transactional = True

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.tasks: dict[TP, AIOKafkaProducer] = {}
        self.in_txn: set[TP] = set()

    async def open_task(self, task: TP) -> None:
        if task in self.tasks:
            return
        producer = _task_producer(self.settings, task)
        await producer.start()  # InitProducerId: fences the previous owner, aborts its open transaction
        self.tasks[task] = producer
        _track_only(producer.client, self.settings)

    async def close_task(self, task: TP) -> None:
        producer = self.tasks.pop(task, None)
        self.in_txn.discard(task)
        if producer is not None:
            await producer.stop()

    async def send(self, outputs: Sequence[Output], task: TP | None = None) -> Any:
        if task is None:
            return await self._send_with(self.producer, outputs)
        return await self._send_in_transaction(self.tasks, self.in_txn, task, outputs)

    async def send_changelog(self, partition: int, records: Sequence[Output]) -> Any:
        return await self.send(records, TP(self.settings.routed_topic, partition))

    async def seal_changelog(self) -> None:
        pass  # committed with the task's outputs and offset (commit_tasks)

    async def commit_tasks(self, offsets: dict[TP, dict[TP, int]], changed: set[TP]) -> None:
        group = self.settings.app_id

        async def commit(task: TP) -> None:
            producer = self.tasks[task]
            if task not in self.in_txn:
                await producer.begin_transaction()
                self.in_txn.add(task)
            if offsets.get(task):
                await _fenced_or_raise(task, producer.send_offsets_to_transaction(
                    {TopicPartition(tp.topic, tp.partition): offset for tp, offset in offsets[task].items()}, group))
            await _fenced_or_raise(task, producer.commit_transaction())
            self.in_txn.discard(task)

        tasks = self.in_txn | {t for t in changed if t in self.tasks}
        await _all_or_raise([commit(t) for t in tasks])

    async def abort_tasks(self) -> None:
        await _abort(self.tasks, self.in_txn, self.close_task)

    async def stop(self) -> None:
        for task in list(self.tasks):
            await self.close_task(task)
        await super().stop()


async def _fenced_or_raise(task: TP, step: Any) -> None:
    try:
        await step
    except Exception as exc:
        if _as_fenced(exc):
            raise Fenced(f"the producer of {task.topic}[{task.partition}] is fenced: {exc!r}") from exc
        raise


async def _all_or_raise(steps: list) -> None:
    """Run the steps together; raise the first failure (Fenced first: its cure differs)."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        fenced = [e for e in errors if isinstance(e, Fenced)]
        first = (fenced or errors)[0]
        kind = Fenced if fenced else NotAcknowledged
        raise kind(f"{len(errors)} transaction(s) not committed: {first!r}") from first


async def _abort(producers: dict[TP, AIOKafkaProducer], in_txn: set[TP], close: Any) -> None:
    for task in list(in_txn):
        try:
            await producers[task].abort_transaction()
            in_txn.discard(task)
        except Exception as exc:  # fenced (a new owner took over) or broken: this producer is done
            log.warning("transaction of %s[%d] not aborted (%r): closing its producer", task.topic,
                        task.partition, exc)
            await close(task)


async def _hand_over(producer: AIOKafkaProducer, topic: str, partition: int, items: list[tuple[Any, int]],
                     receipts: list[tuple[int, int, Any]] | None = None) -> list:
    out = []
    for number, (batch, count) in enumerate(items):
        future = await producer.send_batch(batch, topic, partition=partition)
        mine = [(index, receipt) for b, index, receipt in receipts if b == number] if receipts else None
        out.append((future, topic, partition, count, mine))
    return out


async def _acks(handed: list[tuple[Any, str, int, int, Any]]) -> list[Acked]:
    """One acknowledgement per record batch: where its last record went (the checkpoint
    needs only the highest offset per partition). The receipts of the batch's records
    that carry one are filled in (a batch's records follow its base offset)."""
    acked: list[Acked] = []
    for future, topic, partition, count, receipts in handed:
        try:
            meta = await future
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            raise NotAcknowledged(f"{topic}[{partition}]: {exc!r}") from exc
        acked.append(Acked(topic, partition, meta.offset + count - 1))
        for index, receipt in receipts or ():
            receipt.fill(partition, meta.offset + index)
    return acked


class KafkaChangelog:
    """Reads changelog partitions (committed records only) for recovery."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.changelog_topic
        self.consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _consumer(self) -> AIOKafkaConsumer:
        if self.consumer is None:
            consumer = AIOKafkaConsumer(**kafka_client_options(self.settings), enable_auto_commit=False,
                                        group_id=None, isolation_level="read_committed",
                                        fetch_max_wait_ms=50, max_partition_fetch_bytes=4 * 1024 * 1024)
            await consumer.start()
            self.consumer = consumer
        return self.consumer

    async def read(self, partition: int, start: int, end: int) -> tuple[list[tuple[int, bytes, bytes | None]], int]:
        async with self._lock:  # one partition at a time on this consumer
            consumer = await self._consumer()
            tp = TopicPartition(self.topic, partition)
            if set(consumer.assignment()) != {tp}:
                consumer.assign([tp])
            consumer.seek(tp, start)
            out: list[tuple[int, bytes, bytes | None]] = []
            for _ in range(20):
                batches = await consumer.getmany(tp, timeout_ms=200, max_records=20_000)
                for r in batches.get(tp, ()):
                    if start <= r.offset < end:
                        out.append((r.offset, r.key or b"", r.value))
                if out or (await consumer.position(tp)) >= end:
                    break
            # past the records returned, and past markers and aborted records (never past end)
            reached = min(end, await consumer.position(tp))
            if out:
                reached = max(reached, out[-1][0] + 1)
            return out, reached

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()


class StandbyReader:
    """Tails the changelog partitions this worker keeps warm copies of (standby replicas)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False,
                                         group_id=None, isolation_level="read_committed",
                                         fetch_max_wait_ms=100, max_partition_fetch_bytes=4 * 1024 * 1024)
        self.partitions: set[int] = set()

    async def start(self) -> None:
        await self.consumer.start()

    def follow(self, positions: dict[int, int]) -> None:
        """Tail exactly these partitions, each from its store's changelog position."""
        if set(positions) == self.partitions:
            return
        tps = {p: TopicPartition(self.settings.changelog_topic, p) for p in positions}
        self.consumer.assign(list(tps.values()))
        for p, tp in tps.items():
            self.consumer.seek(tp, positions[p])
        self.partitions = set(positions)

    async def poll(self) -> dict[int, list[tuple[int, bytes, bytes | None]]]:
        if not self.partitions:
            await asyncio.sleep(0.2)
            return {}
        batches = await self.consumer.getmany(timeout_ms=200, max_records=10_000)
        return {tp.partition: [(r.offset, r.key or b"", r.value) for r in records] for tp, records in batches.items()}

    async def stop(self) -> None:
        await self.consumer.stop()
