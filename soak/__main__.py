"""``python -m soak`` (``make soak``): one worker under a steady mixed load; exit 1 if its RSS
keeps growing after the warm-up (slope above the target) or a send is lost or doubled.

    python -m soak [--scale full|small] [--duration S] [--rate N] [--numbers N] [--reply-share F]
                   [--reply-kinds K,K] [--warmup S] [--interval S] [--target MIB_PER_MIN] [--seed N]
                   [--guarantee G] [--traced] [--app-dir DIR] [--out DIR]

Environment (flags win): SOAK_SCALE, SOAK_DURATION, SOAK_RATE, SOAK_NUMBERS, SOAK_REPLY_SHARE,
SOAK_REPLY_KINDS, SOAK_WARMUP, SOAK_INTERVAL, SOAK_TARGET, SOAK_SEED, SOAK_TRACED=1, SOAK_APP_DIR,
OPTOUT_PROCESSING_GUARANTEE; KAFKA_BOOTSTRAP_SERVERS to use a running broker, else its own on
SOAK_KAFKA_PORT (default 29292, run dir .run/kafka-29292), started if needed and stopped again at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from chaos.broker import LocalBroker
from soak import report
from soak.accounting import Ledger, account
from soak.config import DEFAULT_KAFKA_PORT, RESULTS_DIR, SCALES, WORK_DIR, SoakConfig
from soak.load import LoadGenerator
from soak.outcomes import LedgerCollector
from soak.rss import RssSampler, summarize
from soak.worker import SoakWorker
from tests.integration.harness import Topology


def _env(name: str, cast: Any = str) -> Any:
    value = os.environ.get(name)
    return cast(value) if value not in (None, "") else None


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", choices=("full", "small"), default=_env("SOAK_SCALE") or "full",
                    help="full: 30 min, the 0.1 MiB/min target; small: 3 min (make chaos), 1 MiB/min")
    ap.add_argument("--duration", type=float, default=_env("SOAK_DURATION", float), help="load seconds (1800)")
    ap.add_argument("--rate", type=float, default=_env("SOAK_RATE", float), help="records/s (1500)")
    ap.add_argument("--numbers", type=int, default=_env("SOAK_NUMBERS", int), help="distinct numbers (20000)")
    ap.add_argument("--reply-share", type=float, default=_env("SOAK_REPLY_SHARE", float), help="(0.05)")
    ap.add_argument("--reply-kinds", default=_env("SOAK_REPLY_KINDS"),
                    help="comma-separated kinds of replies in the mix: stop,phrase,start,help,review,other (all)")
    ap.add_argument("--warmup", type=float, default=_env("SOAK_WARMUP", float), help="seconds (120)")
    ap.add_argument("--interval", type=float, default=_env("SOAK_INTERVAL", float), help="RSS sample period (10)")
    ap.add_argument("--target", type=float, default=_env("SOAK_TARGET", float), help="max MiB/min (0.1)")
    ap.add_argument("--seed", type=int, default=_env("SOAK_SEED", int))
    ap.add_argument("--guarantee", default=_env("OPTOUT_PROCESSING_GUARANTEE"),
                    choices=("at_least_once", "exactly_once"))
    ap.add_argument("--traced", action="store_true", default=bool(_env("SOAK_TRACED", int)),
                    help="run the worker under tracemalloc (soak.traced_worker), heap diffs in its data dir")
    ap.add_argument("--app-dir", default=_env("SOAK_APP_DIR"),
                    help="run the worker from this checkout (e.g. a git worktree of another commit); default: here")
    ap.add_argument("--out", default=None, help="default soak/results (small: soak/results/small)")
    return ap.parse_args(argv)


def config_of(args: argparse.Namespace) -> SoakConfig:
    return SCALES[args.scale].replace(duration_s=args.duration, rate=args.rate, numbers=args.numbers,
                                reply_share=args.reply_share, reply_kinds=args.reply_kinds, warmup_s=args.warmup,
                                sample_interval_s=args.interval, target_slope_mib_per_min=args.target,
                                seed=args.seed, guarantee=args.guarantee, traced=args.traced or None,
                                app_dir=args.app_dir)


def broker() -> tuple[str, LocalBroker | None]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        return given, None
    local = LocalBroker(int(os.environ.get("SOAK_KAFKA_PORT", DEFAULT_KAFKA_PORT)))  # run dir .run/kafka-<port>
    local.start()
    return local.bootstrap, local


async def delete_topics(bootstrap: str, app_id: str) -> int | None:
    """Delete the run's topics (each run has its own): a broker that keeps them makes every
    client of later runs hold metadata for more partitions. None when that failed."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        ours = [t for t in await admin.list_topics() if t.startswith(app_id)]
        if ours:
            await admin.delete_topics(ours)
        return len(ours)
    except Exception:  # noqa: BLE001 - housekeeping only
        return None
    finally:
        await admin.close()


def say(text: str) -> None:
    print(f"soak: {text}", flush=True)


async def run(config: SoakConfig, bootstrap: str) -> dict[str, Any]:
    topology = Topology(bootstrap, partitions=config.partitions, input_partitions=config.input_partitions)
    data_dir = WORK_DIR / topology.id
    worker = SoakWorker(topology, data_dir, config)
    say(f"worker {'(traced) ' if config.traced else ''}starting from {worker.cwd}, app id {topology.id}, "
        f"data {data_dir}")
    try:
        await asyncio.to_thread(worker.start, wait=True, timeout=config.start_timeout_s)
    except BaseException:
        await asyncio.to_thread(worker.stop, 30.0)
        raise
    assert worker.proc is not None
    pid = worker.proc.pid
    ledger = Ledger()
    collector = LedgerCollector(bootstrap, {"provider": topology.provider, "suppressed": topology.suppressed,
                                            "deadletter": topology.deadletter, "consent": topology.consent}, ledger)
    await collector.start()
    gen = LoadGenerator(bootstrap, topology.inbound, topology.outbound, config, ledger)
    notes: list[str] = []
    last_print = [0.0]

    def progress(sample: dict[str, Any]) -> None:
        if sample["t_s"] - last_print[0] >= 60 or sample["t_s"] == 0:
            last_print[0] = sample["t_s"]
            say(f"+{sample['t_s'] / 60:5.1f} min  RSS {sample['rss_mib']:7.1f} MiB  produced {gen.produced:,}  "
                f"accounted {ledger.accounted:,}/{len(ledger.produced):,} sends")

    sampler = RssSampler(pid, config.sample_interval_s)
    idle = sampler.sample()
    sampler.samples.clear()
    sampler.t0, sampler.on_sample = time.monotonic(), progress
    sampling = asyncio.create_task(sampler.run())
    say(f"load: {config.rate:,.0f} records/s for {config.duration_s:,.0f} s to {config.numbers:,} numbers "
        f"(RSS before the load {idle['rss_mib'] if idle else '?'} MiB)")
    try:
        await gen.run()
        load_s = time.monotonic() - sampler.t0
        say(f"load done in {load_s:,.0f} s: {gen.produced:,} records; draining")
        drain = await collector.drain(lambda: ledger.accounted >= ledger.acked_count(), quiet_s=config.quiet_s,
                                      stall_s=config.stall_s, timeout_s=config.drain_timeout_s)
    finally:
        sampling.cancel()
        exited = worker.proc.poll() if worker.proc is not None else None
        await collector.stop()
        code = await asyncio.to_thread(worker.stop, 60.0)
    deleted = await delete_topics(bootstrap, topology.id)
    if deleted is not None:
        notes.append(f"deleted the run's {deleted} topics")
    if exited is not None:
        notes.append(f"the worker exited on its own during the run (code {exited}); see {worker.log_path}")
    accounting = account(ledger)
    rss = summarize(sampler.samples, config.warmup_s, config.duration_s, config.target_slope_mib_per_min)
    failures = []
    if rss["slope_mib_per_min"] is None:
        failures.append("no RSS slope (too few samples after the warm-up)")
    elif not rss["ok"]:
        failures.append(f"RSS slope {rss['slope_mib_per_min']:.3f} MiB/min after the warm-up, above the target "
                        f"{config.target_slope_mib_per_min} MiB/min")
    failures += accounting["failures"]
    if exited is not None:
        failures.append(f"worker exited during the run (code {exited})")
    return {
        "ok": not failures,
        "failures": failures,
        "config": {**config.__dict__},
        "rss": rss,
        "accounting": accounting,
        "load": {"produced": gen.produced, "replies": sum(gen.replies.values()), "reply_kinds": dict(gen.replies),
                 "replies_acked": gen.replies_acked, "replies_failed": gen.replies_failed,
                 "lag_max_s": round(gen.lag_max_s, 2), "load_s": round(load_s, 1)},
        "drain": drain,
        "outputs": {**collector.totals, "compliance_messages": collector.compliance,
                    "replies_deadlettered": collector.replies_deadlettered, "undecodable": collector.undecodable},
        "idle_rss_mib": idle["rss_mib"] if idle else None,
        "worker": {"app_id": topology.id, "data_dir": str(data_dir), "log": str(worker.log_path), "exit_code": code},
        "samples": sampler.samples,
        "notes": notes,
    }


async def amain(args: argparse.Namespace) -> int:
    config = config_of(args)
    # SIGTERM, and SIGINT (ignored by a shell's background job otherwise), cancel the run: the
    # worker and the broker started here are stopped on the way out
    main_task = asyncio.current_task()
    assert main_task is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, main_task.cancel)
    meta = {"started_at": report.now_iso(), "commit": report.commit(), "runtime_at_start": report.runtime_fingerprint(),
            "machine": report.machine()}
    if config.app_dir:
        meta.update(app_dir=config.app_dir, commit=report.commit_of(Path(config.app_dir)), runtime_at_start=None)
    say("broker ...")
    bootstrap, ours = await asyncio.to_thread(broker)
    say(f"broker {bootstrap}" + (" (started here; stopped at the end)" if ours and ours.started_here else ""))
    try:
        doc = await run(config, bootstrap)
    finally:
        if ours is not None and ours.started_here:
            await asyncio.to_thread(ours.stop)
    meta.update(finished_at=report.now_iso(),
                runtime_at_end=None if config.app_dir else report.runtime_fingerprint())
    if meta["runtime_at_start"] != meta["runtime_at_end"]:
        doc["notes"].append(f"app/ changed during the run ({meta['runtime_at_start']} -> {meta['runtime_at_end']})")
    doc["meta"] = meta
    out = Path(args.out) if args.out else RESULTS_DIR / ("" if config.scale == "full" else config.scale)
    paths = report.write(doc, out)
    r, a = doc["rss"], doc["accounting"]
    say(f"RSS: start {r['rss_start_mib']} MiB, after the {config.warmup_s:.0f} s warm-up {r['rss_after_warmup_mib']} "
        f"MiB, end {r['rss_end_mib']} MiB, max {r['rss_max_mib']} MiB")
    say(f"RSS slope after the warm-up: {r['slope_mib_per_min']} MiB/min (target <= {r['target_mib_per_min']}; "
        f"halves {r['slope_halves_mib_per_min']})")
    say(f"sends {a['sends']:,} (acked {a['acked']:,}): delivered {a['delivered']:,}, suppressed {a['suppressed']:,}, "
        f"dead-lettered {a['deadlettered']:,}, lost {a['lost']:,}, duplicated {a['duplicated']:,}, "
        f"delivered+suppressed {a['delivered_and_suppressed']:,}, unknown outputs {a['unknown_outputs']:,}")
    for note in doc["notes"]:
        say(f"note: {note}")
    say(("OK" if doc["ok"] else "FAILED: " + "; ".join(doc["failures"])) + f"; wrote {', '.join(paths.values())}")
    return 0 if doc["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    return asyncio.run(amain(parse(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
