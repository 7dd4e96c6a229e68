"""The worker's main loop: fetch, process, checkpoint; rebalances, recovery, rewind.

- **Assignment**: a routed partition is paused until its state is recovered
  from the changelog (from the offset its local store reached), then it is
  read from its committed offset. Input partitions need no state.
- **Revocation**: what was processed is checkpointed first (best effort; if that
  fails the next owner replays it), then the partition's state and held sends
  are dropped.
- **Failure** (an output refused, the broker gone, a commit refused): nothing
  after the failed step happens (:mod:`app.engine.checkpoint`); the loop
  rewinds: state overlays and held sends are dropped, routed partitions are
  recovered again from the changelog, every partition is read again from its
  committed offset. A failure is logged once, and once when it is over.
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
from app.engine.outage import Outage
from app.engine.ports import ChangelogPort, OutputPort, SourcePort, StoreFactory
from app.engine.processor import Processor
from app.engine.records import TP
from app.engine.state import PartitionState
from app.settings import Settings

log = logging.getLogger("app.engine")

# How often the stores give freed memory back to the system (RocksStores: glibc's malloc_trim).
# Flushes, compactions and bursts of records leave free pages inside malloc's heaps; kept,
# they hold the worker's RSS at its highest point since it started.
RELEASE_MEMORY_INTERVAL_MS = 30_000


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
        self.checkpoint = Checkpoint(outputs, source, settings.changelog_topic, settings.routed_topic, on_step)
        self.lock = asyncio.Lock()
        self.recovering: dict[int, asyncio.Task] = {}
        self.durable: dict[TP, int] = {}  # offsets made durable by the last checkpoint
        self._checkpointed = asyncio.Event()
        self._wanted = False
        self._due_ms = 0
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
            held_here = set(self.recovering) | set(self.processor.states)
            stale = {TP(self.routed_topic, p) for p in held_here} - set(tps)
            if stale:
                self._forget(stale)
            if self.outputs.transactional:
                # fence the partitions' previous producers first: their open transactions
                # are aborted, so recovery and reading see only what was committed
                for tp in tps:
                    await self.outputs.open_task(tp)
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
                if tp.topic == self.routed_topic and tp.partition not in self.recovering \
                        and not self.processor.is_open(tp.partition):
                    self._start_recovery(tp.partition)

    async def on_revoked(self, tps: set[TP]) -> None:
        async with self.lock:
            try:
                await self._commit()
            except Exception as exc:  # the next owner replays from the last commit
                log.warning("could not checkpoint before giving up %d partition(s): %r", len(tps), exc)
                if self.outputs.transactional:
                    with contextlib.suppress(Exception):
                        await self.outputs.abort_tasks()
            if self.outputs.transactional:
                for tp in tps:
                    with contextlib.suppress(Exception):
                        await self.outputs.close_task(tp)
            self._forget(tps)

    def _forget(self, tps: set[TP]) -> None:
        for tp in tps:
            if tp.topic == self.routed_topic:
                task = self.recovering.pop(tp.partition, None)
                if task is not None:
                    task.cancel()
                self.stores.close(tp.partition)
            self._moved_ms.pop(tp, None)
            self._last_pos.pop(tp, None)
            self.durable.pop(tp, None)
        self.processor.drop(tps)
        self.checkpoint.forget(tps)

    # ------------------------------------------------------------ recovery

    def _start_recovery(self, partition: int) -> None:
        self.source.pause({TP(self.routed_topic, partition)})
        self.recovering[partition] = asyncio.ensure_future(self._recover(partition))

    async def _recover(self, partition: int) -> None:
        tp = TP(self.routed_topic, partition)
        changelog_tp = TP(self.settings.changelog_topic, partition)
        outage = Outage(log, f"recovery of partition {partition}")
        store = self.stores.open(partition)
        started = self.clock_ms()
        applied = 0
        while True:
            try:
                start = store.changelog_next()
                end = (await self.outputs.end_offsets([changelog_tp]))[changelog_tp]
                while start < end:
                    batch = await self.changelog.read(partition, start, end)
                    if not batch:
                        break
                    store.write({key: value for _, key, value in batch if value is not None}, batch[-1][0] + 1)
                    applied += len(batch)
                    start = batch[-1][0] + 1
                async with self.lock:
                    if self.recovering.get(partition) is not asyncio.current_task():
                        return  # revoked meanwhile
                    if tp not in self.source.assignment():
                        del self.recovering[partition]
                        return  # not ours (a rebalance is under way): the next assignment decides
                    await self._seek({tp})
                    self.processor.open_partition(PartitionState(partition, store))
                    del self.recovering[partition]
                    self.source.resume({tp})
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
                await self._rewind()
                if self.dirty:
                    records = []  # not read from the committed offsets yet: process nothing
            try:
                processor = self.processor
                if records:
                    assignment = self.source.assignment()
                    routed = self.routed_topic
                    ready = [r for r in records if (r.topic, r.partition) in assignment
                             and (r.topic != routed or processor.is_open(r.partition))]
                    await self.checkpoint.send(processor.process(ready))
                self._advance_positions()
                await self.checkpoint.send(processor.release())
                now = self.clock_ms()
                if (now >= self._due_ms or not records or self._wanted) and self.checkpoint.has_work(processor):
                    await self._commit()
                    self._due_ms = now + self.settings.commit_interval_ms
                if now >= self._release_due_ms:
                    self._release_due_ms = now + RELEASE_MEMORY_INTERVAL_MS
                    self.stores.release_memory()
                self.outage.ok(self.clock_ms())
            except asyncio.CancelledError:
                # stopped half-way: what was processed may not all be handed over; nothing
                # of it may be committed (a clean stop waits for the step instead)
                self.dirty = True
                raise
            except Exception as exc:
                self.outage.failed(self.clock_ms(), exc)
                await self._rewind()
                backoff = self.outage.backoff_s()
            else:
                return
        await self.sleep(backoff)

    def _advance_positions(self) -> None:
        """Every record returned so far is processed: a partition is processed up to the
        consumer's position, which passes transaction markers and aborted records too
        (a watermark's required offsets and the committed offsets count those)."""
        positions = self.processor.positions
        routed = self.routed_topic
        for tp in self.source.assignment():
            if tp.topic == routed and not self.processor.is_open(tp.partition):
                continue
            position = self.source.consumed_position(tp)
            if position is not None and position > positions.get(tp, -1):
                positions[tp] = position

    async def _commit(self) -> None:
        if self.dirty:
            raise RuntimeError("a step was interrupted: nothing more is committed until the rewind")
        offsets = await self.checkpoint.commit(self.processor)
        self._wanted = False
        self.durable.update(offsets)
        event, self._checkpointed = self._checkpointed, asyncio.Event()
        event.set()

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
        if self.outputs.transactional:
            with contextlib.suppress(Exception):
                await self.outputs.abort_tasks()
        self.checkpoint.reset()
        assignment = self.source.assignment()
        open_routed = {TP(self.routed_topic, p) for p in self.processor.states}
        self.processor.drop(set(self.processor.positions) | open_routed)
        for tp in assignment:
            if tp.topic == self.routed_topic:
                if tp.partition not in self.recovering:
                    self._start_recovery(tp.partition)
        others = {tp for tp in assignment if tp.topic != self.routed_topic}
        try:
            await self._seek(others)
        except Exception:  # the broker is gone: rewind again at the next step, until a seek works
            self.dirty = True

    # ------------------------------------------------------------ progress support

    def request_checkpoint(self) -> None:
        """Make what is processed durable at the next step, whatever the interval."""
        self._wanted = True

    async def wait_durable(self, targets: dict[TP, int], timeout_s: float) -> dict[TP, int]:
        """Wait until each partition's durable offset reaches its target; returns the
        partitions that did (the others: revoked, or not there within the timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            assignment = self.source.assignment()
            done: dict[TP, int] = {}
            missing = False
            for tp, target in targets.items():
                if tp not in assignment:
                    continue
                durable = self.durable.get(tp)
                if durable is None and tp not in self.processor.positions:
                    # nothing processed here since assignment: durable up to the committed position
                    with contextlib.suppress(Exception):
                        durable = await self.source.position(tp)
                if durable is not None and durable >= target:
                    done[tp] = target
                else:
                    missing = True
            remaining = deadline - loop.time()
            if not missing or remaining <= 0:
                return done
            self._wanted = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._checkpointed.wait(), min(remaining, 0.5))

    # ------------------------------------------------------------ health

    def health(self) -> dict:
        now = self.clock_ms()
        problems: list[str] = []
        if self.recovering:
            problems.append(f"recovering state of partition(s) {sorted(self.recovering)}")
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
                    tp.topic == self.routed_topic and tp.partition in self.recovering):
                stalled.append(f"{tp.topic}[{tp.partition}]")
        if stalled:
            problems.append(f"partition(s) with records waiting that do not move: {', '.join(sorted(stalled))}")
        oldest = self.processor.oldest_held_ms()
        held = self.processor.held_count()
        if oldest is not None and now - oldest > stall_ms:
            behind = self.processor.watermarks.lagging(now, stall_ms)
            names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(behind)) or "none reported"
            problems.append(f"{held} send(s) held for {(now - oldest) / 1000:.1f} s until replies are routed "
                            f"(fail closed); reply partitions behind: {names}")
        return {
            "ready": not problems,
            "problems": problems,
            "held_sends": held,
            "assigned": len(self.source.assignment()),
            "checkpoints": self.checkpoint.count,
        }
