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

from app.engine.failures import Fenced
from app.engine.inputs import TP, Acked, InRecord
from app.engine.loop import EngineLoop
from app.engine.processor import Processor
from app.engine.progress import ProgressProbe
from app.engine.state import MemoryStores
from app.intake.policy_file import load_policy
from app.records import Output, dumps, loads
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.keys import consent_key
from app.stream.partitioner import key_hash
from app.stream.router import Router


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
        self.epochs: dict[TP, int] = {}  # per task (transactional id): the newest producer's epoch
        self.txn_open: dict[TP, list[tuple[TP, int]]] = {}  # per task: its open transaction's records

    def create(self, topic: str, partitions: int) -> None:
        """Create ``topic``, or add partitions to it (never fewer)."""
        self.counts[topic] = max(partitions, self.counts.get(topic, 0))
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
        return 0 if key is None else key_hash(key) % count

    def records(self, topic: str) -> list[Stored]:
        """What a read_committed consumer sees."""
        return [r for p in range(self.counts[topic]) for r in self.logs[TP(topic, p)] if r.status == COMMITTED]


class MemoryOutputs:
    """The producer. Exactly-once (``transactional``): a transaction per task, its
    records open (invisible to readers) until ``commit_tasks``, which also commits
    the task's offset. At-least-once: the changelog records of a routed partition are
    in a transaction of its task, committed by ``seal_changelog``. ``open_task`` fences
    every earlier producer of the task (a killed incarnation, or another worker: its
    later writes and commits raise :class:`Fenced`) and aborts its open transaction."""

    def __init__(self, broker: MemoryBroker, clock: Clock, transactional: bool = False,
                 routed_topic: str = "sms-optout-routed") -> None:
        self.broker = broker
        self.clock = clock
        self.transactional = transactional
        self.routed_topic = routed_topic
        self.epochs: dict[TP, int] = {}  # the epoch this producer holds per task
        self._changelog_txns: set[TP] = set()  # at-least-once: tasks with changelog records to seal
        self.kill_after: int | None = None  # die after this many more records are stored
        self.cancel_after: int | None = None  # be cancelled (a stop) after this many more records
        self.kill_after_commits: int | None = None  # die after this many more task commits
        self.refuse: Exception | None = None  # refuse every record while set (a broker error)

    # ------------------------------------------------------------ tasks (transactional ids)

    async def open_task(self, task: TP) -> None:
        if self.refuse is not None:
            raise self.refuse
        self._end(task, ABORTED)  # whoever left it open
        epoch = self.broker.epochs.get(task, 0) + 1
        self.broker.epochs[task] = epoch
        self.epochs[task] = epoch

    async def close_task(self, task: TP) -> None:
        self.epochs.pop(task, None)
        self._changelog_txns.discard(task)

    def lose_producers(self) -> None:
        """The process died: its producers are gone (their transactions stay open until fenced)."""
        self.epochs.clear()
        self._changelog_txns.clear()

    def fence(self, task: TP) -> None:
        """The broker ends this producer's transaction (its timeout): the task is fenced."""
        self._end(task, ABORTED)
        self.broker.epochs[task] = self.broker.epochs.get(task, 0) + 1

    def _check(self, task: TP) -> None:
        if self.epochs.get(task) is None:
            raise Fenced(f"no producer for {task} here (fenced, or not assigned)")
        if self.epochs[task] != self.broker.epochs.get(task):
            raise Fenced(f"the producer of {task} is fenced: a newer one exists")

    def _mine(self) -> list[TP]:
        return sorted(t for t in self.broker.txn_open if self.epochs.get(t) == self.broker.epochs.get(t))

    async def abort_tasks(self) -> None:
        for task in self._mine():
            self._end(task, ABORTED)
        self._changelog_txns.clear()

    async def commit_tasks(self, offsets: dict[TP, dict[TP, int]], changed: set[TP]) -> None:
        for task in sorted(set(self._mine()) | changed):
            self._check(task)
            if self.kill_after_commits is not None:
                if self.kill_after_commits <= 0:
                    raise Killed("between two task commits")
                self.kill_after_commits -= 1
            self._end(task, COMMITTED)
            for tp, offset in offsets.get(task, {}).items():
                self.broker.committed[tp] = offset

    async def send_changelog(self, partition: int, records: Sequence[Output]) -> Any:
        task = TP(self.routed_topic, partition)
        if self.transactional:
            return await self.send(records, task)
        self._check(task)
        self._changelog_txns.add(task)
        return await self._append(records, task, OPEN)

    async def seal_changelog(self) -> None:
        for task in sorted(self._changelog_txns):
            self._check(task)
            self._end(task, COMMITTED)
        self._changelog_txns.clear()

    def _end(self, task: TP, status: str) -> None:
        touched = set()
        for tp, offset in self.broker.txn_open.pop(task, ()):
            self.broker.logs[tp][offset].status = status
            touched.add(tp)
        for tp in sorted(touched):  # a transaction marker takes an offset, as in Kafka; readers skip it
            self.broker.logs[tp].append(Stored(None, None, self.clock.ms(), MARKER))

    # ------------------------------------------------------------ records

    async def send(self, outputs: Sequence[Output], task: TP | None = None) -> Any:
        if self.transactional and task is not None:
            self._check(task)
            return await self._append(outputs, task, OPEN)
        return await self._append(outputs, task, COMMITTED)

    async def _append(self, outputs: Sequence[Output], task: TP | None, status: str) -> Any:
        acked = []
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
                self.broker.txn_open.setdefault(task, []).append((TP(output.topic, partition), offset))
            acked.append(Acked(output.topic, partition, offset))
            if output.receipt is not None:
                output.receipt.fill(partition, offset)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.set_result(acked)
        return future

    async def end_offsets(self, tps: Sequence[TP]) -> dict[TP, int]:
        if self.refuse is not None:
            raise self.refuse
        return {tp: self.broker.end(TP(*tp)) for tp in tps}

    async def log_ends(self, topics: Sequence[str]) -> dict[TP, int]:
        if self.refuse is not None:
            raise self.refuse
        return {TP(t, p): self.broker.end(TP(t, p)) for t in topics for p in range(self.broker.counts[t])}

    def partitions(self, topic: str) -> int:
        return self.broker.counts[topic]


class MemorySource:
    def __init__(self, broker: MemoryBroker, topics: list[str], max_records: int = 50,
                 assigned: set[TP] | None = None) -> None:
        self.broker = broker
        self.assigned = set(assigned) if assigned is not None else {
            TP(t, p) for t in topics for p in range(broker.counts[t])}
        self.on_rejoin: Any = None  # an async callable: the group's answer to a rejoin
        self.fail_seeks = 0  # the next seeks that fail (the coordinator away)
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
        if self.fail_seeks > 0:
            self.fail_seeks -= 1
            raise ConnectionError("coordinator not available (a seek failed)")
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

    async def committed(self, tps: Sequence[TP]) -> dict[TP, int]:
        return {tp: self.broker.committed[tp] for tp in tps if tp in self.broker.committed}

    async def rejoin(self) -> None:
        if self.on_rejoin is not None:  # the rebalance runs apart from the step that asked
            asyncio.ensure_future(self.on_rejoin())

    def pause(self, tps: set[TP]) -> None:
        self.paused |= tps

    def resume(self, tps: set[TP]) -> None:
        self.paused -= tps


class MemoryChangelog:
    def __init__(self, broker: MemoryBroker, topic: str) -> None:
        self.broker = broker
        self.topic = topic
        self.empty_reads = 0  # the next reads that get nothing (a slow or absent leader)

    async def read(self, partition: int, start: int, end: int) -> tuple[list[tuple[int, bytes, bytes | None]], int]:
        if self.empty_reads > 0:
            self.empty_reads -= 1
            return [], start
        tp = TP(self.topic, partition)
        log = self.broker.logs[tp]
        stop = max(start, min(end, start + 100, self.broker.stable_end(tp)))
        return [(o, log[o].key or b"", log[o].value) for o in range(start, stop) if log[o].status == COMMITTED], stop


class Driver:
    """One worker on a :class:`MemoryBroker`: every partition, or ``assigned`` ones when it
    shares a broker and a clock with others (``broker=``, ``clock=``)."""

    def __init__(self, settings: Settings | None = None, *, exactly_once: bool = False,
                 broker: MemoryBroker | None = None, clock: Clock | None = None, name: str = "w",
                 assigned: set[TP] | None = None, max_records: int = 50) -> None:
        self.max_records = max_records  # per partition and fetch
        self.settings = settings or Settings(
            kafka_bootstrap_servers="memory:0", partitions=4, input_partitions=2, commit_interval_ms=1,
            progress_interval_ms=1,
        )
        s = self.settings
        self.clock = clock or Clock()
        self.name = name
        if broker is None:
            broker = MemoryBroker()
            for topic in (s.inbound_topic, s.outbound_topic, s.status_topic, s.provider_topic, s.suppressed_topic,
                          s.deadletter_topic, s.consent_topic, s.review_topic):
                broker.create(topic, s.input_partitions)
            for topic in (s.routed_topic, s.changelog_topic):
                broker.create(topic, s.partitions)
        self.broker = broker
        self.assigned = assigned  # None: every partition of the topics read
        self.stores = MemoryStores()
        self.outputs = MemoryOutputs(self.broker, self.clock, transactional=exactly_once,
                                     routed_topic=s.routed_topic)
        self.kill_at_step: str | None = None
        self._ids = itertools.count()
        self.loop: EngineLoop | None = None
        self.starts = 0
        self.changelog_type: type = MemoryChangelog  # tests swap in a slower or failing one
        self.skew_ms = 0  # this worker's clock against the broker's
        self.group_assignment: Any = None  # () -> the partitions the group gives this worker (rejoin)

    @property
    def topics(self) -> list[str]:
        s = self.settings
        return [s.inbound_topic, s.outbound_topic, s.status_topic, s.routed_topic]

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        s = self.settings
        self.stats = Stats()
        router = Router(s, self.stats, clock=self._dt, new_id=lambda: f"{self.name}id{next(self._ids)}",
                        clock_ms=self._ms)
        decider = Decider(s, self.stats, load_policy(s.keywords_file, s.default_locales), clock=self._dt)
        self.processor = Processor(s, router, decider, self.stats, self._ms)
        self.source = MemorySource(self.broker, self.topics, self.max_records, assigned=self.assigned)
        self.source.on_rejoin = self._rejoined
        self.changelog = self.changelog_type(self.broker, s.changelog_topic)
        self.loop = EngineLoop(s, self.processor, self.source, self.outputs, self.changelog, self.stores, self._ms,
                               on_step=self._on_step, sleep=self._sleep)
        self.probe = ProgressProbe(self.source, self.outputs, self.processor.gate, s.routed_topic, s.partitions)
        self.starts += 1
        await self.loop.on_assigned(set(self.source.assignment()))

    def _ms(self) -> int:
        return self.clock.ms() + self.skew_ms

    def _dt(self) -> datetime:
        return datetime.fromtimestamp(self._ms() / 1000, UTC)

    async def _rejoined(self) -> None:
        """The group's answer to a rejoin: its partitions (the same ones, unless the group says
        otherwise), revoked and assigned again."""
        if self.loop is None:
            return
        assigned = set(self.group_assignment()) if self.group_assignment else set(self.source.assignment())
        await self.rebalance(assigned)

    async def rebalance(self, assigned: set[TP]) -> None:
        """This worker's partitions become ``assigned`` (revoked, then assigned, as a group does)."""
        if self.loop is None:
            self.assigned = set(assigned)
            return
        await self.loop.on_revoked(set(self.source.assignment()))
        self.assigned = set(assigned)
        self.source.assigned = set(assigned)
        await self.loop.on_assigned(set(assigned))

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
        self.outputs.lose_producers()
        self.kill_at_step = None
        if wipe_state:
            self.stores.wipe()

    # ------------------------------------------------------------ input

    def pipe(self, topic: str, value: Any, *, key: bytes | None = None, partition: int = 0,
             timestamp_ms: int | None = None) -> int:
        """Produce a record (acknowledged on return); ``timestamp_ms``: the CreateTime its
        producer stamps (its own clock), the broker's clock by default."""
        raw = value if isinstance(value, bytes) or value is None else dumps(value)
        self.clock.advance(1)
        ts = self.clock.ms() if timestamp_ms is None else timestamp_ms
        return self.broker.append(topic, partition, key, raw, ts)

    def reply(self, mid: str, number: str, body: str, *, partition: int = 0, timestamp_ms: int | None = None,
              **extra: Any) -> None:
        self.pipe(self.settings.inbound_topic, {"message_id": mid, "from": number, "to": "+18005550000",
                                                "body": body, **extra}, partition=partition,
                  timestamp_ms=timestamp_ms)

    def send(self, mid: str, number: str, *, partition: int = 0, timestamp_ms: int | None = None,
             **extra: Any) -> None:
        self.pipe(self.settings.outbound_topic, {"message_id": mid, "to": number, "body": "hello", **extra},
                  partition=partition, timestamp_ms=timestamp_ms)

    # ------------------------------------------------------------ running

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
        """``n`` rounds of: a loop step, then a progress snapshot."""
        if self.loop is None:
            await self.start()
        assert self.loop is not None
        for _ in range(n):
            self.clock.advance(1)
            await self.loop.step()
            await asyncio.sleep(0)  # let recovery tasks run
            await self.snapshot()

    async def snapshot(self) -> None:
        try:
            await self.probe.snapshot()
        except Exception:  # the broker refuses: taken again next round
            pass

    # ------------------------------------------------------------ output

    def read(self, topic: str) -> list[dict]:
        return [loads(r.value) for r in self.broker.records(topic) if r.value is not None]

    def state(self, number: str, account: str = "default") -> dict | None:
        key = consent_key(number, account)
        for store in self.stores.stores.values():
            raw = store.get(key)
            if raw is not None:
                return loads(raw)
        return None
