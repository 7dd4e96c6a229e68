"""The worker's main loop: fetch, process, checkpoint; rebalances, recovery, rewind.

- **Assignment**: every task is opened first (its producer fences the previous
  owner's). A routed partition is paused until its state is recovered from the
  changelog, from the offset its local store reached **to the end offset**
  however long that takes (fail closed: its sends wait; health says which
  partition and why), then it is read from its committed offset. Input
  partitions need no state.
- **Revocation**: what was processed is checkpointed first (best effort; if that
  fails the next owner replays it), then the partition's state and held sends
  are dropped.
- **Failure** (an output refused, the broker gone, a commit refused): nothing
  after the failed step happens (:mod:`app.engine.checkpoint`); the loop
  rewinds: state overlays and held sends are dropped, routed partitions are
  recovered again from the changelog, every partition is read again from its
  committed offset; whatever was fetched before that is dropped, never processed.
  A fenced task (a newer producer exists) asks the group for an assignment again:
  the tasks still ours are opened anew. A failure is logged once, and once when it
  is over.
- **Health**: not ready while a partition recovers, the broker fails, a
  partition has records waiting but does not move, or sends are held longer
  than the stall limit (a reply partition nobody routes: fail closed, and said).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from app.engine.checkpoint import Checkpoint
from app.engine.failures import EngineFailure, RecoveryStalled, SeekFailed, StepInterrupted, is_fenced
from app.engine.inputs import TP
from app.engine.outage import Outage
from app.engine.phases import Phase, Phases
from app.engine.ports import ChangelogPort, OutputPort, SourcePort, StoreFactory
from app.engine.processor import Processor
from app.engine.state import PartitionState
from app.settings import Settings

log = logging.getLogger("app.engine")

# How often the stores give freed memory back to the system (RocksStores: glibc's malloc_trim).
# Flushes, compactions and bursts of records leave free pages inside malloc's heaps; kept,
# they hold the worker's RSS at its highest point since it started.
RELEASE_MEMORY_INTERVAL_MS = 30_000

# A worker whose tasks stay fenced this long cannot repair itself (a new assignment did not
# reopen them): it is not live, and its orchestrator restarts it (the takeover bound).
FENCED_LIVENESS_MS = 15_000


class EngineLoop:
    def __init__(self, settings: Settings, processor: Processor, source: SourcePort, outputs: OutputPort,
                 changelog: ChangelogPort, stores: StoreFactory, clock_ms: Callable[[], int],
                 on_step: Callable[[str], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.sleep = sleep
        self.settings = settings
        self.processor = processor
        self.source = source
        self.outputs = outputs
        self.changelog = changelog
        self.stores = stores
        self.clock_ms = clock_ms
        self.routed_topic = settings.routed_topic
        self.checkpoint = Checkpoint(outputs, source, settings.changelog_topic, settings.routed_topic, on_step,
                                     task_of=processor.task_of)
        self.lock = asyncio.Lock()
        self.phases = Phases()  # each routed partition's phase (app.engine.phases)
        self.recovering: dict[int, asyncio.Task] = {}  # the restoring partitions' changelog readers
        self.recovery_problems: dict[int, str] = {}  # why a partition's recovery is not done yet
        self.reply_topics = (settings.inbound_topic, settings.status_topic)
        self.outbound_topic = settings.outbound_topic
        # deciding in place: exactly-once, and the send topic partitioned as the routed topic
        self.may_decide_in_place = settings.decide_in_place and outputs.transactional
        self._replies_moved = False  # replies processed since the last checkpoint
        self._last_commit_ms = 0
        self._observed_ms = 0  # when the send partitions' ends were last read (app.engine.processor.observe)
        self.held_back = False  # send partitions paused: too many sends held (_hold_back)
        self._due_ms = 0
        self.fenced_since_ms: int | None = None
        self.outage = Outage(log, "processing")
        self._moved_ms: dict[TP, int] = {}  # last time each partition advanced or was caught up
        self._last_pos: dict[TP, int] = {}
        self.fetch_timeout_ms = settings.fetch_max_wait_ms
        self.stopped = False
        self.dirty = False  # a step was interrupted: rewind before anything else
        self._seeks: dict[TP, int] = {}  # seeks per partition: records fetched across one are stale
        self._release_due_ms = clock_ms() + RELEASE_MEMORY_INTERVAL_MS

    # ------------------------------------------------------------ rebalances

    async def on_assigned(self, tps: set[TP]) -> None:
        async with self.lock:
            # reconcile: anything held for a routed partition that is not ours any more goes
            # (a rewind during a rebalance may have started recovering the old assignment)
            stale = {TP(self.routed_topic, p) for p in self.phases.held()} - set(tps)
            if stale:
                self._forget(stale)
            self.processor.in_place = self._in_place(tps)
            # a send partition decided in place is read once its routed partition is open; any
            # other is read now (one paused for a recovery this worker gave up is not any more)
            waiting = {tp for tp in tps if tp.topic == self.outbound_topic and self._waits_for_table(tp)}
            self.source.resume({tp for tp in tps if tp.topic == self.outbound_topic} - waiting)
            self.source.pause(waiting)
            # fence the partitions' previous producers first: their open transactions are
            # aborted, so recovery and reading see only what was committed, and a zombie
            # owner's changelog writes are refused from here on (either guarantee)
            for tp in sorted(tps):
                try:
                    await self.outputs.open_task(tp)
                except Exception as exc:  # its sends fail as fenced: asked again (rejoin)
                    log.warning("could not open the task of %s[%d]: %r", tp.topic, tp.partition, exc)
            # read from the offsets committed up to now (by a fenced owner too); whatever was
            # fetched before this point is stale (routed partitions seek when recovered)
            try:
                await self._seek({tp for tp in tps if tp.topic != self.routed_topic})
            except Exception as exc:  # the next step rewinds (and seeks) before anything else
                log.warning("could not seek the assigned partitions to their committed offsets: %r", exc)
                self.dirty = True
            now = self.clock_ms()
            for tp in tps:
                self._moved_ms[tp] = now
                if tp.topic == self.routed_topic and self.phases.of(tp.partition) is Phase.CLOSED:
                    self._start_recovery(tp.partition)

    async def on_revoked(self, tps: set[TP]) -> None:
        async with self.lock:
            try:
                await self._commit()
            except Exception as exc:  # the next owner replays from the last commit
                log.warning("could not checkpoint before giving up %d partition(s): %r", len(tps), exc)
                with contextlib.suppress(Exception):
                    await self.outputs.abort_tasks()
            for tp in tps:
                with contextlib.suppress(Exception):
                    await self.outputs.close_task(tp)
            self._forget(tps)

    def _in_place(self, tps: set[TP]) -> set[int]:
        """The routed partitions whose send partition of the same number is ours too: those sends
        are decided in place, in the routed partition's task (:meth:`Processor.task_of`)."""
        if not self.may_decide_in_place:
            return set()
        try:
            if self.outputs.partitions(self.outbound_topic) != self.settings.partitions:
                return set()
        except Exception:  # no metadata: route every send (the next assignment looks again)
            return set()
        return {tp.partition for tp in tps if tp.topic == self.routed_topic
                and TP(self.outbound_topic, tp.partition) in tps}

    def _with_sends(self, partition: int) -> set[TP]:
        """Routed partition ``partition`` and, decided in place, its send partition."""
        tp = TP(self.routed_topic, partition)
        if partition in self.processor.in_place:
            return {tp, TP(self.outbound_topic, partition)}
        return {tp}

    def _forget(self, tps: set[TP]) -> None:
        for tp in tps:
            if tp.topic == self.routed_topic:
                task = self.recovering.pop(tp.partition, None)
                if task is not None:
                    task.cancel()
                self.phases.close(tp.partition)
                self.stores.close(tp.partition)
                self.recovery_problems.pop(tp.partition, None)
            self._moved_ms.pop(tp, None)
            self._last_pos.pop(tp, None)
        self.processor.drop(tps)
        self.checkpoint.forget(tps)

    # ------------------------------------------------------------ recovery

    def _start_recovery(self, partition: int) -> None:
        self.phases.move(partition, Phase.RESTORING)
        self.source.pause(self._with_sends(partition))
        self.recovering[partition] = asyncio.ensure_future(self._recover(partition))

    async def _recover(self, partition: int) -> None:
        tp = TP(self.routed_topic, partition)
        changelog_tp = TP(self.settings.changelog_topic, partition)
        outage = Outage(log, f"recovery of partition {partition}")
        store = self.stores.open(partition)
        started = self.clock_ms()
        applied = 0
        end: int | None = None
        while True:
            try:
                if end is None:  # the end observed at assignment: everything written before it
                    end = (await self.outputs.end_offsets([changelog_tp]))[changelog_tp]
                start = store.changelog_next()
                while start < end:
                    batch, reached = await self.changelog.read(partition, start, end)
                    if reached <= start:
                        # nothing could be read (a slow or absent leader, an open transaction):
                        # the partition stays closed, never opened short of the end
                        raise RecoveryStalled(f"changelog read returned nothing at offset {start} of {end}")
                    store.write({key: value for _, key, value in batch if value is not None}, reached)
                    applied += len(batch)
                    start = reached
                    self.recovery_problems.pop(partition, None)
                async with self.lock:
                    if self.recovering.get(partition) is not asyncio.current_task():
                        return  # revoked meanwhile
                    if tp not in self.source.assignment():
                        del self.recovering[partition]
                        self.phases.move(partition, Phase.CLOSED)
                        return  # not ours (a rebalance is under way): the next assignment decides
                    # a send partition decided in place is read again too: what was fetched of
                    # it while this partition was closed was dropped
                    opened = self._with_sends(partition)
                    await self._seek(opened)
                    position = await self.source.position(tp)
                    # read after the send partition's committed offset: its sends routed before are below
                    routed_end = (await self.outputs.end_offsets([tp]))[tp] if len(opened) > 1 else None
                    self.processor.open_partition(PartitionState(partition, store))
                    self.processor.positions[tp] = position
                    if routed_end is not None:
                        self.processor.open_in_place(partition, routed_end)
                    self.phases.move(partition, Phase.RUNNING)
                    del self.recovering[partition]
                    self.source.resume({tp for tp in opened if tp.topic != self.outbound_topic or not self.held_back})
                    self._moved_ms[tp] = self.clock_ms()
                outage.ok(self.clock_ms())
                if applied:
                    log.info("partition %d recovered: %d changelog record(s) in %.1f s", partition, applied,
                             (self.clock_ms() - started) / 1000)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outage.failed(self.clock_ms(), exc)
                self.recovery_problems[partition] = f"{type(exc).__name__}: {exc}"
                await self.sleep(outage.backoff_s())

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        while not self.stopped:
            await self.step()

    async def step(self) -> None:
        seeks = dict(self._seeks)
        try:
            records = await self.source.fetch(self.fetch_timeout_ms)
        except Exception as exc:
            self.outage.failed(self.clock_ms(), exc)
            await self.sleep(self.outage.backoff_s())
            return
        async with self.lock:
            if seeks != self._seeks:
                # partitions sought (assignment, recovery, rewind) while this batch was fetched:
                # their records may be from before the seek (processing them would decide them
                # twice) or after it (the consumer's position is then past them): drop them and
                # read those partitions from their committed offsets once more
                sought = {tp for tp, n in self._seeks.items() if seeks.get(tp) != n}
                if any((r.topic, r.partition) in sought for r in records):
                    records = [r for r in records if (r.topic, r.partition) not in sought]
                    try:
                        await self._seek({tp for tp in sought if tp in self.source.assignment()})
                    except Exception:
                        self.dirty = True
                        records = []
            if self.dirty:
                # everything fetched so far was fetched before the partitions are read again
                # from their committed offsets: stale, whether this rewind's seek works or not
                records = []
                await self._rewind()
                if self.dirty:  # the seek failed again: nothing is processed until one works
                    self.outage.failed(self.clock_ms(), SeekFailed("could not seek to the committed offsets"))
                    backoff = self.outage.backoff_s()
                    records = None
            if records is not None:
                try:
                    await self._process(records)
                    self.outage.ok(self.clock_ms())
                    self.fenced_since_ms = None  # a step went through: no task is fenced now
                except asyncio.CancelledError:
                    # stopped half-way: what was processed may not all be handed over; nothing
                    # of it may be committed (a clean stop waits for the step instead)
                    self.dirty = True
                    raise
                except Exception as exc:
                    if not isinstance(exc, EngineFailure) and self.outage.failing_since_ms is None:
                        log.error("unexpected error in a step (a bug): rewinding", exc_info=exc)
                    self.outage.failed(self.clock_ms(), exc)
                    await self._rewind()  # the cure of every failure but one ...
                    if is_fenced(exc):  # ... which also needs the partitions assigned again
                        if self.fenced_since_ms is None:
                            self.fenced_since_ms = self.clock_ms()
                        log.warning("a task is fenced (%s): asking the group for the partitions again", exc)
                        await self.source.rejoin()
                    backoff = self.outage.backoff_s()
                else:
                    return
        await self.sleep(backoff)

    async def _process(self, records: list) -> None:
        processor = self.processor
        stamp = None
        sends = False
        if records:
            assignment = self.source.assignment()
            routed = self.routed_topic
            waiting = {tp for tp in assignment if self._waits_for_table(tp)}
            ready = [r for r in records if (tp := (r.topic, r.partition)) in assignment and tp not in waiting]
            topics = {r.topic for r in ready}
            sends = self.settings.outbound_topic in topics
            if sends or routed in topics:
                # after the fetch: every reply acknowledged before these sends were produced
                # is below these ends (app.engine.reply_gate)
                stamp = await self.outputs.log_ends(self.reply_topics)
            if not topics.isdisjoint(self.reply_topics):
                self._replies_moved = True
            await self.checkpoint.send(processor.process(ready, stamp))
        if sends or self.clock_ms() - self._observed_ms >= self.settings.commit_interval_ms:
            await self._observe(stamp)
        self._advance_positions()
        await self.checkpoint.send(processor.release())
        self._hold_back()
        now = self.clock_ms()
        # replies are made durable sooner (progress_interval_ms): sends everywhere wait for them
        replies_due = self._replies_moved and now - self._last_commit_ms >= self.settings.progress_interval_ms
        if (now >= self._due_ms or not records or replies_due) and self.checkpoint.has_work(processor):
            await self._commit()
            self._due_ms = now + self.settings.commit_interval_ms
        if now >= self._release_due_ms:
            self._release_due_ms = now + RELEASE_MEMORY_INTERVAL_MS
            self.stores.release_memory()

    def _hold_back(self) -> None:
        """Bound the sends held in memory: at ``max_held_sends`` this worker stops reading its send
        partitions (they route or decide new sends); at half of it, it reads them again. Routed
        partitions are always read: their replies and the gate's coverage are what release the
        held sends (pausing them could hold them forever)."""
        held = self.processor.in_memory_count()
        limit = self.settings.max_held_sends
        if held >= limit:
            self.source.pause({tp for tp in self.source.assignment() if tp.topic == self.outbound_topic})
            self.held_back = True
        elif self.held_back and held <= limit // 2:
            self.held_back = False
            self.source.resume({tp for tp in self.source.assignment() if tp.topic == self.outbound_topic
                                and not self._waits_for_table(tp)})

    def _with_table(self, tp: TP) -> bool:
        """``tp`` is read and processed with its table partition: a routed partition, or a send
        partition decided in place (its decisions change that table partition's state)."""
        return tp.topic == self.routed_topic or (tp.topic == self.outbound_topic
                                                 and tp.partition in self.processor.in_place)

    def _waits_for_table(self, tp: TP) -> bool:
        """``tp`` is read with its table partition, which is not open (recovering, or closed)."""
        return self._with_table(tp) and self.phases.of(tp.partition) is not Phase.RUNNING

    async def _observe(self, reply_ends: dict[TP, int] | None) -> None:
        """Read the send partitions' ends *after* the replies' ends: a send appended at or
        past them was produced after every reply below those ends was acknowledged (what
        tells, by offsets, whether a send was requested before or after a START)."""
        outbound = self.settings.outbound_topic
        tps = [tp for tp in self.source.assignment() if tp.topic == outbound]
        if not tps:
            return
        if reply_ends is None:
            reply_ends = await self.outputs.log_ends(self.reply_topics)
        self.processor.observe(await self.outputs.end_offsets(tps), reply_ends)
        self._observed_ms = self.clock_ms()

    def _advance_positions(self) -> None:
        """Every record returned so far is processed: a partition is processed up to the
        consumer's position, which passes transaction markers and aborted records too
        (a watermark's required offsets and the committed offsets count those)."""
        positions = self.processor.positions
        for tp in self.source.assignment():
            if self._waits_for_table(tp):
                continue
            position = self.source.consumed_position(tp)
            if position is not None and position > positions.get(tp, -1):
                positions[tp] = position

    async def _commit(self) -> None:
        if self.dirty:
            raise StepInterrupted("a step was interrupted: nothing more is committed until the rewind")
        await self.checkpoint.commit(self.processor)
        self._replies_moved = False
        self._last_commit_ms = self.clock_ms()

    async def close(self) -> None:
        """A clean stop (the loop has returned): make what was processed durable."""
        async with self.lock:
            if not self.dirty and self.checkpoint.has_work(self.processor):
                await self._commit()

    async def _seek(self, tps: set[TP]) -> None:
        """Read ``tps`` from their committed offsets (a batch fetched before is stale for them)."""
        for tp in tps:
            self._seeks[tp] = self._seeks.get(tp, 0) + 1
        await self.source.seek_to_committed(tps)

    async def _rewind(self) -> None:
        """Forget everything not yet durable; read it all again."""
        self.dirty = False
        self._replies_moved = False
        with contextlib.suppress(Exception):
            await self.outputs.abort_tasks()
        self.checkpoint.reset()
        assignment = self.source.assignment()
        open_routed = {TP(self.routed_topic, p) for p in self.processor.states}
        self.processor.drop(set(self.processor.positions) | open_routed)
        for partition in self.phases.in_phase(Phase.RUNNING):
            if TP(self.routed_topic, partition) not in assignment:
                self.phases.close(partition)  # its state is dropped: CLOSED until assigned again
        for tp in assignment:
            if tp.topic == self.routed_topic and self.phases.of(tp.partition) is not Phase.RESTORING:
                self._start_recovery(tp.partition)
        others = {tp for tp in assignment if tp.topic != self.routed_topic}
        try:
            await self._seek(others)
        except Exception:  # the broker is gone: rewind again at the next step, until a seek works
            self.dirty = True

    # ------------------------------------------------------------ health

    def live(self) -> bool:
        """False once tasks stayed fenced past the takeover bound despite a new assignment."""
        since = self.fenced_since_ms
        return since is None or self.clock_ms() - since <= FENCED_LIVENESS_MS

    def health(self) -> dict:
        now = self.clock_ms()
        problems: list[str] = []
        restoring = self.phases.in_phase(Phase.RESTORING)
        if restoring:
            problems.append(f"recovering state of partition(s) {restoring}")
            for partition, why in sorted(self.recovery_problems.items()):
                problems.append(f"partition {partition} stays closed until its changelog is read to the end: {why}")
        fenced = not self.live()
        if fenced:
            problems.append(f"tasks fenced for {(now - self.fenced_since_ms) / 1000:.1f} s and not reopened "
                            "by a new assignment")
        if self.outage.failing_since_ms is not None:
            problems.append(f"processing failing for {(now - self.outage.failing_since_ms) / 1000:.1f} s: "
                            f"{self.outage.last_error}")
        stall_ms = self.settings.stall_ms
        stalled = []
        for tp in self.source.assignment():
            lag = self.source.lag(tp)
            pos = self.processor.positions.get(tp)
            if lag is None or lag <= 0 or pos != self._last_pos.get(tp):
                self._moved_ms[tp] = now
                if pos is not None:
                    self._last_pos[tp] = pos
            elif now - self._moved_ms.get(tp, now) > stall_ms and not (
                    self._with_table(tp) and self.phases.of(tp.partition) is Phase.RESTORING) and not (
                    tp.topic == self.outbound_topic and self.held_back):  # said by the held sends' line
                stalled.append(f"{tp.topic}[{tp.partition}]")
        if stalled:
            problems.append(f"partition(s) with records waiting that do not move: {', '.join(sorted(stalled))}")
        oldest = self.processor.oldest_held()
        held = self.processor.held_count()
        if oldest is not None and now - oldest.since_ms > stall_ms:
            behind = self.processor.gate.behind(oldest.stamp or {})
            names = ", ".join(f"{tp.topic}[{tp.partition}] ({n} record(s) not routed)"
                              for tp, n in sorted(behind.items())) or "none"
            problems.append(f"{held} send(s) held for {(now - oldest.since_ms) / 1000:.1f} s until replies are "
                            f"routed (fail closed); reply partitions behind: {names}")
        return {
            "live": not fenced,
            "ready": not problems,
            "problems": problems,
            "held_sends": held,
            "send_partitions_paused": self.held_back,  # max_held_sends reached (_hold_back)
            "assigned": len(self.source.assignment()),
            "checkpoints": self.checkpoint.count,
        }
