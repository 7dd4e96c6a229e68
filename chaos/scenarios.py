"""The scenarios (``chaos.config.SCENARIOS``) and the runner.

One run: a fresh topology (unique app id and topics), N workers healthy, a live reader of
the output topics, the generator producing for ``scale.duration_s`` while faults are
injected at planned offsets, then reading until every send and reply is accounted for
(or nothing moves any more), table lookups, and the checker.

Faults:

- ``kill``: SIGKILL a worker (``proc.kill()``). One worker: it stays down ``down_s``
  (its state dir wiped when the scenario says so) and is restarted. Several workers:
  the victims alternate; the survivors are given up to ``takeover_cap_s`` to take its
  partitions over (all partitions flowing again), then it is restarted and its rejoin is
  timed as a fault of its own ("rejoin").
- ``broker``: ``kafka.sh stop`` on the scenario's own broker, ``down_s``, ``kafka.sh start``;
  its outage gap is timed from the moment the broker process is gone (the graceful stop
  keeps serving for part of its 2-3 s).

Times: *outage gap* = from the fault until outcomes of sends produced after it are seen
on every routed partition (the generator sends a probe to each routed partition every
``probe_interval_s``); for a killed single worker it includes the down time and restart.
*restart* = from starting a killed worker until its ``/health`` answers 200.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.broker import LocalBroker, own_broker
from chaos.checker import CheckResult, check, outage_gaps, resume_times
from chaos.collector import LiveCollector
from chaos.config import Scale, ScenarioSpec
from chaos.fleet import Fleet
from chaos.generator import Generator, iso_us, now_us
from tests.integration.harness import Topology, Worker


@dataclass
class ScenarioResult:
    spec: ScenarioSpec
    scale: str
    guarantee: str
    topology_id: str = ""
    error: str | None = None
    check: CheckResult | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    faults_planned: int = 0
    restart_s: list[float] = field(default_factory=list)
    initial_start_s: list[float | None] = field(default_factory=list)
    produced: dict[str, int] = field(default_factory=dict)
    drain: dict[str, Any] = field(default_factory=dict)
    generator_lag_max_s: float = 0.0
    unexpected_exits: list[dict[str, Any]] = field(default_factory=list)
    start_failures: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    log_tails: dict[str, str] = field(default_factory=dict)
    decided_in_place: int | None = None  # sends the live workers decided in place since their last start

    @property
    def ok(self) -> bool:
        return self.error is None and self.check is not None and self.check.ok

    @property
    def failures(self) -> list[str]:
        out = [f"error: {self.error.splitlines()[-1] if self.error else ''}"] if self.error else []
        if self.check is not None:
            out += self.check.failures
        elif not self.error:
            out.append("not checked")
        return out

    def kills(self) -> int:
        return sum(1 for f in self.faults if f["kind"] in ("kill", "broker-restart"))

    def gaps(self, kind: str) -> list[float | None]:
        return [f.get("gap_s") for f in self.faults if f["kind"] == kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.spec.name, "letter": self.spec.letter, "title": self.spec.title,
            "workers": self.spec.workers, "guarantee": self.guarantee, "scale": self.scale,
            "topology": self.topology_id, "ok": self.ok, "failures": self.failures, "error": self.error,
            "faults_planned": self.faults_planned, "faults": self.faults, "kills": self.kills(),
            "restart_s": self.restart_s, "initial_start_s": self.initial_start_s, "produced": self.produced,
            "drain": self.drain, "generator_lag_max_s": round(self.generator_lag_max_s, 2),
            "unexpected_exits": self.unexpected_exits, "start_failures": self.start_failures, "notes": self.notes,
            "duration_s": round(self.duration_s, 1), "decided_in_place": self.decided_in_place,
            "check": self.check.to_dict() if self.check else None,
            "log_tails": self.log_tails if not self.ok else {},
        }

    def summary(self) -> str:
        head = (f"[{self.spec.letter}] {self.spec.name} ({self.spec.title}) guarantee={self.guarantee} "
                f"scale={self.scale}: {'OK' if self.ok else 'FAILED'} in {self.duration_s:.0f} s")
        lines = [head]
        p = self.produced
        if p:
            lines.append(f"  produced {p.get('sends', 0):,} sends (+{p.get('probes', 0):,} probes), "
                         f"{p.get('replies', 0):,} replies; faults {self.kills()}/{self.faults_planned}; "
                         f"generator max lag {self.generator_lag_max_s:.1f} s"
                         + (f"; decided in place (live workers, since their last start) {self.decided_in_place:,}"
                            if self.decided_in_place is not None else ""))
        for f in self.faults:
            gap = f"{f['gap_s']:.1f} s" if f.get("gap_s") is not None else "STALLED"
            extra = ""
            if f.get("restart_s") is not None:
                extra += f", restart (to /health 200) {f['restart_s']:.1f} s"
            if f.get("takeover_observed_s") is not None:
                extra += f", takeover seen after {f['takeover_observed_s']:.1f} s"
            if f.get("broker_stop_s") is not None:
                extra += f", broker stop {f['broker_stop_s']:.1f} s / start {f['broker_start_s']:.1f} s"
            lines.append(f"  {f['kind']} {f.get('worker', '')} at +{f.get('offset_s', 0):.1f} s: outage gap {gap}"
                         f" (fastest partition {f.get('fastest_partition_s')} s){extra}")
        if self.drain:
            lines.append(f"  drain: {self.drain}")
        if self.unexpected_exits:
            lines.append(f"  workers that exited on their own (restarted): {len(self.unexpected_exits)}")
        if self.start_failures:
            lines.append(f"  failed (re)starts: {len(self.start_failures)}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.check is not None:
            lines += ["  " + line for line in self.check.summary().splitlines()]
        if self.error:
            lines.append("  ERROR: " + self.error.strip().splitlines()[-1])
        return "\n".join(lines)


async def wait_flowing(gen: Generator, collector: LiveCollector, since_us: int, cap_s: float) -> float | None:
    """Seconds from ``since_us`` until a probe produced after it has an outcome on every routed
    partition; None if not within ``cap_s`` (or the generator stopped producing)."""
    deadline = time.monotonic() + cap_s
    while time.monotonic() < deadline:
        resumed = resume_times(gen.probe_entries, collector.first_seen, since_us, gen.scale.partitions)
        if all(t is not None for t in resumed.values()):
            return round((max(resumed.values()) - since_us) / 1e6, 2)  # type: ignore[type-var]
        if gen.done and now_us() - gen.finished_us > cap_s * 1e6:
            return None
        await asyncio.sleep(0.1)
    return None


async def _sleep_until(gen: Generator, offset_s: float) -> None:
    while gen.offset_s() < offset_s and not gen.done:
        await asyncio.sleep(min(0.2, max(0.01, offset_s - gen.offset_s())))


async def inject_faults(spec: ScenarioSpec, scale: Scale, fleet: Fleet, gen: Generator, collector: LiveCollector,
                        broker: LocalBroker | None, result: ScenarioResult) -> None:
    planned = min(scale.kills, 2) if spec.fault == "broker" else scale.kills
    result.faults_planned = planned
    while not gen.started_us:
        await asyncio.sleep(0.05)
    span = scale.duration_s - scale.warmup_s
    names = list(fleet.workers)
    gen.extend()  # a fault repaired late delays the next one: the load goes on meanwhile
    for i in range(planned):
        at_offset = scale.warmup_s + i * span / (planned + 0.5)
        await _sleep_until(gen, at_offset)
        if gen.done:
            result.notes.append(f"fault {i + 1} of {planned} skipped: the load was over (the extended load "
                                f"reached its limit while earlier faults were being repaired)")
            continue
        if gen.offset_s() > at_offset + 2:
            result.notes.append(f"fault {i + 1} at +{gen.offset_s():.0f} s instead of +{at_offset:.0f} s "
                                f"(earlier faults took long to repair)")
        if spec.fault == "broker":
            assert broker is not None
            stop_offset = round(gen.offset_s(), 1)
            stop_s = await asyncio.to_thread(broker.stop)  # graceful: it serves for part of this
            at = now_us()  # the broker process is gone: the outage is timed from here
            down_offset = round(gen.offset_s(), 1)
            await asyncio.sleep(scale.down_s)
            start_s = await asyncio.to_thread(broker.start)
            result.faults.append({"kind": "broker-restart", "at_us": at, "offset_s": down_offset,
                                  "stop_began_offset_s": stop_offset, "broker_stop_s": stop_s,
                                  "broker_start_s": start_s})
            await wait_flowing(gen, collector, now_us(), scale.takeover_cap_s)
            continue
        victim = names[i % len(names)]
        if not fleet.alive(victim):  # e.g. still restarting after exiting on its own
            await asyncio.sleep(1.0)
        offset = round(gen.offset_s(), 1)
        at = await fleet.kill(victim)
        fault: dict[str, Any] = {"kind": "kill", "worker": victim, "at_us": at, "offset_s": offset}
        result.faults.append(fault)
        if spec.workers == 1:
            await asyncio.sleep(scale.down_s)
            if spec.wipe_state:
                fleet.wipe(victim)
                fault["state_wiped"] = True
            fault["restart_s"] = await fleet.restart(victim)
            await wait_flowing(gen, collector, now_us(), scale.takeover_cap_s)
        else:
            fault["takeover_observed_s"] = await wait_flowing(gen, collector, at, scale.takeover_cap_s)
            rejoin_at = now_us()
            rejoin: dict[str, Any] = {"kind": "rejoin", "worker": victim, "at_us": rejoin_at,
                                      "offset_s": round(gen.offset_s(), 1)}
            if spec.wipe_state:
                fleet.wipe(victim)
            rejoin["restart_s"] = fault["restart_s"] = await fleet.restart(victim)
            result.faults.append(rejoin)
            await wait_flowing(gen, collector, now_us(), scale.takeover_cap_s)
        await asyncio.sleep(scale.settle_s)
    # load after the last fault: at least settle_s more, and up to the planned duration
    await _sleep_until(gen, max(scale.duration_s, gen.offset_s() + scale.settle_s))
    gen.finish()


def _table_sample(gen: Generator, scale: Scale, seed: int) -> list[str]:
    numbers = gen.plan.numbers
    if scale.table_sample is None or scale.table_sample >= len(numbers):
        return list(numbers)
    replying = list(gen.plan.replying)
    others = [n for n in numbers if n not in set(replying)]
    rest = max(0, scale.table_sample - len(replying))
    return replying + random.Random(seed).sample(others, min(rest, len(others)))


async def run_scenario(spec: ScenarioSpec, scale: Scale, *, bootstrap: str | None, work_dir: Path,
                       guarantee: str = "at_least_once", seed: int = 1, topology: Topology | None = None,
                       started: list[Worker] | None = None, strict_in_flight: bool = False,
                       log=print) -> ScenarioResult:
    """Run one scenario end to end. ``bootstrap``: the shared broker (ignored by scenarios
    with their own broker). ``topology``/``started``: the integration fixtures, optionally."""
    t0 = time.monotonic()
    result = ScenarioResult(spec=spec, scale=scale.name, guarantee=guarantee)
    broker: LocalBroker | None = None
    fleet: Fleet | None = None
    collector: LiveCollector | None = None
    tasks: list[asyncio.Task] = []
    try:
        if spec.own_broker:
            broker = own_broker()
            log(f"  starting the scenario's own broker on {broker.bootstrap} ...")
            await asyncio.to_thread(broker.start)
            bootstrap = broker.bootstrap
            topology = None
        assert bootstrap, "no broker"
        if topology is None:
            topology = Topology(bootstrap, partitions=scale.partitions, input_partitions=scale.input_partitions)
        else:
            scale = scale.replace(partitions=topology.partitions, input_partitions=topology.input_partitions)
        result.topology_id = topology.id
        await asyncio.to_thread(topology.create_topics)
        env = {"OPTOUT_PROCESSING_GUARANTEE": guarantee, **dict(spec.extra_env)}
        fleet = Fleet(topology, work_dir / f"{spec.name}-{guarantee}-{topology.id}", spec.workers, env,
                      clock_skews_ms=scale.worker_skews_ms,
                      start_timeout_s=scale.start_timeout_s, started=started)
        log(f"  starting {spec.workers} worker(s) (app id {topology.id}) ...")
        result.initial_start_s = await fleet.start_all()
        if any(s is None for s in result.initial_start_s):
            raise RuntimeError(f"worker(s) did not start: {fleet.start_failures[-1:]}")
        collector = LiveCollector(bootstrap, {"provider": topology.provider, "suppressed": topology.suppressed,
                                              "deadletter": topology.deadletter, "consent": topology.consent})
        await collector.start()
        gen = Generator(bootstrap, topology.inbound, topology.outbound, scale, seed=seed)
        log(f"  producing {scale.sends:,} sends at {scale.rate:,.0f}/s to {scale.numbers:,} numbers "
            f"({scale.replying} replying) for {scale.duration_s:.0f} s, {result.faults_planned or scale.kills} "
            f"fault(s) ...")
        gen_task = asyncio.create_task(gen.run())
        tasks = [gen_task, asyncio.create_task(fleet.supervise())]
        try:
            await inject_faults(spec, scale, fleet, gen, collector, broker, result)
        finally:
            gen.finish()
        await gen_task
        result.generator_lag_max_s = gen.lag_max_s
        sends = [s for s in gen.sends if not s["probe"]]
        result.produced = {"sends": len(sends), "probes": len(gen.probe_entries), "replies": len(gen.replies),
                           "produce_failed": sum(1 for e in gen.sends + gen.replies if e["error"])}
        for name in fleet.workers:  # every worker up for the drain and the lookups
            if name not in fleet.wanted:
                await fleet.restart(name)

        ok_sends = {s["message_id"] for s in gen.sends if s["error"] is None}
        ok_replies = {r["message_id"] for r in gen.replies if r["error"] is None}

        def accounted() -> bool:
            if len(collector.first_seen) < len(ok_sends) or not ok_sends <= collector.first_seen.keys():
                return False
            logged = {str(r.get("message_id")) for r in collector.records["consent"]}
            return ok_replies <= logged

        log(f"  load done ({result.produced}); reading outputs until everything is accounted for ...")
        result.drain = await collector.drain(accounted, quiet_s=scale.quiet_s, stall_s=scale.stall_s,
                                             timeout_s=scale.drain_timeout_s)
        result.drain["outputs"] = collector.counts()
        numbers = _table_sample(gen, scale, seed)
        log(f"  looking up {len(numbers):,} numbers on the live workers ...")
        answers = await fleet.lookup_all(numbers)
        result.decided_in_place = await asyncio.to_thread(fleet.counter, "decided_in_place")
        faults = [dict(f) for f in result.faults]
        behind_ms = max(0, -min(scale.worker_skews_ms[:spec.workers] or (0,)))  # the slowest worker clock
        result.check = check(gen.model(), collector.records, answers, faults=faults, first_seen=collector.first_seen,
                             no_duplicates=guarantee == "exactly_once", strict_in_flight=strict_in_flight,
                             opt_in_shift_us=behind_ms * 1000)
        gaps = outage_gaps(gen.probe_entries, collector.first_seen, faults, scale.partitions)
        for fault, gap, nxt in zip(result.faults, gaps, result.faults[1:] + [None], strict=True):
            fault["gap_s"] = gap["gap_s"]
            fault["fastest_partition_s"] = gap["fastest_partition_s"]
            fault["stalled_partitions"] = gap["stalled_partitions"]
            if nxt is not None and gap["gap_s"] is not None and fault["at_us"] + gap["gap_s"] * 1e6 > nxt["at_us"]:
                fault["resumed_after_next_fault"] = True
        result.restart_s = [f["restart_s"] for f in result.faults if f.get("restart_s") is not None
                            and f["kind"] in ("kill",)]
    except Exception:  # noqa: BLE001 - reported in the result
        result.error = traceback.format_exc()
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if fleet is not None:
            result.unexpected_exits = [{**{k: v for k, v in e.items() if k != "at_us"}, "at": iso_us(e["at_us"])}
                                       for e in fleet.unexpected_exits]
            result.start_failures = fleet.start_failures
            if not result.ok:
                result.log_tails = fleet.log_tails(40)
            await fleet.stop_all()
            for name in fleet.workers:  # RocksDB state is not needed any more; the logs stay
                try:
                    fleet.wipe(name)
                except OSError:
                    pass
        if collector is not None:
            await collector.stop()
        if broker is not None:
            await asyncio.to_thread(broker.stop if os.environ.get("CHAOS_KEEP_BROKER") else broker.wipe)
        for fault in result.faults:
            fault["at"] = iso_us(fault.pop("at_us"))
        result.duration_s = time.monotonic() - t0
    return result
