"""The scale-out figure: the project's worker (at-least-once) run as 1, 2, 3 … processes of
the same app id (one consumer group) on the same throughput job (bench/README.md).

One session per worker count: fresh topics, the STOPs loaded by one worker (as the
project's own sessions do), then N workers started (own data dir and web port each), and
only once the group has settled (see :func:`wait_settled`) the sends produced: workers
started on a backlog would spend its first seconds rebalancing, and the figure would
measure that. The outputs are verified as every other run's; throughput is the outputs'
first-last window, CPU the sum over the workers' processes over that window."""

from __future__ import annotations

import bisect
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from bench.procmon import CpuSampler, cpu_seconds, peak_rss_mib
from bench.sut import ProjectSystem, Worker, free_port

if TYPE_CHECKING:
    from bench.run import Bench

CLUSTER_SECRET = "bench-cluster-secret"  # OPTOUT_CLUSTER_SECRET: the same on each worker of a group
SETTLE_TIMEOUT_S = 90.0  # after every worker is healthy
SETTLE_STABLE_S = 2.0  # the assignment must stay the same this long
SETTLE_HOW = ("every worker's GET /metrics: ready 1, no table partition recovering, every routed partition "
              f"assigned to exactly one worker and every worker holding some, unchanged for {SETTLE_STABLE_S:.0f} s")

_LABELLED = re.compile(r"^sms_optout_consumer_lag_records\{([^}]*)\}", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_READY = re.compile(r"^sms_optout_ready (\S+)$", re.M)
_RECOVERING = re.compile(r"^sms_optout_recovering_partitions (\S+)$", re.M)


# ------------------------------------------------------------------ pure parts


def parse_metrics(text: str) -> dict:
    """From one worker's /metrics text: ready, recovering partitions, and the partitions
    it is assigned per topic (those whose lag it reports)."""
    assigned: dict[str, set[int]] = {}
    for labels in _LABELLED.findall(text):
        pairs = dict(_LABEL.findall(labels))
        if "topic" in pairs and "partition" in pairs:
            assigned.setdefault(pairs["topic"], set()).add(int(pairs["partition"]))
    ready = _READY.search(text)
    recovering = _RECOVERING.search(text)
    return {"ready": bool(ready) and float(ready.group(1)) == 1.0,
            "recovering": float(recovering.group(1)) if recovering else None,
            "assigned": assigned}


def spread(owned: list[set[int]], partitions: int) -> bool:
    """Every partition assigned exactly once, and every worker holding some (when there are
    enough partitions for that)."""
    everything = set().union(*owned) if owned else set()
    disjoint = sum(len(o) for o in owned) == len(everything)
    return everything == set(range(partitions)) and disjoint and (all(owned) or len(owned) > partitions)


def prediction(points: list[dict], nproc: int) -> str:
    """What the curve says per added core: the measured ratio, how busy the workers kept the
    cores, and the ceiling their CPU per message gives (a core per worker, nothing else limiting)."""
    by = {p["workers"]: p for p in points if p.get("throughput_msg_s")}
    if 1 not in by:
        return "no 1-worker point: no prediction."
    one = by[1]["throughput_msg_s"]
    parts = []
    within = [n for n in sorted(by) if 1 < n <= nproc]
    if within:
        n = max(within)
        gain = by[n]["throughput_msg_s"] / one
        per_core = (by[n]["throughput_msg_s"] - one) / (n - 1)
        if per_core > 0:
            parts.append(f"throughput({n})/throughput(1) = {gain:.2f}: each added core adds ≈ {per_core:,.0f} msg/s "
                         f"({per_core / one:.0%} of one worker's), so k cores ≈ {one:,.0f} + (k − 1) × "
                         f"{per_core:,.0f} msg/s while the cores are the limit")
        else:
            parts.append(f"throughput({n})/throughput(1) = {gain:.2f}: a worker on another core added no "
                         f"throughput on this machine")
        busy1, busyn = by[1].get("cpu_cores_busy"), by[n].get("cpu_cores_busy")
        if busy1 is not None and busyn is not None:
            parts.append(f"the workers kept {busy1:.2f} core(s) busy with 1 worker and {busyn:.2f} with {n}"
                         + (f" of {nproc}: they are not what limits here (the broker and the bench's producer and "
                            f"reader run on the same {nproc} cores)" if busyn < n - 0.5 else ""))
        cpu1, cpun = by[1].get("cpu_us_per_msg"), by[n].get("cpu_us_per_msg")
        if cpu1 and cpun:
            ceil1, ceiln = 1e6 / cpu1, n * 1e6 / cpun
            parts.append(f"from their CPU per message ({cpu1:.1f} µs with 1 worker, {cpun:.1f} µs summed over {n}, "
                         f"{cpun / cpu1 - 1:+.0%}), a core per worker with nothing else limiting would carry ≈ "
                         f"{ceil1:,.0f} msg/s with 1 worker and ≈ {ceiln:,.0f} with {n}: ≈ "
                         f"{(ceiln - ceil1) / (n - 1):,.0f} msg/s per added core")
    else:
        parts.append(f"no point with 2..{nproc} workers: no per-core prediction")
    for n in sorted(by):
        if n > nproc:
            parts.append(f"{n} workers oversubscribe the {nproc} cores of this machine "
                         f"(throughput({n})/throughput(1) = {by[n]['throughput_msg_s'] / one:.2f}): more workers "
                         f"than cores add processes, not CPU")
    return "; ".join(parts) + "."


def markdown_lines(scale: dict) -> list[str]:
    """The scale-out table of latest.md (empty without points)."""
    points = scale.get("points") or []
    if not points:
        return []
    nproc = scale.get("nproc")
    one = next((p["throughput_msg_s"] for p in points if p["workers"] == 1), None)
    lines = [
        "",
        "### Scale-out (this project, at-least-once)",
        "",
        f"The same job with N worker processes of one app id (one consumer group), on this {nproc}-core "
        f"machine; the sends are produced after the group has settled. CPU = all workers' processes.",
        "",
        "| workers | throughput msg/s | × 1 worker | CPU µs/msg (all workers) | CPU cores busy | peak RSS MiB per "
        "worker | input / routed partitions per worker | outputs |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in points:
        ratio = f"{p['throughput_msg_s'] / one:.2f} ×" if one else "–"
        rss = ", ".join(f"{x:,.0f}" for x in p.get("peak_rss_mib_per_worker", []))
        parts = ", ".join(f"{len(w.get('input', []))} / {len(w.get('routed', []))}" for w in p.get("partitions", []))
        outputs = "verified" if p.get("verified") else "**NOT verified**"
        if p.get("settled") is False:
            outputs += " (group had not settled: a rebalance may be in the window)"
        lines.append(f"| {p['workers']} | {p['throughput_msg_s']:,.0f} | {ratio} | {p['cpu_us_per_msg']:,.1f} | "
                     f"{p.get('cpu_cores_busy', 0):.2f} | {rss or '–'} | {parts or '–'} | {outputs} |")
    lines += ["", f"- **Per added core**: {prediction(points, nproc or 1)}"]
    slow = [p["workers"] for p in points
            if p.get("produce_msg_s") and p["produce_msg_s"] < 1.2 * p["throughput_msg_s"]]
    if slow:
        lines.append(f"- Note: with {', '.join(map(str, slow))} worker(s) the sends were produced at less than 1.2 × "
                     f"the throughput: that figure may be the producer's limit, not the workers'.")
    for n in scale.get("skipped", []):
        lines.append(f"- {n} worker(s): not run ({scale.get('skipped_why', 'time budget')}).")
    return lines


# ------------------------------------------------------------------ measuring


def _say(message: str) -> None:
    """A line beside the progress bars (tqdm is the bench extra's; without it, a plain line)."""
    try:
        from tqdm import tqdm
    except ImportError:
        print(message)
    else:
        tqdm.write(message)


class FleetSampler(CpuSampler):
    """CpuSampler over several processes: their CPU summed (and kept per process)."""

    def __init__(self, pids: list[int], interval: float = 0.05) -> None:
        super().__init__(pids[0], interval)
        self.pids = list(pids)
        self.each: list[list[float]] = [[] for _ in pids]

    def sample(self) -> None:
        cpus = [cpu_seconds(p) for p in self.pids]
        self.walls.append(time.time() * 1000)
        self.cpus.append(sum(cpus))
        for series, cpu in zip(self.each, cpus, strict=True):
            series.append(cpu)

    def between_one(self, i: int, start_ms: float, end_ms: float) -> float:
        def at(wall_ms: float) -> float:
            series = self.each[i]
            j = bisect.bisect_left(self.walls, wall_ms)
            if j <= 0:
                return series[0]
            if j >= len(self.walls):
                return series[-1]
            w0, w1 = self.walls[j - 1], self.walls[j]
            return series[j - 1] if w1 == w0 else series[j - 1] + (series[j] - series[j - 1]) * (wall_ms - w0) / (w1 - w0)

        return at(end_ms) - at(start_ms)


class Fleet:
    """N workers of one group, seen as one system process by Bench._wait_outputs."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    def check_alive(self, what: str) -> None:
        for i, worker in enumerate(self.workers):
            worker.check_alive(f"{what} (worker {i + 1} of {len(self.workers)})")

    def stop(self) -> None:
        """SIGTERM to all at once (one by one, each leaving would rebalance the others), then wait."""
        for worker in self.workers:
            if worker.popen.poll() is None:
                worker.popen.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.popen.wait(30)
            except subprocess.TimeoutExpired:
                pass
            worker.stop()


def metrics(worker: Worker) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as answer:
            return parse_metrics(answer.read().decode())
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
        return None


def wait_settled(fleet: Fleet, routed_topic: str, partitions: int, input_topic: str,
                 label: str) -> tuple[bool, float, list[dict]]:
    """Until :data:`SETTLE_HOW`, at most SETTLE_TIMEOUT_S: (settled, seconds, per worker
    {"input": [...], "routed": [...]})."""
    from tqdm import tqdm  # the bench extra: the pure parts above are imported without it (make test)

    t0 = time.monotonic()
    last: list[dict] | None = None  # the assignment seen settled at the previous poll
    latest: list[dict] = []
    since = t0
    with tqdm(desc=f"{label}: group settling", unit="s", leave=False, bar_format="{desc}: {elapsed}") as bar:
        while True:
            fleet.check_alive("the worker")
            seen = [m for m in (metrics(w) for w in fleet.workers) if m is not None]
            now = time.monotonic()
            if len(seen) == len(fleet.workers):
                latest = [{"input": sorted(m["assigned"].get(input_topic, ())),
                           "routed": sorted(m["assigned"].get(routed_topic, ()))} for m in seen]
                ok = (all(m["ready"] and not m["recovering"] for m in seen)
                      and spread([set(o["routed"]) for o in latest], partitions))
                if not ok or latest != last:
                    last, since = (latest if ok else None), now
                elif now - since >= SETTLE_STABLE_S:
                    return True, now - t0, latest
            if now - t0 > SETTLE_TIMEOUT_S:
                return False, now - t0, latest
            bar.update()
            time.sleep(0.25)


def session(bench: Bench, n: int) -> dict:
    system = ProjectSystem()
    cfg = bench.cfg
    assert bench.admin is not None
    label = f"project scale-out, {n} worker{'s' if n != 1 else ''}"
    t_session = time.time()
    code = bench._check_code(label)
    topo = system.topology(f"s{n}")
    env = {**system.env(topo, bench.bootstrap, cfg), "OPTOUT_CLUSTER_SECRET": CLUSTER_SECRET}
    settings = system.settings(env)
    bench.admin.track(system.all_topics(topo, env))
    system.create_topics(env)
    run_dir = bench.work / f"project-scale{n}"
    run_dir.mkdir(parents=True, exist_ok=True)
    compliance = bench._load_optouts(system, env, run_dir, free_port(), topo, label)
    workers: list[Worker] = []
    fleet = Fleet(workers)
    try:
        for i in range(n):  # worker 1 keeps the loader's data dir (its table); the others recover theirs
            data_dir = run_dir / ("data" if i == 0 else f"data-{i + 1}")
            workers.append(system.start(env, data_dir, free_port(), run_dir / f"worker-{i + 1}.log"))
        for worker in workers:
            worker.wait_healthy(180)
        settled, settle_s, owned = wait_settled(fleet, settings.routed_topic, settings.partitions, topo.input, label)
        _say(f"  {label}: group {'settled' if settled else 'NOT settled'} after {settle_s:.1f}s; input / "
                   f"routed partitions per worker: " + ", ".join(f"{o['input']} / {o['routed']}" for o in owned))
        if not settled:
            note = (f"{label}: the group had not settled after {SETTLE_TIMEOUT_S:.0f}s ({SETTLE_HOW}); "
                    f"measured anyway")
            bench.results["notes"].append(note)
            _say("bench: WARNING: " + note)
        sampler = FleetSampler([w.pid for w in workers]).start()
        t_produce = time.time()
        produce_s = bench._produce_sends(topo.input, f"{label}: produce sends")
        ends, t_done, _ = bench._wait_outputs(system, topo, fleet, label, len(compliance))
        rss = [round(peak_rss_mib(w.pid), 1) for w in workers]
        sampler.stop()
    finally:
        fleet.stop()
    res = bench._figures(system, topo, label, ends, sampler, compliance, t_produce, t_done)
    sends = len(bench.ds.sends)
    first_ms = t_produce * 1000 + res["startup_to_first_output_s"] * 1000
    last_ms = first_ms + res["span_s"] * 1000
    res.update({
        "workers": n,
        "settled": settled,
        "settle_s": round(settle_s, 1),
        "partitions": owned,
        "peak_rss_mib_per_worker": rss,
        "cpu_us_per_msg_per_worker": [round(sampler.between_one(i, first_ms, last_ms) / sends * 1e6, 1)
                                      for i in range(n)],
        "produce_s": round(produce_s, 2),
        "produce_msg_s": round(sends / produce_s, 1) if produce_s > 0 else None,
        "session_s": round(time.time() - t_session, 1),
        "code": code,
    })
    return res


def measure(bench: Bench, counts: tuple[int, ...], first_estimate_s: float) -> dict:
    """One session per worker count, ascending, while the time budget allows."""
    out: dict = {"nproc": os.cpu_count() or 1, "settle": SETTLE_HOW, "points": [], "skipped": []}
    estimate = max(45.0, first_estimate_s * 1.15)
    for i, n in enumerate(counts):
        if bench.left() < estimate + 20:
            out["skipped"] = list(counts[i:])
            out["skipped_why"] = (f"another session would take ~{estimate:.0f}s; {max(0, bench.left()):.0f}s of the "
                                  f"{bench.cfg.budget_s:.0f}s budget (BENCH_BUDGET_S) left")
            note = (f"scale-out: {', '.join(map(str, counts[i:]))} worker(s) not run ({out['skipped_why']})")
            bench.results["notes"].append(note)
            _say("bench: " + note)
            break
        point = session(bench, n)
        out["points"].append(point)
        estimate = max(45.0, point["session_s"] * 1.15)
        out["prediction"] = prediction(out["points"], out["nproc"])
    if len(out["points"]) > 1:
        _say(f"  scale-out: {out['prediction']}")
    return out
