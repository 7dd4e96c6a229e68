"""The engine, hosted: Kafka ports, the loop, the progress snapshots, standbys.

Started by the Faust app as a service (:mod:`app.runtime.faust_app`); it owns
every Kafka client of the worker. Faust's own consumer and producer are not
started: Faust runs the worker's lifecycle and its web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from datetime import UTC, datetime, timedelta

from app.engine.inputs import TP
from app.engine.loop import EngineLoop
from app.engine.outage import Outage
from app.engine.phases import Phase
from app.engine.processor import Processor
from app.engine.progress import ProgressProbe
from app.intake.policy_file import load_policy
from app.records import Output
from app.reports.metrics import Metrics
from app.runtime import quiet_logs
from app.runtime.assignor import Ownership, make_assignor
from app.runtime.cluster_keys import ClusterKeys
from app.runtime.kafka_ports import (
    KafkaChangelog,
    KafkaOutputs,
    KafkaSource,
    KafkaTransactionalOutputs,
    Listener,
    StandbyReader,
)
from app.runtime.rocks import RocksStores
from app.settings import Settings
from app.stream import review_queue
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.partitioner import partition_for
from app.stream.routed import Kind
from app.stream.router import Router

log = logging.getLogger("app.runtime")


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


def clock() -> datetime:
    return datetime.now(UTC)


def skewed_clocks(skew_ms: int):  # type: ignore[no-untyped-def]
    """This worker's clocks (ms, datetime): the wall clock, ``OPTOUT_CLOCK_SKEW_MS`` off (chaos only)."""
    if not skew_ms:
        return clock_ms, clock
    return (lambda: clock_ms() + skew_ms), (lambda: datetime.now(UTC) + timedelta(milliseconds=skew_ms))


class Host:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cluster_keys = ClusterKeys(settings)  # what workers trust each other with (no client holds it)
        self.stats = Stats()
        self.clock_ms, self.clock = skewed_clocks(settings.clock_skew_ms)
        self.router = Router(settings, self.stats, clock=self.clock, clock_ms=self.clock_ms)
        self.decider = Decider(settings, self.stats, load_policy(settings.keywords_file, settings.default_locales),
                               clock=self.clock)
        self.metrics = Metrics()  # GET /metrics: fed once per batch
        self.processor = Processor(settings, self.router, self.decider, self.stats, self.clock_ms,
                                   on_batch=self.metrics.observe)
        self.worker_id = settings.group_instance_id or f"{socket.gethostname()}-{settings.web_port}"
        self.ownership = Ownership()
        self.stores = RocksStores(settings)
        self.broker_outage = quiet_logs.BROKER  # shared with the log filter: one line per broker outage
        self.progress_outage = Outage(log, "progress snapshots")
        self.rebalancing = True
        self.assigned_once = False
        self.started = False
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------ lifecycle

    def _build(self) -> None:
        """The Kafka clients and the loop (aiokafka wants a running event loop)."""
        s = self.settings
        assignor = make_assignor(s.web_url, self.worker_id, s.routed_topic, self.ownership, s.standby_replicas,
                                 with_routed=(s.outbound_topic,))
        self.source = KafkaSource(s, assignor)
        exactly_once = s.processing_guarantee == "exactly_once"
        self.outputs = KafkaTransactionalOutputs(s) if exactly_once else KafkaOutputs(s)
        self.changelog = KafkaChangelog(s)
        self.loop = EngineLoop(s, self.processor, self.source, self.outputs, self.changelog, self.stores,
                               self.clock_ms)
        self.probe = ProgressProbe(self.source, self.outputs, self.processor.gate, s.routed_topic, s.partitions)
        self.outputs.partitions_changed = self.source.refresh_metadata
        self.standby = StandbyReader(s)

    async def start(self) -> None:
        s = self.settings
        self._build()
        outputs = [s.routed_topic, s.provider_topic, s.suppressed_topic, s.deadletter_topic, s.consent_topic,
                   s.review_topic, s.audit_topic, s.changelog_topic, s.inbound_topic, s.status_topic,
                   s.outbound_topic]
        await self.outputs.start(outputs)
        await self.standby.start()
        listener = Listener(self.loop, self._on_rebalance)
        await self.source.start([s.inbound_topic, s.outbound_topic, s.status_topic, s.routed_topic], listener)
        self._tasks = [
            asyncio.ensure_future(self._guard("engine loop", self.loop.run())),
            asyncio.ensure_future(self._guard("progress snapshots", self._snapshots())),
            asyncio.ensure_future(self._guard("broker probe", self._probe_broker())),
            asyncio.ensure_future(self._guard("standby replicas", self._keep_standbys())),
            asyncio.ensure_future(self._guard("review deadlines", self._expire_reviews())),
        ]
        self.started = True

    async def stop(self) -> None:
        if not hasattr(self, "loop"):
            return
        self.loop.stopped = True  # the loop returns after its current step
        engine, *others = self._tasks
        for task in others:
            task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(engine), 10)
            await asyncio.wait_for(self.loop.close(), 10)  # what was processed becomes durable
        except BaseException as exc:  # interrupted: nothing half-done is committed; the replay redoes it
            engine.cancel()
            log.warning("stopping without a final checkpoint (%r)", exc)
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        for closer in (self.source.stop, self.standby.stop, self.changelog.stop,
                       self.outputs.stop):
            with contextlib.suppress(Exception):
                await closer()
        self.stores.close_all()

    async def _guard(self, name: str, coro) -> None:  # type: ignore[no-untyped-def]
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BaseException:
            log.critical("%s stopped by a bug: stopping the worker so nothing is decided half-way", name,
                         exc_info=True)
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)

    def _on_rebalance(self, what: str) -> None:
        if what == "revoking":
            self.rebalancing = True
        else:
            self.rebalancing = False
            self.assigned_once = True
            assigned = self.source.assignment()
            # stores of routed partitions not assigned any more are closed
            keep = {tp.partition for tp in assigned if tp.topic == self.settings.routed_topic}
            keep |= self.ownership.standbys
            for partition in list(self.stores.open_stores):
                if partition not in keep and self.loop.phases.of(partition) is Phase.CLOSED:
                    self.stores.close(partition)
            log.info("assigned %d partition(s): %s", len(assigned), ", ".join(
                f"{t}{sorted(tp.partition for tp in assigned if tp.topic == t)}"
                for t in sorted({tp.topic for tp in assigned})))

    # ------------------------------------------------------------ progress

    async def _forever(self, outage: Outage, once, pause_s: float = 0.0) -> None:  # type: ignore[no-untyped-def]
        """Run ``once`` again and again; failures are retried with back-off and logged once
        per outage (:class:`Outage`), which ``/health`` reports."""
        while True:
            try:
                await once()
                outage.ok(clock_ms())
                if pause_s:
                    await asyncio.sleep(pause_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outage.failed(clock_ms(), exc)
                await asyncio.sleep(max(pause_s, outage.backoff_s()))

    async def _snapshots(self) -> None:
        """While sends are held: how far the routers have routed the replies (the group's
        committed offsets, then the routed topic's ends), every ``progress_interval_ms``."""
        processor, probe = self.processor, self.probe

        async def once() -> None:
            if processor.held_count():
                await probe.snapshot()

        await self._forever(self.progress_outage, once, self.settings.progress_interval_ms / 1000)

    def _standby_partitions(self) -> set[int]:
        """Standbys that are not (being made) active here: only those may be written by the tail."""
        active = {tp.partition for tp in self.source.assignment() if tp.topic == self.settings.routed_topic}
        return {p for p in self.ownership.standbys
                if p not in active and self.loop.phases.of(p) is Phase.CLOSED}

    async def _keep_standbys(self) -> None:
        """Warm copies of other workers' table partitions: a takeover then recovers only the tail."""

        async def once() -> None:
            wanted = self._standby_partitions() if not self.rebalancing else set()
            self.standby.follow({p: self.stores.open(p).changelog_next() for p in wanted})
            for partition, records in (await self.standby.poll()).items():
                if partition not in self._standby_partitions():
                    continue  # became active while we waited: recovery owns the store now
                store = self.stores.open(partition)
                fresh = [r for r in records if r[0] >= store.changelog_next()]
                if fresh:
                    store.write({k: v for _, k, v in fresh if v is not None}, fresh[-1][0] + 1)

        await self._forever(Outage(log, "standby replicas"), once)

    async def _expire_reviews(self) -> None:
        """Opt out the review items nobody decided by their deadline (fail closed): each is
        published to its number's partition and applied there once, like a decision."""
        published: dict[str, int] = {}  # review id -> when (not again for a while: applied by then)

        async def once() -> None:
            if self.settings.review_expiry == "keep" or self.rebalancing:
                return
            now = clock_ms()
            for rid, at in list(published.items()):
                if now - at > 10 * self.settings.review_scan_interval_ms:
                    del published[rid]
            for partition in range(self.settings.partitions):
                state = self.local_state(partition)
                if state is None:
                    continue
                for item in review_queue.expired(state, now)[:1000]:
                    if item["review_id"] not in published:
                        await self.publish(self.router.review_event(Kind.REVIEW_EXPIRED, item))
                        published[item["review_id"]] = now

        await self._forever(Outage(log, "review deadlines"), once, self.settings.review_scan_interval_ms / 1000)

    async def _probe_broker(self) -> None:
        """Ask the broker something small every second: health says when it does not answer."""
        probe = [TP(self.settings.routed_topic, 0)]

        async def once() -> None:
            await asyncio.wait_for(self.outputs.end_offsets(probe), 3)

        await self._forever(self.broker_outage, once, pause_s=1.0)

    # ------------------------------------------------------------ for the web views

    async def publish(self, output: Output) -> None:
        """Publish ``output``; return once the broker has acknowledged it."""
        await (await self.outputs.send([output]))

    def owner_of(self, number: str) -> tuple[int, str | None]:
        partition = partition_for(number, self.settings.partitions)
        return partition, self.ownership.owners.get(partition)

    def local_state(self, partition: int):  # type: ignore[no-untyped-def]
        """The partition's state if this worker holds it, recovered; else None."""
        if not self.started or self.rebalancing:
            return None
        return self.processor.states.get(partition)

    def health(self) -> dict:
        if not self.started:
            return {"ready": False, "problems": ["starting"], "worker": self.worker_id}
        report = self.loop.health()
        problems = list(report["problems"])
        if not self.started:
            problems.insert(0, "starting")
        elif not self.assigned_once:
            problems.insert(0, "waiting for a partition assignment")
        elif self.rebalancing:
            problems.insert(0, "rebalancing")
        now = clock_ms()
        for outage in (self.broker_outage, self.progress_outage):
            if outage.failing_since_ms is not None and now - outage.failing_since_ms > 2000:
                problems.append(f"{outage.what} failing for {(now - outage.failing_since_ms) / 1000:.1f} s: "
                                f"{outage.last_error}")
        report["problems"] = problems
        report["ready"] = not problems
        report["worker"] = self.worker_id
        return report
