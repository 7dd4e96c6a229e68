"""Kafka plumbing for the bench driver: topics, bulk producing (aiokafka batches),
watermarks, reading outputs, and a live collector for latency (confluent-kafka, so
the driver's own CPU use stays small next to the systems it measures)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from tqdm import tqdm


def default_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as the Java client and aiokafka use it."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class Admin:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.client = AdminClient({"bootstrap.servers": bootstrap})
        self.created: list[str] = []

    def create(self, topics: dict[str, tuple[int, dict[str, str]]], *, track: bool = True) -> None:
        new = [NewTopic(name, partitions, 1, config=config) for name, (partitions, config) in topics.items()]
        for name, future in self.client.create_topics(new, operation_timeout=30).items():
            future.result()
            if track:
                self.created.append(name)
        self.wait_for(list(topics))

    def track(self, names: Iterable[str]) -> None:
        self.created.extend(names)

    def partitions(self, topic: str) -> int:
        meta = self.client.list_topics(topic, timeout=10)
        t = meta.topics.get(topic)
        if t is None or t.error is not None:
            return 0
        return len(t.partitions)

    def wait_for(self, names: Sequence[str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            while self.partitions(name) == 0:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {name} did not appear within {timeout}s")
                time.sleep(0.1)

    def config(self, topic: str) -> dict[str, str]:
        from confluent_kafka.admin import ConfigResource

        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        result = self.client.describe_configs([resource])[resource].result()
        return {k: v.value for k, v in result.items()}

    def delete_created(self) -> None:
        names = sorted(set(self.created))
        if not names:
            return
        try:
            for future in self.client.delete_topics(names, operation_timeout=30).values():
                try:
                    future.result()
                except KafkaException:
                    pass
        finally:
            self.created.clear()


# ------------------------------------------------------------------ producing


def bulk_produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes, int]],
    total: int,
    desc: str,
    *,
    batch_bytes: int = 1 << 20,
) -> float:
    """Produce (key, value, partition) records as fast as aiokafka can (explicit batches,
    acks=all). Returns the seconds it took."""

    async def run() -> float:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=batch_bytes,
            max_request_size=4 * batch_bytes,
        )
        await producer.start()
        started = time.perf_counter()
        pending: list[asyncio.Future] = []
        batches: dict[int, object] = {}
        counts: dict[int, int] = {}
        try:
            with tqdm(total=total, desc=desc, unit="msg", unit_scale=True, leave=False) as bar:
                for key, value, partition in records:
                    batch = batches.get(partition)
                    if batch is None:
                        batch = batches[partition] = producer.create_batch()
                        counts[partition] = 0
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        pending.append(await producer.send_batch(batch, topic, partition=partition))
                        bar.update(counts[partition])
                        batch = batches[partition] = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                        counts[partition] = 0
                        if len(pending) > 64:
                            await asyncio.gather(*pending)
                            pending.clear()
                    counts[partition] += 1
                for partition, batch in batches.items():
                    if counts[partition]:
                        pending.append(await producer.send_batch(batch, topic, partition=partition))
                        bar.update(counts[partition])
                await asyncio.gather(*pending)
        finally:
            await producer.stop()
        return time.perf_counter() - started

    return asyncio.run(run())


def paced_producer(bootstrap: str) -> Producer:
    """For the latency figure: sends leave at once (linger 1 ms), acks=all, murmur2 keys."""
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 1,
            "acks": "all",
            "partitioner": "murmur2_random",
            "queue.buffering.max.messages": 1_000_000,
        }
    )


# ------------------------------------------------------------------ reading


def _consumer(bootstrap: str, **extra: object) -> Consumer:
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-reader-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 5,
        "socket.nagle.disable": True,
    }
    conf.update(extra)
    return Consumer(conf)


class Watermarks:
    """High watermarks (= records written, topics start empty) of a set of topics."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self.consumer = _consumer(bootstrap)
        meta = self.consumer.list_topics(timeout=10)
        self.tps = [
            TopicPartition(t, p) for t in topics for p in sorted(meta.topics[t].partitions)
        ]

    def ends(self) -> dict[tuple[str, int], int]:
        out = {}
        for tp in self.tps:
            _, high = self.consumer.get_watermark_offsets(tp, timeout=10, cached=False)
            out[(tp.topic, tp.partition)] = high
        return out

    def per_topic(self, ends: dict[tuple[str, int], int] | None = None) -> dict[str, int]:
        ends = ends if ends is not None else self.ends()
        totals: dict[str, int] = {}
        for (topic, _), high in ends.items():
            totals[topic] = totals.get(topic, 0) + high
        return totals

    def close(self) -> None:
        self.consumer.close()


def read_until(bootstrap: str, ends: dict[tuple[str, int], int], desc: str) -> list[tuple[str, bytes, int, int]]:
    """Every record of the given partitions from the start up to ``ends``:
    (topic, value, timestamp type, timestamp ms)."""
    consumer = _consumer(bootstrap, **{"fetch.wait.max.ms": 100})
    want = {tp: end for tp, end in ends.items() if end > 0}
    out: list[tuple[str, bytes, int, int]] = []
    if not want:
        consumer.close()
        return out
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for (t, p) in want])
    remaining = dict(want)
    total = sum(want.values())
    deadline = time.monotonic() + 300
    with tqdm(total=total, desc=desc, unit="msg", unit_scale=True, leave=False) as bar:
        while remaining:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read back the outputs (still missing {remaining})")
            batch = consumer.consume(num_messages=20000, timeout=1.0)
            n = 0
            for msg in batch:
                if msg.error():
                    raise RuntimeError(f"reading outputs: {msg.error()}")
                tp = (msg.topic(), msg.partition())
                end = remaining.get(tp)
                if end is None or msg.offset() >= end:
                    continue
                ts_type, ts = msg.timestamp()
                out.append((msg.topic(), msg.value(), ts_type, ts))
                n += 1
                if msg.offset() + 1 >= end:
                    del remaining[tp]
            bar.update(n)
            if remaining and not batch:
                # transactional outputs: the last offsets may be transaction markers, which
                # are never returned; the consumer's position passes them
                positions = consumer.position([TopicPartition(t, p) for (t, p) in remaining])
                for tp in positions:
                    if tp.offset >= remaining.get((tp.topic, tp.partition), 1 << 62):
                        del remaining[(tp.topic, tp.partition)]
    consumer.close()
    return out


class CommittedCounter:
    """Counts the committed records of a set of topics, read from the start (for
    transactional outputs, whose high watermarks also count markers and aborted records)."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self.consumer = _consumer(bootstrap, **{"fetch.wait.max.ms": 100})
        meta = self.consumer.list_topics(timeout=10)
        self.consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in topics
                              for p in sorted(meta.topics[t].partitions)])
        self.counts: dict[str, int] = {t: 0 for t in topics}
        self.watermarks = Watermarks(bootstrap, topics)

    def per_topic(self) -> dict[str, int]:
        while True:
            batch = self.consumer.consume(num_messages=20000, timeout=0.05)
            if not batch:
                return dict(self.counts)
            for msg in batch:
                if not msg.error():
                    self.counts[msg.topic()] += 1

    def ends(self) -> dict[tuple[str, int], int]:
        return self.watermarks.ends()

    def close(self) -> None:
        self.consumer.close()
        self.watermarks.close()


class LiveCollector:
    """Reads output topics from their current end, stamping each record with the time
    it arrived here (time.time_ns) and handing it to ``on_record`` in a thread."""

    def __init__(self, bootstrap: str, topics: Sequence[str],
                 on_record: Callable[[str, bytes, int], None]) -> None:
        self.consumer = _consumer(bootstrap)
        meta = self.consumer.list_topics(timeout=10)
        tps = []
        for t in topics:
            for p in sorted(meta.topics[t].partitions):
                for attempt in range(50):  # a topic just created may have no leader yet
                    try:
                        _, high = self.consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10, cached=False)
                        break
                    except Exception:
                        if attempt == 49:
                            raise
                        time.sleep(0.2)
                tps.append(TopicPartition(t, p, high))
        self.consumer.assign(tps)
        self.on_record = on_record
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="collector", daemon=True)
        self.received = 0

    def start(self) -> LiveCollector:
        # one fetch round so the assignment is live before anything is produced
        now = time.time_ns()
        for msg in self.consumer.consume(num_messages=1, timeout=0.2):
            if not msg.error():
                self.on_record(msg.topic(), msg.value(), now)
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            poll, consume, on_record = self.consumer.poll, self.consumer.consume, self.on_record
            while not self._stop.is_set():
                # poll() returns as soon as one record is there (consume(n, t) would wait
                # for n records or t); then take whatever else is already queued.
                first = poll(0.05)
                if first is None:
                    continue
                now = time.time_ns()
                batch = [first, *consume(num_messages=5000, timeout=0)]
                for msg in batch:
                    if msg.error():
                        continue
                    on_record(msg.topic(), msg.value(), now)
                self.received += len(batch)
        except BaseException as exc:  # surfaced by the caller
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)
        self.consumer.close()
