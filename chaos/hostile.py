"""``python -m chaos.hostile``: the hostile-input suite against one real worker.

    python -m chaos.hostile [--scale test|full] [--seed N] [--guarantee G] [--out DIR]

Produces hostile records of every kind in ``chaos/hostile_kinds.py`` (random bytes, invalid
UTF-8, non-object JSON, deep nesting, huge fields, tombstones, schema errors, every number
look-alike, malformed reply metadata, ...) mixed with valid traffic whose outcome is known,
with null / binary / 100 KB keys and odd headers on every kind, and checks (``hostile_check``):

- the worker stays healthy: the same process alive at the end, ``GET /health`` 200, no restart;
- every record is accounted for: dead-lettered with a reason, or processed (an output, or the
  worker's committed offset past it with nothing made of it); *vanished* must be 0; and each
  outcome is one the contract allows for its kind (``unexpected`` must be 0), no output is left
  that matches no record (``orphans``), no send reaches the provider with another number;
- every STOP that must be honoured is: a consent record (not stale), ``GET /optouts`` says
  opted out, and a send to it afterwards is suppressed ``opted_out``.

Phases: *seed* (valid STOPs: numbers opted out before the mix), *mix* (everything, shuffled,
over the three input topics), *after* (the STOP that follows a hostile START of the same
number), *follow-up* (sends to every number that must now be opted out, look-alikes of them,
the same numbers under another account, fresh numbers). Each phase is read until every record
in it is accounted for (or ``phase_timeout_s``).

Environment: KAFKA_BOOTSTRAP_SERVERS / KAFKA_PORT (the shared broker, see chaos/broker.py),
CHAOS_SEED, CHAOS_HOSTILE_SCALE. Results: ``chaos/results/hostile.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from chaos.broker import release, shared_broker
from chaos.collector import LiveCollector
from chaos.config import RESULTS_DIR, WORK_DIR
from chaos.fleet import Fleet
from chaos.generator import now_us
from chaos.hostile_check import Ledger, compact, figures, followup_ok, opted_pairs
from chaos.hostile_kinds import (
    INBOUND,
    KINDS,
    OUTBOUND,
    SCALES,
    STATUS,
    Builder,
    HostileRecord,
    HostileScale,
    followup_phase,
    mix_phase,
    seed_phase,
)
from chaos.numbers import is_valid
from tests.integration.harness import Topology

LOOKUP_MAX_ACCOUNT = 128  # longer account ids are not looked up by URL (their sends are checked)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class HostileCollector(LiveCollector):
    """The chaos reader (read_committed, from the beginning), keeping for each output record
    only what the ledger needs, with its partition and offset; also reads the routed topic."""

    def __init__(self, bootstrap: str, topics: dict[str, str], routed_topic: str) -> None:
        super().__init__(bootstrap, {**topics, "routed": routed_topic})
        self.routed_topic = routed_topic

    async def _loop(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep reading
                self.error = exc
                await asyncio.sleep(0.5)
                continue
            if not batch:
                continue
            self.last_new_us = now_us()
            for tp, messages in batch.items():
                kind = self.kind_of[tp.topic]
                out = self.records[kind]
                for message in messages:
                    try:
                        value = json.loads(message.value)
                    except (TypeError, ValueError):
                        self.undecodable += 1
                        continue
                    if isinstance(value, dict):
                        out.append(compact(kind, value, tp.partition, message.offset, self.routed_topic))
                    else:
                        self.undecodable += 1

    async def caught_up(self, timeout_s: float = 20.0) -> bool:
        """Read every partition up to its end (the last stable offset) as of now."""
        assert self._consumer is not None
        tps = list(self._consumer.assignment())
        ends = await self._consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            behind = [tp for tp, end in ends.items() if await self._consumer.position(tp) < end]
            if not behind:
                return True
            await asyncio.sleep(0.05)
        return False


@dataclass
class HostileResult:
    scale: HostileScale
    seed: int
    guarantee: str
    topology_id: str = ""
    error: str | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    honoured: dict[str, Any] = field(default_factory=dict)
    lookups: dict[str, Any] = field(default_factory=dict)
    worker: dict[str, Any] = field(default_factory=dict)
    produce_errors: int = 0
    duration_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def judge(self) -> None:
        f: list[str] = []
        if self.error:
            f.append(f"error: {self.error.strip().splitlines()[-1]}")
        t = self.figures.get("totals", {})
        if self.produce_errors:
            f.append(f"{self.produce_errors} records could not be produced")
        if t.get("vanished"):
            f.append(f"{t['vanished']} records vanished (neither dead-lettered nor processed)")
        if t.get("unexpected"):
            kinds = [r["kind"] for r in self.figures["per_kind"] if r["unexpected"]]
            f.append(f"{t['unexpected']} records with an outcome the contract does not allow, in {len(kinds)} kinds: "
                     + ", ".join(kinds))
        if self.figures.get("misdelivered"):
            f.append(f"{self.figures['misdelivered']} sends delivered to a number other than the digits written")
        orphans = {k: v for k, v in self.figures.get("orphans", {}).items() if v}
        if orphans:
            f.append(f"outputs matching no record: {orphans}")
        h = self.honoured
        if h and h.get("honoured") != h.get("expected"):
            f.append(f"STOPs honoured {h.get('honoured')}/{h.get('expected')}")
        lk = self.lookups
        if lk.get("wrong"):
            f.append(f"GET /optouts wrong for {lk['wrong']} of {lk['checked']} numbers")
        w = self.worker
        if w and not w.get("alive"):
            f.append("the worker process is not alive at the end")
        if w and w.get("restarted"):
            f.append("the worker was restarted")
        if w and w.get("health_status") != 200:
            f.append(f"GET /health answered {w.get('health_status')} at the end: {w.get('health')}")
        self.failures = f

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failures": self.failures, "scale": vars(self.scale), "seed": self.seed,
                "guarantee": self.guarantee, "topology": self.topology_id, "error": self.error,
                "duration_s": round(self.duration_s, 1), "phases": self.phases, "worker": self.worker,
                "honoured": self.honoured, "lookups": self.lookups, "produce_errors": self.produce_errors,
                **self.figures}

    def summary(self, *, rows: bool = True) -> str:
        lines = [f"hostile: scale {self.scale.name}, seed {self.seed}, guarantee {self.guarantee}: "
                 f"{'OK' if self.ok else 'FAILED'} in {self.duration_s:.0f} s"]
        for p in self.phases:
            lines.append(f"  phase {p['phase']}: {p['records']:,} records, accounted for in {p['settle_s']} s"
                         f"{'' if p['complete'] else ' (TIMED OUT)'}")
        t = self.figures.get("totals", {})
        ht = self.figures.get("hostile_totals", {})
        if t:
            lines.append(f"  all records {t.get('records', 0):,}: dead-lettered {t.get('dead_lettered', 0):,}, "
                         f"processed {t.get('processed', 0):,}, vanished {t.get('vanished', 0)}, "
                         f"unexpected {t.get('unexpected', 0)}")
            lines.append(f"  hostile records {ht.get('records', 0):,} in {len(KINDS)} kinds: dead-lettered "
                         f"{ht.get('dead_lettered', 0):,}, processed {ht.get('processed', 0):,}, vanished "
                         f"{ht.get('vanished', 0)}, unexpected {ht.get('unexpected', 0)}")
        if self.honoured:
            lines.append(f"  STOPs honoured {self.honoured['honoured']}/{self.honoured['expected']} (consent record, "
                         f"lookup, later send suppressed)")
        if self.worker:
            w = self.worker
            lines.append(f"  worker: alive {w.get('alive')}, restarted {w.get('restarted')}, /health "
                         f"{w.get('health_status')}, log tracebacks {w.get('log_tracebacks')}")
        if rows and self.figures.get("per_kind"):
            lines.append(f"  {'kind':52} {'records':>7} {'dl':>5} {'proc':>5} {'vanish':>6} {'unexp':>5}")
            for r in self.figures["per_kind"]:
                lines.append(f"  {r['kind'][:52]:52} {r['records']:7} {r['dead_lettered']:5} {r['processed']:5} "
                             f"{r['vanished']:6} {r['unexpected']:5}" + (f"  {r['outcomes']}" if r["unexpected"]
                                                                         else ""))
        for fail in self.failures:
            lines.append(f"  FAILED: {fail}")
        return "\n".join(lines)


class Run:
    def __init__(self, scale: HostileScale, topology: Topology, fleet: Fleet, seed: int) -> None:
        self.scale = scale
        self.topology = topology
        self.fleet = fleet
        self.topic_names = {INBOUND: topology.inbound, OUTBOUND: topology.outbound, STATUS: topology.status}
        self.routed_topic = f"{topology.id}-routed"
        self.ledger = Ledger(self.topic_names, self.routed_topic)
        self.builder = Builder(seed, now_ms)
        self.committed: dict[tuple[str, int], int] = {}
        self.collector = HostileCollector(topology.bootstrap, {
            "provider": topology.provider, "suppressed": topology.suppressed, "deadletter": topology.deadletter,
            "consent": topology.consent}, self.routed_topic)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=topology.bootstrap, request_timeout_ms=30_000)
        self.producer = AIOKafkaProducer(bootstrap_servers=topology.bootstrap, acks="all", enable_idempotence=True,
                                         linger_ms=5, max_request_size=4 * 1024 * 1024, request_timeout_ms=60_000)
        self._n = 0

    async def start(self) -> None:
        await self.collector.start()
        await self.admin.start()
        await self.producer.start()

    async def stop(self) -> None:
        for close in (self.producer.stop, self.admin.close, self.collector.stop):
            try:
                await close()
            except Exception:  # noqa: BLE001
                pass

    async def produce(self, records: list[HostileRecord]) -> None:
        pending: list[tuple[HostileRecord, asyncio.Future]] = []
        for r in records:
            r.n = self._n
            self._n += 1
            r.ts_ms = r.timestamp_ms if r.timestamp_ms is not None else now_ms()
            topic = self.topic_names[r.topic]
            try:
                if r.value is None and r.key is None:  # a tombstone without a key: a batch of its own
                    batch = self.producer.create_batch()
                    batch.append(timestamp=r.ts_ms, key=None, value=None, headers=r.headers)
                    future = await self.producer.send_batch(batch, topic, partition=r.partition or 0)
                else:
                    future = await self.producer.send(topic, value=r.value, key=r.key, headers=r.headers or None,
                                                      partition=r.partition, timestamp_ms=r.ts_ms)
                pending.append((r, future))
            except Exception as exc:  # noqa: BLE001 - recorded
                r.produce_error = repr(exc)
        for r, future in pending:
            try:
                md = await future
                r.coords = (md.topic, md.partition, md.offset)
            except Exception as exc:  # noqa: BLE001 - recorded
                r.produce_error = repr(exc)
        self.ledger.add(records)

    async def refresh(self) -> None:
        """Committed offsets of the worker's group, then every output read up to its end
        as of after that: a record the commit passed has all its outputs ingested."""
        try:
            offsets = await self.admin.list_consumer_group_offsets(self.topology.id)
            self.committed = {(tp.topic, tp.partition): om.offset for tp, om in offsets.items()}
        except Exception:  # noqa: BLE001 - e.g. nothing committed yet
            pass
        await self.collector.caught_up()
        self.ledger.ingest(self.collector.records)

    async def settle(self, name: str, records: list[HostileRecord]) -> dict[str, Any]:
        t0 = time.monotonic()
        complete_since: float | None = None
        complete = False
        while True:
            await self.refresh()
            waiting = sum(1 for r in records if not self.ledger.settled(r, self.committed))
            now = time.monotonic()
            if not waiting:
                complete_since = complete_since or now
                if now - complete_since >= self.scale.quiet_s:
                    complete = True
                    break
            else:
                complete_since = None
            if now - t0 > self.scale.phase_timeout_s:
                break
            await asyncio.sleep(0.2)
        took = round(time.monotonic() - t0, 1)
        print(f"hostile: phase {name}: {len(records):,} records accounted for in {took} s"
              + ("" if complete else f" (timed out, {waiting} waiting)"), flush=True)
        return {"phase": name, "records": len(records), "settle_s": took, "complete": complete,
                "waiting": waiting}

    async def phase(self, name: str, records: list[HostileRecord]) -> dict[str, Any]:
        t0 = time.monotonic()
        await self.produce(records)
        produced = round(time.monotonic() - t0, 1)
        info = await self.settle(name, records)
        return {**info, "produce_s": produced}


async def run_hostile(scale: HostileScale, *, bootstrap: str, work_dir: Path, seed: int = 1,
                      guarantee: str | None = None, topology: Topology | None = None,
                      started: list | None = None) -> HostileResult:
    guarantee = guarantee or os.environ.get("OPTOUT_PROCESSING_GUARANTEE") or "exactly_once"
    t_start = time.monotonic()
    topology = topology or Topology(bootstrap, partitions=scale.partitions, input_partitions=scale.input_partitions)
    result = HostileResult(scale=scale, seed=seed, guarantee=guarantee, topology_id=topology.id)
    await asyncio.to_thread(topology.create_topics)
    env = {"OPTOUT_PROCESSING_GUARANTEE": guarantee}
    fleet = Fleet(topology, work_dir / f"hostile-{topology.id}", 1, env, started=started)
    run: Run | None = None
    try:
        if await fleet.start("w1") is None:
            raise RuntimeError(f"the worker did not start: {fleet.start_failures[-1:]}")
        worker = fleet.workers["w1"]
        pid = worker.proc.pid if worker.proc else None
        run = Run(scale, topology, fleet, seed)
        await run.start()
        b = run.builder
        seeds = seed_phase(b, scale)
        result.phases.append(await run.phase("seed", seeds))
        mix, after = mix_phase(b, scale)
        result.phases.append(await run.phase("mix", mix))
        result.phases.append(await run.phase("after", after))

        pairs, _ = opted_pairs(run.ledger, run.committed)
        valid_pairs = [p for p in pairs if is_valid(p[0])]  # a STOP may come from a number that is not valid
        others = [(n, "other-account") for n, _ in b.rng.sample(valid_pairs, min(len(valid_pairs),
                                                                                 max(5, len(valid_pairs) // 10)))]
        followups = followup_phase(b, scale, pairs, others)
        result.phases.append(await run.phase("followup", followups))
        await run.refresh()
        run.ledger.finish()

        # STOPs honoured: consent record (figures), GET /optouts, later send suppressed
        result.lookups = await lookups(fleet, pairs, others, run)
        followed = followup_ok(run.ledger, run.committed, pairs)
        looked = result.lookups.pop("_by_pair")
        bad = [p for p in pairs if not followed.get(p) or looked.get(p) is False]
        result.honoured = {"expected": len(pairs), "honoured": len(pairs) - len(bad),
                           "followup_send_not_suppressed": sum(1 for p in pairs if not followed.get(p)),
                           "lookup_not_opted_out": sum(1 for p in pairs if looked.get(p) is False),
                           "examples": [{"number": n, "account": a[:80]} for n, a in bad[:10]]}
        notes = {k.name: k.note for k in KINDS.values()}
        result.figures = figures(run.ledger, run.committed, notes)
        result.produce_errors = sum(1 for r in run.ledger.records if r.produce_error)
        result.worker = await worker_state(fleet, pid)
    except Exception:  # noqa: BLE001 - reported
        import traceback

        result.error = traceback.format_exc()
    finally:
        if run is not None:
            await run.stop()
        if started is None:
            await fleet.stop_all()
    result.duration_s = time.monotonic() - t_start
    result.judge()
    return result


async def lookups(fleet: Fleet, pairs: list[tuple[str, str]], others: list[tuple[str, str]], run: Run
                  ) -> dict[str, Any]:
    """GET /optouts/{number}?account= for every opted-out pair (opted_out true), the same numbers
    under another account and fresh numbers that were sent to (opted_out false)."""
    fresh = [(r.number, r.account) for r in run.ledger.records
             if r.kind == "followup.send_fresh" and r.number][:50]
    wanted = [(p, True) for p in pairs] + [(p, False) for p in others + fresh]
    by_account: dict[str, list[str]] = defaultdict(list)
    for (number, account), _ in wanted:
        if len(account) <= LOOKUP_MAX_ACCOUNT:
            by_account[account].append(number)
    answers: dict[tuple[str, str], dict] = {}
    for account, numbers in by_account.items():
        for number, answer in (await fleet.lookup_all(sorted(set(numbers)), account=account)).items():
            answers[(number, account)] = answer
    wrong = []
    by_pair: dict[tuple[str, str], bool | None] = {}
    for pair, expected in wanted:
        answer = answers.get(pair)
        if answer is None:
            continue
        by_pair[pair] = answer["opted_out"] if expected else None
        if answer["status"] != 200 or answer["opted_out"] is not expected:
            wrong.append({"number": pair[0], "account": pair[1][:80], "expected": expected, **answer})
    return {"checked": len(answers), "wrong": len(wrong), "wrong_examples": wrong[:10],
            "skipped_long_accounts": sum(1 for (_, a), _ in wanted if len(a) > LOOKUP_MAX_ACCOUNT),
            "_by_pair": by_pair}


async def worker_state(fleet: Fleet, pid: int | None) -> dict[str, Any]:
    worker = fleet.workers["w1"]
    alive = fleet.alive("w1")
    status, body = 0, None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, body = await asyncio.to_thread(worker.get, "/health")
        if status == 200:
            break
        await asyncio.sleep(0.5)
    _, stats = await asyncio.to_thread(worker.get, "/stats?scope=worker")
    try:
        log = worker.log_path.read_text(errors="replace")
    except OSError:
        log = ""
    return {"alive": alive, "pid": pid, "restarted": bool(worker.proc and worker.proc.pid != pid)
            or bool(fleet.unexpected_exits), "health_status": status, "health": body, "stats": stats,
            "log_tracebacks": log.count("Traceback"), "log_lines": log.count("\n"),
            "log": str(worker.log_path)}


# ------------------------------------------------------------------------ report


def write_results(result: HostileResult, out: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    doc = {**meta, **result.to_dict()}
    json_path, md_path = out / "hostile.json", out / "hostile.md"
    json_path.write_text(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n")
    md_path.write_text(markdown(result, meta))
    return json_path, md_path


def markdown(result: HostileResult, meta: dict[str, Any]) -> str:
    f = result.figures
    t, ht = f.get("totals", {}), f.get("hostile_totals", {})
    lines = [
        "# Hostile-input suite (`python -m chaos.hostile`)", "",
        f"**{'OK' if result.ok else 'FAILED'}**: scale `{result.scale.name}`, seed {result.seed}, guarantee "
        f"`{result.guarantee}`, {result.duration_s:.0f} s; worker code {meta.get('runtime_at_start')} "
        f"(at the end: {meta.get('runtime_at_end')}); {meta.get('started_at')}.", "",
        f"- All records: {t.get('records', 0):,}; dead-lettered {t.get('dead_lettered', 0):,}, processed "
        f"{t.get('processed', 0):,}, **vanished {t.get('vanished', 0)}**, unexpected outcome "
        f"{t.get('unexpected', 0)}.",
        f"- Hostile records ({len(KINDS)} kinds): {ht.get('records', 0):,}; dead-lettered "
        f"{ht.get('dead_lettered', 0):,}, processed {ht.get('processed', 0):,}, vanished {ht.get('vanished', 0)}, "
        f"unexpected {ht.get('unexpected', 0)}.",
    ]
    h = result.honoured
    if h:
        lines.append(f"- STOPs that must be honoured: {h['honoured']}/{h['expected']} (consent record not stale, "
                     f"`GET /optouts` opted out, a later send suppressed `opted_out`).")
    lk = result.lookups
    if lk:
        lines.append(f"- `GET /optouts`: {lk.get('checked', 0)} checked, {lk.get('wrong', 0)} wrong.")
    w = result.worker
    if w:
        lines.append(f"- Worker: alive {w.get('alive')}, restarted {w.get('restarted')}, `/health` "
                     f"{w.get('health_status')} at the end; tracebacks in its log: {w.get('log_tracebacks')}.")
    lines.append(f"- Misdelivered sends: {f.get('misdelivered', 0)}; outputs matching no record: "
                 f"{f.get('orphans', {})}.")
    for p in result.phases:
        lines.append(f"- Phase {p['phase']}: {p['records']:,} records, produced in {p.get('produce_s')} s, accounted "
                     f"for in {p['settle_s']} s{'' if p['complete'] else ' (timed out)'}.")
    if result.failures:
        lines += ["", "## Failures", ""] + [f"- {x}" for x in result.failures]
    lines += ["", "## Per kind", "",
              "| kind | records | dead-lettered | processed | vanished | unexpected | expected | outcomes |",
              "|---|---:|---:|---:|---:|---:|---|---|"]
    for r in f.get("per_kind", []):
        outcomes = ", ".join(f"{k} {v}" for k, v in r["outcomes"].items())
        name = f"**{r['kind']}**" if r["unexpected"] or r["vanished"] else r["kind"]
        lines.append(f"| {name} | {r['records']} | {r['dead_lettered']} | {r['processed']} | {r['vanished']} | "
                     f"{r['unexpected']} | {r['expected']} | {outcomes} |")
    lines += ["", "## Keys and headers", "", "| variant | records | as expected |", "|---|---:|---:|"]
    for variant, c in f.get("by_variant", {}).items():
        lines.append(f"| {variant} | {c.get('records', 0)} | {c.get('as_expected', 0)} |")
    if f.get("examples"):
        lines += ["", "## Examples of unexpected outcomes", ""]
        for e in f["examples"][:40]:
            lines.append(f"- `{e['kind']}` #{e['n']}: expected {' or '.join(e['expected'])}, got "
                         f"{'+'.join(e['outcome']) or 'nothing'}: {'; '.join(e['why'])[:300]}"
                         + (f" ({'; '.join(e['details'])[:300]})" if e["details"] else ""))
    lines += ["", "## Kinds", ""]
    for k in KINDS.values():
        lines.append(f"- `{k.name}`: {k.note}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ CLI


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m chaos.hostile", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("CHAOS_HOSTILE_SCALE") or "full")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED") or 1))
    ap.add_argument("--guarantee", default="exactly_once", choices=("at_least_once", "exactly_once"),
                    help="the worker's OPTOUT_PROCESSING_GUARANTEE (default: exactly_once, the worker's default)")
    ap.add_argument("--out", default=str(RESULTS_DIR))
    return ap.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    from chaos import report

    meta = {"started_at": report.now_iso(), "runtime_at_start": report.runtime_fingerprint()}
    print("hostile: shared broker ...", flush=True)
    bootstrap, ours = await asyncio.to_thread(shared_broker)
    try:
        result = await run_hostile(SCALES[args.scale], bootstrap=bootstrap, work_dir=WORK_DIR, seed=args.seed,
                                   guarantee=args.guarantee)
    finally:
        await asyncio.to_thread(release, ours)
    meta.update(finished_at=report.now_iso(), runtime_at_end=report.runtime_fingerprint())
    print(result.summary())
    json_path, md_path = write_results(result, Path(args.out), meta)
    print(f"hostile: wrote {json_path} and {md_path}")
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(amain(parse(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
