"""An in-memory broker and runtime for the engine, in the spirit of Kafka Streams'
``TopologyTestDriver``: pipe records in, run, read outputs; kill the worker at
any step of the checkpoint (or in the middle of handing outputs over), restart it
with its state kept or wiped, and see what the replay does. No Kafka, no Faust.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.partitioner import murmur2

from app.deciding import Decider
from app.engine.loop import EngineLoop
from app.engine.processor import Processor
from app.engine.progress import ProgressPublisher, parse_progress
from app.engine.records import TP, Acked, InRecord
from app.engine.state import MemoryStores
from app.policy_file import load_policy
from app.records import Output, dumps, loads
from app.routing import Router
from app.settings import Settings
from app.stats import Stats


class Killed(BaseException):
    """The worker died here (a BaseException, so nothing in the engine catches it)."""


class Clock:
    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:
        self.now = start_ms

    def ms(self) -> int:
        return self.now

    def dt(self) -> datetime:
        return datetime.fromtimestamp(self.now / 1000, UTC)

    def advance(self, ms: int) -> None:
        self.now += ms


OPEN, COMMITTED, ABORTED, MARKER = "open", "committed", "aborted", "marker"


class Stored:
    __slots__ = ("key", "status", "timestamp_ms", "value")

    def __init__(self, key: bytes | None, value: bytes | None, timestamp_ms: int, status: str = COMMITTED) -> None:
        self.key = key
        self.value = value
        self.timestamp_ms = timestamp_ms
        self.status = status


class MemoryBroker:
    def __init__(self) -> None:
        self.logs: dict[TP, list[Stored]] = {}
        self.counts: dict[str, int] = {}
        self.committed: dict[TP, int] = {}

    def create(self, topic: str, partitions: int) -> None:
        self.counts[topic] = partitions
        for p in range(partitions):
            self.logs.setdefault(TP(topic, p), [])

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes | None, ts: int,
               status: str = COMMITTED) -> int:
        log = self.logs[TP(topic, partition)]
        log.append(Stored(key, value, ts, status))
        return len(log) - 1

    def end(self, tp: TP) -> int:
        """The high watermark (every record, committed or not)."""
        return len(self.logs[tp])

    def stable_end(self, tp: TP) -> int:
        """The last stable offset: a read_committed reader stops before the first open record."""
        for offset, record in enumerate(self.logs[tp]):
            if record.status == OPEN:
                return offset
        return len(self.logs[tp])

    def partition_for(self, topic: str, key: bytes | None) -> int:
        count = self.counts[topic]
        return 0 if key is None else (murmur2(key) & 0x7FFFFFFF) % count

    def records(self, topic: str) -> list[Stored]:
        """What a read_committed consumer sees."""
        return [r for p in range(self.counts[topic]) for r in self.logs[TP(topic, p)] if r.status == COMMITTED]


class MemoryOutputs:
    """The producer. Exactly-once (``transactional``): a transaction per task, its
    records open (invisible to readers) until ``commit_tasks``, which also commits
    the task's offset; ``open_task`` aborts what an earlier incarnation left open."""

    def __init__(self, broker: MemoryBroker, clock: Clock, transactional: bool = False) -> None:
        self.broker = broker
        self.clock = clock
        self.transactional = transactional
        self.kill_after: int | None = None  # die after this many more records are stored
        self.cancel_after: int | None = None  # be cancelled (a stop) after this many more records
        self.kill_after_commits: int | None = None  # die after this many more task commits
        self.refuse: Exception | None = None  # refuse every record while set (a broker error)
        self.open: dict[TP, list[tuple[TP, int]]] = {}  # task -> its open records (survives a kill)

    async def open_task(self, task: TP) -> None:
        self._end(task, ABORTED)

    async def close_task(self, task: TP) -> None:
        pass

    async def abort_tasks(self) -> None:
        for task in list(self.open):
            self._end(task, ABORTED)

    async def commit_tasks(self, offsets: dict[TP, int], changed: set[TP]) -> None:
        for task in sorted(set(self.open) | changed):
            if self.kill_after_commits is not None:
                if self.kill_after_commits <= 0:
                    raise Killed("between two task commits")
                self.kill_after_commits -= 1
            self._end(task, COMMITTED)
            if task in offsets:
                self.broker.committed[task] = offsets[task]

    def _end(self, task: TP, status: str) -> None:
        touched = set()
        for tp, offset in self.open.pop(task, ()):
            self.broker.logs[tp][offset].status = status
            touched.add(tp)
        for tp in sorted(touched):  # a transaction marker takes an offset, as in Kafka; readers skip it
            self.broker.logs[tp].append(Stored(None, None, self.clock.ms(), MARKER))

    async def send(self, outputs: Sequence[Output], task: TP | None = None) -> Any:
        acked = []
        status = OPEN if self.transactional and task is not None else COMMITTED
        for output in outputs:
            if self.refuse is not None:
                raise self.refuse
            if self.kill_after is not None:
                if self.kill_after <= 0:
                    raise Killed("while handing outputs over")
                self.kill_after -= 1
            if self.cancel_after is not None:
                if self.cancel_after <= 0:
                    self.cancel_after = None
                    raise asyncio.CancelledError()
                self.cancel_after -= 1
            partition = output.partition
            if partition is None:
                partition = self.broker.partition_for(output.topic, output.key)
            offset = self.broker.append(output.topic, partition, output.key, output.value, self.clock.ms(), status)
            if status == OPEN:
                assert task is not None
                self.open.setdefault(task, []).append((TP(output.topic, partition), offset))
            acked.append(Acked(output.topic, partition, offset))
            if output.receipt is not None:
                output.receipt.fill(partition, offset)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.set_result(acked)
        return future

    async def end_offsets(self, tps: Sequence[TP]) -> dict[TP, int]:
        return {tp: self.broker.end(TP(*tp)) for tp in tps}

    def partitions(self, topic: str) -> int:
        return self.broker.counts[topic]


class MemorySource:
    def __init__(self, broker: MemoryBroker, topics: list[str], max_records: int = 50) -> None:
        self.broker = broker
        self.assigned = {TP(t, p) for t in topics for p in range(broker.counts[t])}
        self.paused: set[TP] = set()
        self.positions: dict[TP, int] = {}
        self.max_records = max_records
        self.during_fetch: Any = None  # an async callable run after positions moved, before returning
        self.before_fetch: Any = None  # an async callable run before the records are taken

    async def fetch(self, timeout_ms: int) -> list[InRecord]:
        if self.before_fetch is not None:
            hook, self.before_fetch = self.before_fetch, None
            await hook()
        out: list[InRecord] = []
        for tp in sorted(self.assigned - self.paused):
            pos = self.positions.setdefault(tp, self.broker.committed.get(tp, 0))
            log = self.broker.logs[tp]
            stop = min(self.broker.stable_end(tp), pos + self.max_records)
            for offset in range(pos, stop):
                r = log[offset]
                if r.status == COMMITTED:
                    out.append(InRecord(tp.topic, tp.partition, offset, r.timestamp_ms, r.key, r.value))
            self.positions[tp] = max(pos, stop)
        if self.during_fetch is not None:
            hook, self.during_fetch = self.during_fetch, None
            await hook()
        await asyncio.sleep(0)
        return out

    def assignment(self) -> set[TP]:
        return self.assigned

    async def seek_to_committed(self, tps: set[TP]) -> None:
        for tp in tps:
            self.positions[tp] = self.broker.committed.get(tp, 0)

    async def position(self, tp: TP) -> int:
        return self.positions.setdefault(tp, self.broker.committed.get(tp, 0))

    def consumed_position(self, tp: TP) -> int | None:
        return self.positions.get(tp)

    def lag(self, tp: TP) -> int | None:
        return self.broker.end(tp) - self.positions.get(tp, self.broker.committed.get(tp, 0))

    async def commit(self, offsets: dict[TP, int]) -> None:
        self.broker.committed.update({TP(*tp): o for tp, o in offsets.items()})

    def pause(self, tps: set[TP]) -> None:
        self.paused |= tps

    def resume(self, tps: set[TP]) -> None:
        self.paused -= tps


class MemoryChangelog:
    def __init__(self, broker: MemoryBroker, topic: str) -> None:
        self.broker = broker
        self.topic = topic

    async def read(self, partition: int, start: int, end: int) -> list[tuple[int, bytes, bytes | None]]:
        tp = TP(self.topic, partition)
        log = self.broker.logs[tp]
        stop = min(end, start + 100, self.broker.stable_end(tp))
        return [(o, log[o].key or b"", log[o].value) for o in range(start, stop) if log[o].status == COMMITTED]


class Driver:
    """One worker, owning every partition, on a :class:`MemoryBroker`."""

    def __init__(self, settings: Settings | None = None, *, exactly_once: bool = False) -> None:
        self.settings = settings or Settings(
            kafka_bootstrap_servers="memory:0", partitions=4, input_partitions=2, commit_interval_ms=1,
            progress_interval_ms=1,
        )
        s = self.settings
        self.clock = Clock()
        self.broker = MemoryBroker()
        for topic in (s.inbound_topic, s.outbound_topic, s.status_topic, s.provider_topic, s.suppressed_topic,
                      s.deadletter_topic, s.consent_topic, s.review_topic):
            self.broker.create(topic, s.input_partitions)
        for topic in (s.routed_topic, s.changelog_topic):
            self.broker.create(topic, s.partitions)
        self.broker.create(s.progress_topic, 1)
        self.stores = MemoryStores()
        self.outputs = MemoryOutputs(self.broker, self.clock, transactional=exactly_once)
        self.kill_at_step: str | None = None
        self._ids = itertools.count()
        self.loop: EngineLoop | None = None
        self.starts = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        s = self.settings
        self.stats = Stats()
        router = Router(s, self.stats, clock=self.clock.dt, new_id=lambda: f"id{next(self._ids)}",
                        clock_ms=self.clock.ms)
        decider = Decider(s, self.stats, load_policy(s.keywords_file, s.default_locales), clock=self.clock.dt)
        self.processor = Processor(s, router, decider, self.stats, self.clock.ms)
        self.processor.watermarks.set_sources(
            {TP(t, p) for t in (s.inbound_topic, s.status_topic) for p in range(self.broker.counts[t])})
        self.source = MemorySource(self.broker, [s.inbound_topic, s.outbound_topic, s.status_topic, s.routed_topic])
        self.loop = EngineLoop(s, self.processor, self.source, self.outputs,
                               MemoryChangelog(self.broker, s.changelog_topic), self.stores, self.clock.ms,
                               on_step=self._on_step, sleep=self._sleep)
        self.publisher = ProgressPublisher(s, self.loop, self.source, self.outputs, f"w{self.starts}", self.clock.ms)
        self._progress_read = 0
        self.starts += 1
        await self.loop.on_assigned(set(self.source.assignment()))

    async def _sleep(self, seconds: float) -> None:
        self.clock.advance(int(seconds * 1000))
        await asyncio.sleep(0)

    def _on_step(self, step: str) -> None:
        if step == self.kill_at_step:
            self.kill_at_step = None
            raise Killed(f"after step {step}")

    def kill(self, *, wipe_state: bool = False) -> None:
        """The process is gone: nothing in memory survives; the stores do unless wiped."""
        if self.loop is not None:
            for task in self.loop.recovering.values():
                task.cancel()
        self.loop = None
        self.outputs.kill_after = None
        self.outputs.kill_after_commits = None
        self.kill_at_step = None
        if wipe_state:
            self.stores.wipe()

    # ------------------------------------------------------------ input

    def pipe(self, topic: str, value: Any, *, key: bytes | None = None, partition: int = 0) -> int:
        raw = value if isinstance(value, bytes) or value is None else dumps(value)
        self.clock.advance(1)
        return self.broker.append(topic, partition, key, raw, self.clock.ms())

    def reply(self, mid: str, number: str, body: str, *, partition: int = 0, **extra: Any) -> None:
        self.pipe(self.settings.inbound_topic, {"message_id": mid, "from": number, "to": "+18005550000",
                                                "body": body, **extra}, partition=partition)

    def send(self, mid: str, number: str, *, partition: int = 0, **extra: Any) -> None:
        self.pipe(self.settings.outbound_topic, {"message_id": mid, "to": number, "body": "hello", **extra},
                  partition=partition)

    # ------------------------------------------------------------ running

    async def _read_progress(self) -> None:
        log = self.broker.logs[TP(self.settings.progress_topic, 0)]
        for record in log[self._progress_read:]:
            parsed = parse_progress(record.value)
            if parsed is not None:
                self.processor.watermarks.on_progress(*parsed)
        self._progress_read = len(log)

    def idle(self) -> bool:
        assert self.loop is not None
        source = self.source
        caught_up = all(source.lag(tp) == 0 for tp in source.assignment())
        return (caught_up and not self.loop.recovering and self.processor.held_count() == 0
                and not self.loop.checkpoint.has_work(self.processor))

    async def run(self, max_steps: int = 10_000) -> None:
        """Run until idle (every record processed, nothing held, all durable)."""
        for _ in range(max_steps):
            await self.steps(1)
            if self.idle():
                return
        raise AssertionError(f"not idle after {max_steps} steps: held={self.processor.held_count()}")

    async def steps(self, n: int) -> None:
        """``n`` rounds of: a loop step, a progress report, reading the reports."""
        if self.loop is None:
            await self.start()
        assert self.loop is not None
        for _ in range(n):
            self.clock.advance(1)
            await self.loop.step()
            await asyncio.sleep(0)  # let recovery tasks run
            if any(tp.topic in self.publisher.reply_topics for tp in self.source.assignment()):
                await self._cycle()
            await self._read_progress()

    async def _cycle(self) -> None:
        assert self.loop is not None
        # in memory, the checkpoint the publisher waits for happens in this task: ask for it first
        self.loop.request_checkpoint()
        await self.loop.step()
        try:
            await self.publisher.cycle(wait_s=0)
        except Exception:  # the broker refuses: the report is made again next cycle
            pass

    # ------------------------------------------------------------ output

    def read(self, topic: str) -> list[dict]:
        return [loads(r.value) for r in self.broker.records(topic) if r.value is not None]

    def state(self, number: str, account: str = "default") -> dict | None:
        key = f"{number}|{account}".encode()
        for store in self.stores.stores.values():
            raw = store.get(key)
            if raw is not None:
                return loads(raw)
        return None
