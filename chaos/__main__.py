"""``python -m chaos`` (``make chaos``): every scenario at full size; exit 1 on any violation.

    python -m chaos [--scale small|full] [--scenario NAME[,NAME]] [--guarantee G[,G]]
                    [--rate N] [--duration S] [--numbers N] [--replying N] [--kills N] [--seed N]
                    [--strict-in-flight] [--out DIR]

Environment (flags win): CHAOS_SCALE, CHAOS_SCENARIOS, OPTOUT_PROCESSING_GUARANTEE
(at_least_once | exactly_once, or both comma-separated), CHAOS_RATE, CHAOS_DURATION,
CHAOS_NUMBERS, CHAOS_REPLYING, CHAOS_KILLS, CHAOS_SEED, CHAOS_STRICT_IN_FLIGHT=1;
KAFKA_BOOTSTRAP_SERVERS / KAFKA_PORT
for the shared broker (scenarios a-d), CHAOS_KAFKA_PORT (default 29192) for the broker the
broker-restart scenario owns and restarts (skipped when KAFKA_BOOTSTRAP_SERVERS is set),
CHAOS_KEEP_BROKER=1 to keep that broker's data.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from chaos import report
from chaos.broker import release, shared_broker
from chaos.config import GUARANTEES, RESULTS_DIR, SCALES, SCENARIOS, WORK_DIR, scenario_by_name
from chaos.scenarios import ScenarioResult, run_scenario


def _env(name: str, cast: Any = str) -> Any:
    value = os.environ.get(name)
    return cast(value) if value not in (None, "") else None


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), default=_env("CHAOS_SCALE") or "full")
    ap.add_argument("--scenario", default=_env("CHAOS_SCENARIOS") or "all",
                    help=f"comma-separated: {', '.join(SCENARIOS)} (or a-e), or all")
    ap.add_argument("--guarantee", default=_env("OPTOUT_PROCESSING_GUARANTEE") or "at_least_once",
                    help="at_least_once, exactly_once, or both comma-separated (passed to the workers)")
    ap.add_argument("--rate", type=float, default=_env("CHAOS_RATE", float))
    ap.add_argument("--duration", type=float, default=_env("CHAOS_DURATION", float))
    ap.add_argument("--numbers", type=int, default=_env("CHAOS_NUMBERS", int))
    ap.add_argument("--replying", type=int, default=_env("CHAOS_REPLYING", int))
    ap.add_argument("--kills", type=int, default=_env("CHAOS_KILLS", int))
    ap.add_argument("--seed", type=int, default=_env("CHAOS_SEED", int) or 1)
    ap.add_argument("--strict-in-flight", action="store_true", default=bool(_env("CHAOS_STRICT_IN_FLIGHT", int)),
                    help="also fail on deliveries of sends requested after a STOP's event time while that STOP "
                         "was not yet acknowledged by the broker (see chaos/checker.py)")
    ap.add_argument("--out", default=str(RESULTS_DIR))
    return ap.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    scale = SCALES[args.scale].replace(rate=args.rate, duration_s=args.duration, numbers=args.numbers,
                                       replying=args.replying, kills=args.kills)
    names = list(SCENARIOS) if args.scenario == "all" else [s.strip() for s in args.scenario.split(",") if s.strip()]
    specs = [scenario_by_name(n) for n in names]
    guarantees = [g.strip() for g in args.guarantee.split(",") if g.strip()]
    for g in guarantees:
        if g not in GUARANTEES:
            raise SystemExit(f"unknown processing guarantee {g!r}; one of {', '.join(GUARANTEES)}")
    notes: list[str] = []
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and any(s.own_broker for s in specs):
        specs = [s for s in specs if not s.own_broker]
        notes.append("broker-restart skipped: KAFKA_BOOTSTRAP_SERVERS is set (that broker cannot be restarted here)")
        print(f"chaos: {notes[-1]}")
    started_at = report.now_iso()
    runtime_at_start = report.runtime_fingerprint()
    bootstrap, ours = (None, None)
    if any(not s.own_broker for s in specs):
        print("chaos: shared broker ...")
        bootstrap, ours = await asyncio.to_thread(shared_broker)
        print(f"chaos: shared broker {bootstrap}" + (" (started here; stopped at the end)" if ours else ""))
    results: list[ScenarioResult] = []
    try:
        for guarantee in guarantees:
            for spec in specs:
                print(f"\nchaos: [{spec.letter}] {spec.name}: {spec.title}; guarantee {guarantee}; scale {scale.name}")
                result = await run_scenario(spec, scale, bootstrap=bootstrap, work_dir=WORK_DIR,
                                            guarantee=guarantee, seed=args.seed,
                                            strict_in_flight=args.strict_in_flight)
                results.append(result)
                print(result.summary(), flush=True)
    finally:
        await asyncio.to_thread(release, ours)
    doc = report.build(results, {
        "started_at": started_at, "finished_at": report.now_iso(),
        "scale": {"name": scale.name, "rate": scale.rate, "duration_s": scale.duration_s, "numbers": scale.numbers,
                  "replying": scale.replying, "kills": scale.kills, "partitions": scale.partitions,
                  "input_partitions": scale.input_partitions, "probe_interval_s": scale.probe_interval_s,
                  "send_stamp_skews_s": list(scale.send_stamp_skews_s), "worker_skews_ms": list(scale.worker_skews_ms)},
        "runtime_at_start": runtime_at_start, "guarantees": guarantees, "seed": args.seed, "strict_in_flight": args.strict_in_flight, "notes": notes,
    })
    json_path, md_path = report.write(doc, Path(args.out))
    print("\nchaos: summary")
    for r in results:
        print(f"  [{r.spec.letter}] {r.spec.name:15} {r.guarantee:14} {'OK' if r.ok else 'FAILED'}"
              + ("" if r.ok else ": " + "; ".join(r.failures)))
    if runtime_at_start and runtime_at_start != doc["runtime_at_end"]:
        print(f"chaos: WARNING: app/ changed during the run ({runtime_at_start} -> {doc['runtime_at_end']})")
    print(f"chaos: wrote {json_path} and {md_path}")
    return 0 if doc["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    # the harness's own clients retry through worker kills and broker restarts: no log noise
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(amain(parse(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
