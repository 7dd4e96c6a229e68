"""A model checker for the engine: two workers on one in-memory broker, driven by Hypothesis
through every interleaving it can find of produce, steps (fetch, route, decide, checkpoint),
progress snapshots, kills at any checkpoint step with and without a wiped store, rebalances
(told at once, or to a zombie later), failed seeks, empty changelog reads, added reply
partitions, fenced producers, refused outputs, and skewed clocks (per worker and per producer).

After every step: no send produced after its number's STOP was acknowledged has reached the
provider, and no send has two kinds of outcome. At the end of each example, with every fault
lifted and both workers running: every send has exactly one kind of outcome (exactly one
record under exactly-once), every STOP its consent record, every applied opt-out its
confirmation.

``make test`` runs a bounded number of examples; ``make chaos`` a long run
(``MODEL_CHECK_EXAMPLES``, ``MODEL_CHECK_STEPS``).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from app.engine.checkpoint import STEPS
from app.engine.driver import Driver, Killed, MemoryBroker
from app.engine.inputs import TP
from app.settings import Settings

EXAMPLES = int(os.environ.get("MODEL_CHECK_EXAMPLES", "40"))
# a fixed seed in ``make test`` (a red run is a real defect, found the same way each time);
# MODEL_CHECK_SEED=random (``make chaos``) explores anew at every run
SEED = os.environ.get("MODEL_CHECK_SEED", "20261206")
STEPS_PER_EXAMPLE = int(os.environ.get("MODEL_CHECK_STEPS", "40"))

STOP_ONLY = ["+14155550101"]  # only STOPs and HELPs: a later send must be suppressed
MIXED = ["+14155550103"]  # STOPs and STARTs (event times decide): outcomes are only accounted
NUMBERS = STOP_ONLY + MIXED
WORKERS = ("w0", "w1")


def make_settings() -> Settings:
    return Settings(kafka_bootstrap_servers="memory:0", partitions=2, input_partitions=2, commit_interval_ms=1,
                    progress_interval_ms=1)


class EngineModel(RuleBasedStateMachine):
    exactly_once = False

    def __init__(self) -> None:
        super().__init__()
        self.aio = asyncio.new_event_loop()
        self.settings = make_settings()
        self.broker = MemoryBroker()
        s = self.settings
        for topic in (s.inbound_topic, s.outbound_topic, s.status_topic, s.provider_topic, s.suppressed_topic,
                      s.deadletter_topic, s.consent_topic, s.review_topic):
            self.broker.create(topic, s.input_partitions)
        for topic in (s.routed_topic, s.changelog_topic):
            self.broker.create(topic, s.partitions)
        first = Driver(self.settings, exactly_once=self.exactly_once, broker=self.broker, name="w0", max_records=4)
        second = Driver(self.settings, exactly_once=self.exactly_once, broker=self.broker, clock=first.clock,
                        name="w1", max_records=4)
        self.clock = first.clock
        self.workers = {"w0": first, "w1": second}
        self.alive = {"w0": False, "w1": False}
        self.group: dict[str, set[TP]] = {"w0": set(), "w1": set()}  # what the group gives each worker
        for name, d in self.workers.items():
            d.group_assignment = lambda name=name: self.group[name]
        self.seq = 0
        self.stop_acked: dict[str, int] = {}  # STOP-only number -> seq of its first acknowledged STOP
        self.sends: dict[str, tuple[str, int]] = {}  # send id -> (number, seq it was produced at)
        self.stops: list[str] = []
        self.ids = 0

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.aio.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.settle_and_account()
        finally:
            self.aio.close()

    # ------------------------------------------------------------ the group

    def all_partitions(self) -> list[TP]:
        return [TP(t, p) for t in self.workers["w0"].topics for p in range(self.broker.counts[t])]

    async def _assign(self, split: dict[str, set[TP]], told: set[str]) -> None:
        """The group's new assignment; ``told`` workers learn it now (eager: revoke, then assign);
        the others are zombies until told."""
        self.group = split
        for name in told:
            d = self.workers[name]
            if self.alive[name] and d.loop is not None:
                await self.guarded(name, d.loop.on_revoked(set(d.source.assignment())))
        for name in told:
            d = self.workers[name]
            d.assigned = set(split[name])
            if self.alive[name] and d.loop is not None:
                d.source.assigned = set(split[name])
                await self.guarded(name, d.loop.on_assigned(set(split[name])))

    async def guarded(self, name: str, coro) -> None:  # type: ignore[no-untyped-def]
        """Run a worker's call; if it dies there (a kill armed earlier), it is dead."""
        try:
            await coro
        except Killed:
            self.alive[name] = False
            self.workers[name].kill()

    def split(self, mask: int) -> dict[str, set[TP]]:
        live = [n for n in WORKERS if self.alive[n]]
        out: dict[str, set[TP]] = {n: set() for n in WORKERS}
        for i, tp in enumerate(self.all_partitions()):
            if len(live) == 2:
                out[WORKERS[(mask >> (i % 16)) & 1]].add(tp)
            elif live:
                out[live[0]].add(tp)
        return out

    @initialize(mask=st.integers(0, 2**16 - 1))
    def start(self, mask: int) -> None:
        for name in WORKERS:
            self.alive[name] = True
        split = self.split(mask)
        for name, d in self.workers.items():
            d.assigned = set(split[name])
            self.run(d.start())
        self.group = split

    # ------------------------------------------------------------ producing

    @rule(number=st.sampled_from(NUMBERS), body=st.sampled_from(["STOP", "STOP", "HELP", "START"]),
          partition=st.integers(0, 3), skew_s=st.sampled_from([0, -60, 60, -5]))
    def reply(self, number: str, body: str, partition: int, skew_s: int) -> None:
        if number in STOP_ONLY and body == "START":
            body = "STOP"
        partition %= self.broker.counts[self.settings.inbound_topic]
        self.ids += 1
        mid = f"r{self.ids}"
        d = self.workers["w0"]
        d.reply(mid, number, body, partition=partition, timestamp_ms=self.clock.ms() + skew_s * 1000)
        self.seq += 1
        if body == "STOP":
            self.stops.append(mid)
            if number in STOP_ONLY:
                self.stop_acked.setdefault(number, self.seq)

    @rule(number=st.sampled_from(NUMBERS), partition=st.integers(0, 1), skew_s=st.sampled_from([0, -60, 60, 5]))
    def send(self, number: str, partition: int, skew_s: int) -> None:
        self.ids += 1
        mid = f"s{self.ids}"
        self.workers["w0"].send(mid, number, partition=partition, timestamp_ms=self.clock.ms() + skew_s * 1000)
        self.seq += 1
        self.sends[mid] = (number, self.seq)

    # ------------------------------------------------------------ running

    @rule(name=st.sampled_from(WORKERS), n=st.integers(1, 3))
    def step(self, name: str, n: int) -> None:
        d = self.workers[name]
        if not self.alive[name] or d.loop is None:
            return
        self.run(self.guarded(name, d.steps(n)))

    @rule(name=st.sampled_from(WORKERS))
    def one_step(self, name: str) -> None:
        """(Steps are what most interleavings are made of: a second rule makes them likelier.)"""
        self.step(name, 1)

    @rule(ms=st.integers(1, 3000))
    def time_passes(self, ms: int) -> None:
        self.clock.advance(ms)

    @rule(name=st.sampled_from(WORKERS), skew_ms=st.sampled_from([0, 5000, -5000, 3_600_000]))
    def skew_clock(self, name: str, skew_ms: int) -> None:
        self.workers[name].skew_ms = skew_ms

    # ------------------------------------------------------------ faults

    @rule(name=st.sampled_from(WORKERS), wipe=st.booleans(), mask=st.integers(0, 2**16 - 1))
    def kill(self, name: str, wipe: bool, mask: int) -> None:
        """SIGKILL; the group hands its partitions to the other worker after the session timeout."""
        if not self.alive[name]:
            return
        self.workers[name].kill(wipe_state=wipe)
        self.alive[name] = False
        self.run(self._assign(self.split(mask), told=set(WORKERS)))

    @rule(name=st.sampled_from(WORKERS), step=st.sampled_from(STEPS), nth=st.integers(1, 2))
    def kill_at_checkpoint_step(self, name: str, step: str, nth: int) -> None:
        d = self.workers[name]
        if self.alive[name] and d.loop is not None:
            d.kill_at_step = step  # dies there during a later step (rule ``step``)

    @rule(name=st.sampled_from(WORKERS), records=st.integers(0, 6))
    def kill_while_handing_over(self, name: str, records: int) -> None:
        d = self.workers[name]
        if self.alive[name]:
            d.outputs.kill_after = records

    @rule(name=st.sampled_from(WORKERS), mask=st.integers(0, 2**16 - 1))
    def restart(self, name: str, mask: int) -> None:
        if self.alive[name]:
            return
        d = self.workers[name]
        d.assigned = set()
        self.run(d.start())
        self.alive[name] = True
        self.run(self._assign(self.split(mask), told=set(WORKERS)))

    @rule(mask=st.integers(0, 2**16 - 1), zombie=st.sampled_from([None, *WORKERS]))
    def rebalance(self, mask: int, zombie: str | None) -> None:
        """A new assignment; a ``zombie`` (stalled) learns it only at its next rebalance."""
        told = {n for n in WORKERS if n != zombie}
        self.run(self._assign(self.split(mask), told=told))

    @rule(name=st.sampled_from(WORKERS), n=st.integers(1, 3))
    def seeks_fail(self, name: str, n: int) -> None:
        d = self.workers[name]
        if self.alive[name]:
            d.source.fail_seeks = n

    @rule(name=st.sampled_from(WORKERS), n=st.integers(1, 10))
    def changelog_reads_empty(self, name: str, n: int) -> None:
        d = self.workers[name]
        if self.alive[name]:
            d.changelog.empty_reads = n

    @rule(name=st.sampled_from(WORKERS), on=st.booleans())
    def outputs_refused(self, name: str, on: bool) -> None:
        self.workers[name].outputs.refuse = RuntimeError("broker refuses") if on else None

    @rule(data=st.data())
    def fence_a_task(self, data: st.DataObject) -> None:
        """The broker ends a transaction after its timeout: that task's producer is fenced."""
        name = data.draw(st.sampled_from(WORKERS))
        d = self.workers[name]
        tasks = sorted(d.outputs.epochs)
        if self.alive[name] and tasks:
            d.outputs.fence(data.draw(st.sampled_from(tasks)))

    @precondition(lambda self: self.broker.counts[self.settings.inbound_topic] < 4)
    @rule(topic=st.sampled_from(["inbound", "status"]), mask=st.integers(0, 2**16 - 1),
          assign_now=st.booleans())
    def add_partition(self, topic: str, mask: int, assign_now: bool) -> None:
        name = self.settings.inbound_topic if topic == "inbound" else self.settings.status_topic
        self.broker.create(name, self.broker.counts[name] + 1)
        if assign_now:  # else: at the next rebalance (nobody routes it meanwhile)
            self.run(self._assign(self.split(mask), told=set(WORKERS)))

    # ------------------------------------------------------------ what must hold

    def provider_sends(self) -> Counter:
        return Counter(r["message_id"] for r in self.workers["w0"].read(self.settings.provider_topic)
                       if r.get("category") != "compliance")

    def outcome_kinds(self) -> dict[str, Counter]:
        s = self.settings
        d = self.workers["w0"]
        kinds: dict[str, Counter] = {}
        for mid, n in self.provider_sends().items():
            kinds.setdefault(mid, Counter())["provider"] += n
        for r in d.read(s.suppressed_topic):
            kinds.setdefault(r["message"]["message_id"], Counter())["suppressed"] += 1
        for r in d.read(s.deadletter_topic):
            kinds.setdefault(str(r.get("message_id") or r.get("original", "")), Counter())["dead"] += 1
        return kinds

    @invariant()
    def no_send_after_an_acknowledged_stop_reaches_the_provider(self) -> None:
        for mid in self.provider_sends():
            number, seq = self.sends[mid]
            acked = self.stop_acked.get(number)
            assert acked is None or seq < acked, f"{mid} to {number} produced after its STOP reached the provider"

    @invariant()
    def no_send_has_two_kinds_of_outcome(self) -> None:
        for mid, kinds in self.outcome_kinds().items():
            assert len(kinds) == 1, (mid, kinds)
            if self.exactly_once:
                assert sum(kinds.values()) == 1, (mid, kinds)

    def settle_and_account(self) -> None:
        """Lift every fault, run both workers to idle, then account for everything."""
        for name, d in self.workers.items():
            d.outputs.refuse = None
            d.outputs.kill_after = None
            d.kill_at_step = None
            if self.alive[name]:
                d.source.fail_seeks = 0
                d.changelog.empty_reads = 0
            d.skew_ms = 0
        for name, d in self.workers.items():
            if not self.alive[name]:
                d.assigned = set()
                self.run(d.start())
                self.alive[name] = True
        self.run(self._assign(self.split(0b1010101010101010), told=set(WORKERS)))
        for _ in range(400):
            for d in self.workers.values():
                self.run(d.steps(1))
            self.clock.advance(10)
            if all(d.idle() for d in self.workers.values()) and self.settled():
                break
        else:
            raise AssertionError("the workers did not settle")
        self.no_send_after_an_acknowledged_stop_reaches_the_provider()
        kinds = self.outcome_kinds()
        for mid in self.sends:
            assert mid in kinds, f"send {mid} has no outcome"
            assert len(kinds[mid]) == 1, (mid, kinds[mid])
            if self.exactly_once:
                assert sum(kinds[mid].values()) == 1, (mid, kinds[mid])
        d = self.workers["w0"]
        consent = Counter(r["message_id"] for r in d.read(self.settings.consent_topic))
        for mid in self.stops:
            assert consent[mid] >= 1, f"STOP {mid} has no consent record"
            if self.exactly_once:
                assert consent[mid] == 1, (mid, consent[mid])
        applied = {r["message_id"] for r in d.read(self.settings.consent_topic)
                   if r.get("verdict") == "applied" and r.get("intent") == "opt_out"}
        confirmed = {r["message_id"] for r in d.read(self.settings.provider_topic) if r.get("category") == "compliance"}
        for mid in applied:
            assert any(c.startswith(mid) for c in confirmed), f"applied opt-out {mid} has no confirmation"

    def settled(self) -> bool:
        s = self.settings
        inputs = [TP(t, p) for t in (s.inbound_topic, s.outbound_topic, s.status_topic)
                  for p in range(self.broker.counts[t])]
        return all(self.broker.committed.get(tp, 0) >= self.broker.stable_end(tp) - 1 for tp in inputs
                   if self.broker.end(tp))


class ExactlyOnceModel(EngineModel):
    exactly_once = True


SETTINGS = settings(max_examples=EXAMPLES, stateful_step_count=STEPS_PER_EXAMPLE, deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)
if SEED != "random":
    seed(int(SEED))(EngineModel)
    seed(int(SEED) + 1)(ExactlyOnceModel)

TestAtLeastOnce = EngineModel.TestCase
TestAtLeastOnce.settings = SETTINGS
TestExactlyOnce = ExactlyOnceModel.TestCase
TestExactlyOnce.settings = SETTINGS
