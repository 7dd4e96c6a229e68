"""Send latency while `GET /optouts.csv` exports 100,000 opted-out numbers: ``python -m bench.export_latency``.

One run, one worker (`python -m app worker`, its real settings) on a real local broker
(``scripts/kafka.sh`` on its own port, 29792, unless ``KAFKA_BOOTSTRAP_SERVERS`` is set):

1. 100,000 numbers are opted out through the import CLI (``python -m app import-optouts``,
   operator opt-outs through the routed topic, applied by the worker like any other);
2. a paced producer (librdkafka, linger 1 ms) offers a steady stream of send requests
   (one in ten to an opted-out number), each stamped with ``sent_at_ns``; a collector in
   the same process reads ``provider`` and ``suppressed`` from their end; latency =
   arrival of the decision at the collector - ``sent_at_ns`` (as ``make bench`` measures it);
3. the stream runs a warm-up, then windows **without** the export (``--window`` s) that
   alternate with windows **while** ``GET /optouts.csv`` streams all 100,000 entries from
   the same worker (each as long as one whole export), ``--rounds`` times: on a shared
   machine the other load then falls on both kinds of window alike;
4. every decision is checked (each send once, on the right topic), and each export's
   rows are counted (it must hold every opted-out number);
5. the export is timed once more with no send traffic.

Prints the figures and writes them to ``bench/results/export.md``. Options: ``--optouts``,
``--rate``, ``--window``, ``--rounds``, ``--share`` (``OPTOUT_LISTING_MAX_SHARE``),
``--guarantee``, ``--kafka-port``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

from app.reports.optout_listing import CHUNK_KEYS
from bench import verify
from bench.config import BENCH_DIR, REPO
from bench.data import numbers as valid_numbers
from bench.kafka_io import Admin, LiveCollector, paced_producer
from bench.live import Recorder, send_value
from bench.sut import VIEWER_TOKEN, ProjectExactlyOnce, ProjectSystem, free_port, stop_all
from bench.verify import PROVIDER, SUPPRESSED

RESULTS = BENCH_DIR / "results" / "export.md"
SEED = 20260101
KAFKA_SCRIPT = REPO / "scripts" / "kafka.sh"


@dataclass
class Inputs:
    input_partitions: int = 4


# ---------------------------------------------------------------- broker


def broker(port: int) -> tuple[str, bool]:
    """(bootstrap, started here)."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        return given, False
    env = {**os.environ, "KAFKA_PORT": str(port)}
    if subprocess.run(["bash", str(KAFKA_SCRIPT), "status"], env=env, capture_output=True).returncode == 0:
        return f"127.0.0.1:{port}", False
    print(f"starting a broker on 127.0.0.1:{port} ...", flush=True)
    subprocess.run(["bash", str(KAFKA_SCRIPT), "start"], env=env, check=True, capture_output=True)
    return f"127.0.0.1:{port}", True


def stop_broker(port: int) -> None:
    subprocess.run(["bash", str(KAFKA_SCRIPT), "wipe"], env={**os.environ, "KAFKA_PORT": str(port)},
                   capture_output=True, check=False)


# ---------------------------------------------------------------- the export


class Export(threading.Thread):
    """``GET /optouts.csv`` read to its end by a client in a process of its own (not to take
    the GIL from the bench's producer and collector): rows, bytes, times."""

    def __init__(self, port: int) -> None:
        super().__init__(name="export", daemon=True)
        self.port = port
        self.started_at = self.first_byte_at = self.ended_at = 0.0
        self.rows = self.bytes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        self.started_at = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-I", "-c", CLIENT, f"http://127.0.0.1:{self.port}/optouts.csv",
                                   VIEWER_TOKEN],
                                  cwd=REPO, capture_output=True, text=True, timeout=900, check=True)
            figures = json.loads(done.stdout)
            self.rows, self.bytes = figures["rows"], figures["bytes"]
            self.first_byte_at = self.started_at + figures["first_byte_s"]
        except BaseException as exc:  # reported by the caller
            self.error = exc
        self.ended_at = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at


CLIENT = """
import json, sys, time, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
started, first, lines, size = time.perf_counter(), 0.0, 0, 0
with urllib.request.urlopen(request, timeout=600) as resp:
    while chunk := resp.read1(65536):
        first = first or time.perf_counter() - started
        lines += chunk.count(b"\\r\\n")
        size += len(chunk)
print(json.dumps({"rows": lines - 1, "bytes": size, "first_byte_s": first}))
"""  # the export's client: only the standard library, so that it starts in a few ms


# ---------------------------------------------------------------- the send stream


class Stream:
    """Paced sends, one window after another; remembers what each must become."""

    def __init__(self, producer: Producer, topic: str, rate: int, recipients: list[str], opted_out: set[str]):
        self.producer, self.topic, self.rate = producer, topic, rate
        self.recipients, self.opted_out = recipients, opted_out
        self.expected: dict[str, str] = {}
        self.i = 0
        self.windows: dict[str, tuple[float, float, int]] = {}  # prefix -> (start, end, sends)

    def window(self, prefix: str, done) -> None:  # type: ignore[no-untyped-def]
        """Offer ``rate`` msg/s with message ids ``<prefix>-<n>`` until ``done()``."""
        produce, poll = self.producer.produce, self.producer.poll
        start = time.perf_counter()
        n = 0
        while not done(n, time.perf_counter() - start):
            due = int((time.perf_counter() - start) * self.rate) + 1
            while n < due:
                to = self.recipients[self.i % len(self.recipients)]
                mid = f"{prefix}-{n}"
                try:
                    produce(self.topic, send_value(mid, to), to.encode())
                except BufferError:
                    poll(0.01)
                    continue
                self.expected[mid] = SUPPRESSED if to in self.opted_out else PROVIDER
                self.i += 1
                n += 1
            poll(0)
            time.sleep(max(0.0, start + (n + 1) / self.rate - time.perf_counter()))
        self.producer.flush(30)
        self.windows[prefix] = (start, time.perf_counter(), n)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))] if values else float("nan")


def latencies(recorder: Recorder, stream: Stream, prefix: str) -> list[float]:
    """The window's send latencies (ms), after checking every decision of it."""
    entries = [e for e in recorder.get(prefix) if e[0] != verify.COMPLIANCE]
    expected = {m: k for m, k in stream.expected.items() if m.startswith(prefix + "-")}
    verify.check(f"window {prefix}", [(k, m) for k, m, _, _ in entries], expected, complete=True)
    return sorted((recv - sent) / 1e6 for _, _, sent, recv in entries if sent)


def summary(lat: list[float], sends: int, seconds: float) -> dict:
    lat = sorted(lat)
    return {"sends": sends, "seconds": seconds, "offered": sends / seconds if seconds else 0.0,
            "p50": percentile(lat, 0.5), "p90": percentile(lat, 0.9), "p99": percentile(lat, 0.99),
            "max": lat[-1] if lat else float("nan")}


# ---------------------------------------------------------------- the worker's event loop, in-process


def loop_lag(optouts: int, share: float, work: Path) -> dict:
    """The event loop's own lag while the export runs, without a broker's noise: the real web
    application over a real :class:`Host` whose 8 partitions are RocksDB stores holding
    ``optouts`` opted-out numbers (written in bulk), a task that sleeps 1 ms again and again
    and records how late it wakes (what any engine step would wait), idle and while a client
    process reads ``GET /optouts.csv`` to its end."""
    import asyncio

    import orjson

    from app.engine.state import PartitionState
    from app.runtime.host import Host
    from app.runtime.web.server import HttpServer, make_application
    from app.settings import Settings
    from app.stream.partitioner import partition_for

    settings = Settings(data_dir=work / "lag", partitions=8, viewer_token=VIEWER_TOKEN, web_port=free_port(),
                        kafka_bootstrap_servers="127.0.0.1:1", listing_max_share=share)
    host = Host(settings)
    at = "2026-11-29T12:00:00.000000+00:00"
    changes: dict[int, dict[bytes, bytes]] = {}
    for number in valid_numbers(optouts, SEED, BENCH_DIR / ".cache"):
        mid = f"import:{number[1:]}0000000000000"
        value = orjson.dumps({"opted_out": True, "changed_at": at, "message_id": mid, "source": "operator",
                              "rule": "operator", "matched": None, "last_event_at": at, "last_message_id": mid,
                              "recent_ids": [f"{mid}#out:0123456789abcdef"], "resubscribed_at": None})
        changes.setdefault(partition_for(number, 8), {})[f"{number}|default".encode()] = value
    for partition, pairs in changes.items():
        host.stores.open(partition).write(pairs, 1)

    async def measure() -> dict:
        async def publish(output) -> None:  # noqa: ANN001 - the audit record: no broker here
            return None

        host.publish = publish  # type: ignore[method-assign]
        host.started, host.rebalancing, host.assigned_once = True, False, True
        for p in range(8):
            host.processor.open_partition(PartitionState(p, host.stores.open(p)))
            host.ownership.owners[p] = settings.web_url
        server = HttpServer(make_application(host), "127.0.0.1", settings.web_port)
        await server.start()
        lags: list[float] = []
        running = True

        async def probe() -> None:
            while running:
                began = time.perf_counter()
                await asyncio.sleep(0.001)
                lags.append((time.perf_counter() - began - 0.001) * 1000)

        task = asyncio.ensure_future(probe())
        await asyncio.sleep(3)
        idle = sorted(lags)
        lags.clear()
        began = time.perf_counter()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", CLIENT, f"http://127.0.0.1:{server.port}/optouts.csv", VIEWER_TOKEN,
            stdout=asyncio.subprocess.PIPE)
        out, _ = await child.communicate()
        seconds = time.perf_counter() - began
        running = False
        await task
        during = sorted(lags)
        await server.stop()
        rows = json.loads(out)["rows"]
        if rows != optouts:
            raise verify.VerificationError(f"in-process export: {rows:,} rows, not {optouts:,}")
        return {"seconds": seconds, "idle": idle, "during": during}

    try:
        return asyncio.run(measure())
    finally:
        host.stores.close_all()


# ---------------------------------------------------------------- run


def run(args: argparse.Namespace, bootstrap: str, work: Path) -> str:
    system = ProjectExactlyOnce() if args.guarantee == "exactly_once" else ProjectSystem()
    topo = system.topology("export")
    env = system.env(topo, bootstrap, Inputs())  # type: ignore[arg-type]
    env["OPTOUT_LISTING_MAX_SHARE"] = str(args.share)
    admin = Admin(bootstrap)
    admin.track(system.all_topics(topo, env))
    system.create_topics(env)
    worker = system.start(env, work / "data", free_port(), work / "worker.log")
    load_before = os.getloadavg()[0]
    try:
        print(f"worker healthy after {worker.wait_healthy(120):.1f} s", flush=True)
        pool = valid_numbers(args.optouts + args.others, SEED, BENCH_DIR / ".cache")
        opted, others = pool[:args.optouts], pool[args.optouts:]
        listing = work / "optouts.csv"
        listing.write_text("phone\n" + "\n".join(opted) + "\n")
        print(f"importing {len(opted):,} opt-outs ...", flush=True)
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "app", "import-optouts", str(listing), "--account", "default",
                        "--source-format", "csv", "--wait", "300", "--json"],
                       cwd=REPO, env={**os.environ, **env}, check=True, capture_output=True, text=True, timeout=600)
        import_s = time.perf_counter() - began
        print(f"  imported in {import_s:.1f} s", flush=True)
        time.sleep(1.0)  # the last checkpoint is stored (~100 ms)

        # one in ten sends to an opted-out number, the others to numbers never opted out
        recipients = [opted[i * 7919 % len(opted)] if i % 10 == 0 else others[i % len(others)]
                      for i in range(10 * len(others))]
        recorder = Recorder(topo.roles)
        collector = LiveCollector(bootstrap, [topo.provider, topo.suppressed], recorder).start()
        stream = Stream(paced_producer(bootstrap), topo.input, args.rate, recipients, set(opted))
        exports: list[Export] = []
        offs = [f"O{r}" for r in range(1, args.rounds + 2)]
        ons = [f"E{r}" for r in range(1, args.rounds + 1)]
        try:
            print(f"sending {args.rate:,} msg/s: warm-up {args.warmup:.0f} s, then {args.rounds} rounds of "
                  f"{args.window:.0f} s without the export and one whole export, and {args.window:.0f} s without",
                  flush=True)
            stream.window("W", lambda n, s: s >= args.warmup)
            for r in range(args.rounds + 1):
                stream.window(offs[r], lambda n, s: s >= args.window)
                if r == args.rounds:
                    break
                export = Export(worker.port)
                export.start()
                stream.window(ons[r], lambda n, s, e=export: not e.is_alive())
                export.join()
                if export.error is not None or export.rows != len(opted):
                    raise verify.VerificationError(f"export {r + 1}: {export.error!r}, {export.rows:,} rows, "
                                                   f"not {len(opted):,}")
                exports.append(export)
                print(f"  round {r + 1}: export of {export.rows:,} rows in {export.seconds:.1f} s", flush=True)
            last = offs[-1]
            deadline = time.monotonic() + 30
            while sum(1 for e in recorder.get(last) if e[0] != verify.COMPLIANCE) < stream.windows[last][2]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            collector.stop()
        lat = {p: latencies(recorder, stream, p) for p in offs + ons}
        windows = {p: summary(lat[p], stream.windows[p][2], stream.windows[p][1] - stream.windows[p][0])
                   for p in offs + ons}
        pooled = {kind: summary([x for p in names for x in lat[p]], sum(windows[p]["sends"] for p in names),
                                sum(windows[p]["seconds"] for p in names))
                  for kind, names in (("off", offs), ("on", ons))}
        print("the export again, with no sends ...", flush=True)
        alone = Export(worker.port)
        alone.start()
        alone.join()
        if alone.error is not None or alone.rows != len(opted):
            raise RuntimeError(f"the export with no sends failed: {alone.error!r}, {alone.rows} rows")
        print("the event loop's lag in-process, idle and while exporting ...", flush=True)
        lag = loop_lag(args.optouts, args.share, work)
        return report(args, import_s, exports, alone, windows, pooled, load_before, lag)
    finally:
        worker.stop()
        stop_all()
        admin.delete_created()


def report(args: argparse.Namespace, import_s: float, exports: list[Export], alone: Export, windows: dict,
           pooled: dict, load_before: float, lag: dict) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]

    def row(label: str, f: dict) -> str:
        return (f"| {label} | {f['sends']:,} in {f['seconds']:.1f} s ({f['offered']:,.0f}/s) | {f['p50']:.1f} | "
                f"{f['p90']:.1f} | **{f['p99']:.1f}** | {f['max']:.1f} |")

    rows, ratios = [], []
    for r in range(args.rounds + 1):
        rows.append(row(f"{r + 1}. without the export", windows[f"O{r + 1}"]) + " |")
        if r < args.rounds:
            around = (windows[f"O{r + 1}"]["p99"] + windows[f"O{r + 2}"]["p99"]) / 2
            ratios.append(windows[f"E{r + 1}"]["p99"] / around)
            rows.append(row(f"{r + 1}. while `GET /optouts.csv` runs ({exports[r].seconds:.1f} s)",
                            windows[f"E{r + 1}"]) + f" {ratios[-1]:.2f} |")
    ratio = sorted(ratios)[len(ratios) // 2]
    times = sorted(e.seconds for e in exports)
    median = times[len(times) // 2]
    per_window = "\n".join(rows)
    text = f"""# Send latency while exporting {args.optouts:,} opted-out numbers

`python -m bench.export_latency` ({stamp}; {platform.python_implementation()} {platform.python_version()},
{os.cpu_count()} cores shared with other work: load average {load_before:.1f} at the start, {load:.1f} at the end).

One worker (`python -m app worker`, {args.guarantee.replace('_', '-')}, 8 partitions, its real settings; the listing's
share of the event loop `OPTOUT_LISTING_MAX_SHARE` = {args.share}) on a local Kafka broker;
{args.optouts:,} numbers opted out by `python -m app import-optouts` ({import_s:.1f} s). A steady stream of send
requests at {args.rate:,} msg/s (one in ten to an opted-out number); latency = send request produced → its
decision (`provider` or `suppressed`) read back by a collector in the bench's process. Windows without the
export ({args.window:.0f} s each) alternate with windows that each last one whole export of the
{args.optouts:,} entries, {args.rounds} times, so that the machine's other load falls on both alike. Every
decision was checked (each send once, on the right topic), and every export held every opted-out number.

| all windows | sends | p50 ms | p90 ms | p99 ms | max ms |
|---|---|---|---|---|---|
{row("**without the export**", pooled["off"])}
{row("**while `GET /optouts.csv` runs**", pooled["on"])}

| export of {args.optouts:,} entries (`GET /optouts.csv`, viewer token, masked, read to the end) | |
|---|---|
| while sends run | **{median:.1f} s** median of {len(times)} ({", ".join(f"{t:.1f}" for t in times)} s; {args.optouts / median:,.0f} rows/s; {exports[0].bytes / 1e6:.1f} MB; first byte after {(exports[0].first_byte_at - exports[0].started_at) * 1000:.0f} ms) |
| with no sends | {alone.seconds:.1f} s ({alone.rows / alone.seconds:,.0f} rows/s) |

Send p99 of each export window against the mean p99 of the two windows around it: median
**{ratio:.2f}x** over the {len(ratios)} rounds (a shared machine's other load shifts whole windows; this
compares each export with its neighbours):

| window, in order | sends | p50 ms | p90 ms | p99 ms | max ms | p99 / around |
|---|---|---|---|---|---|---|
{per_window}

The worker's event loop itself, in-process (the same application over a `Host` whose 8 RocksDB stores
hold {args.optouts:,} opted-out numbers, no broker: a task sleeping 1 ms over and over, and how late
it wakes; what any step of the engine would wait):

| event loop lag | p50 ms | p99 ms | max ms |
|---|---|---|---|
| idle ({len(lag["idle"]):,} wake-ups) | {percentile(lag["idle"], 0.5):.2f} | {percentile(lag["idle"], 0.99):.2f} | {lag["idle"][-1]:.2f} |
| while `GET /optouts.csv` reads all {args.optouts:,} ({lag["seconds"]:.1f} s, {len(lag["during"]):,} wake-ups) | \
{percentile(lag["during"], 0.5):.2f} | {percentile(lag["during"], 0.99):.2f} | {lag["during"][-1]:.2f} |

How the export stays off the hot path: the worker reads its RocksDB stores {CHUNK_KEYS} keys at a
time (an iterator per read, `fill_cache` off), writes each chunk's rows as they are read, and
rests after each read and each write so that the export takes at most {args.share:.0%} of the
event loop's time, and longer when a rest ends late (the loop had other work, or the machine is
short of CPU): the engine loop in the same process decides the waiting sends between any two reads.
"""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text


def share_default() -> float:
    from app.settings import Settings

    return Settings.model_fields["listing_max_share"].default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optouts", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=5_000, help="numbers never opted out that sends go to")
    parser.add_argument("--rate", type=int, default=500, help="send requests per second")
    parser.add_argument("--window", type=float, default=15.0, help="seconds of each window without the export")
    parser.add_argument("--rounds", type=int, default=3, help="whole exports, each between two windows without")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--kafka-port", type=int, default=29792)
    parser.add_argument("--guarantee", choices=("at_least_once", "exactly_once"), default="at_least_once",
                        help="the worker's processing guarantee (at-least-once: the lower latency, so the more "
                             "sensitive to a stall)")
    parser.add_argument("--share", type=float, default=None,
                        help="OPTOUT_LISTING_MAX_SHARE for the worker (default: the worker's default)")
    args = parser.parse_args()
    args.share = share_default() if args.share is None else args.share
    bootstrap, started = broker(args.kafka_port)
    work = Path(tempfile.mkdtemp(prefix="export-bench-"))
    try:
        print(run(args, bootstrap, work))
    except BaseException:
        print(f"(worker log kept in {work})", file=sys.stderr)
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        if started:
            stop_broker(args.kafka_port)


if __name__ == "__main__":
    main()
