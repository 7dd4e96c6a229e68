"""Send latency while `GET /optouts.csv` exports 100,000 opted-out numbers: ``python -m bench.export_latency``.

One run, one worker (`python -m app worker`, its real settings) on a real local broker
(``scripts/kafka.sh`` on its own port, 29792, unless ``KAFKA_BOOTSTRAP_SERVERS`` is set):

1. 100,000 numbers are opted out through the import CLI (``python -m app import-optouts``,
   operator opt-outs through the routed topic, applied by the worker like any other);
2. a paced producer (librdkafka, linger 1 ms) offers a steady stream of send requests
   (one in ten to an opted-out number), each stamped with ``sent_at_ns``; a collector in
   the same process reads ``provider`` and ``suppressed`` from their end; latency =
   arrival of the decision at the collector - ``sent_at_ns`` (as ``make bench`` measures it);
3. the stream runs a warm-up, then a window **without** the export, then a window
   **while** ``GET /optouts.csv`` streams all 100,000 entries from the same worker (the
   window is the export's duration), then a window **after** it;
4. every decision is checked (each send once, on the right topic), and the export's rows
   are counted (it must hold every opted-out number);
5. the export is timed once more with no send traffic.

Prints the figures and writes them to ``bench/results/export.md``. Options: ``--optouts``,
``--rate``, ``--window``, ``--kafka-port``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

from app.listing import CHUNK_KEYS
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
    """``GET /optouts.csv`` read to its end, as a client would: rows, bytes, times."""

    def __init__(self, port: int) -> None:
        super().__init__(name="export", daemon=True)
        self.port = port
        self.started_at = self.first_byte_at = self.ended_at = 0.0
        self.rows = self.bytes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/optouts.csv",
                                         headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
        self.started_at = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=600) as resp:
                lines = 0
                while chunk := resp.read1(65536):
                    if not self.first_byte_at:
                        self.first_byte_at = time.perf_counter()
                    lines += chunk.count(b"\r\n")
                    self.bytes += len(chunk)
            self.rows = lines - 1  # the header
        except BaseException as exc:  # reported by the caller
            self.error = exc
        self.ended_at = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at


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


def figures(recorder: Recorder, stream: Stream, prefix: str) -> dict:
    entries = [e for e in recorder.get(prefix) if e[0] != verify.COMPLIANCE]
    expected = {m: k for m, k in stream.expected.items() if m.startswith(prefix + "-")}
    verify.check(f"window {prefix}", [(k, m) for k, m, _, _ in entries], expected, complete=True)
    lat = sorted((recv - sent) / 1e6 for _, _, sent, recv in entries if sent)
    start, end, n = stream.windows[prefix]
    return {"sends": n, "seconds": end - start, "offered": n / (end - start), "p50": percentile(lat, 0.5),
            "p90": percentile(lat, 0.9), "p99": percentile(lat, 0.99), "max": lat[-1] if lat else float("nan"),
            "suppressed": sum(1 for v in expected.values() if v == SUPPRESSED)}


# ---------------------------------------------------------------- run


def run(args: argparse.Namespace, bootstrap: str, work: Path) -> str:
    system = ProjectExactlyOnce() if args.guarantee == "exactly_once" else ProjectSystem()
    topo = system.topology("export")
    env = system.env(topo, bootstrap, Inputs())  # type: ignore[arg-type]
    if args.share is not None:
        env["OPTOUT_LISTING_MAX_SHARE"] = str(args.share)
    admin = Admin(bootstrap)
    admin.track(system.all_topics(topo, env))
    system.create_topics(env)
    worker = system.start(env, work / "data", free_port(), work / "worker.log")
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
        try:
            print(f"sending {args.rate:,} msg/s: warm-up {args.warmup:.0f} s, then {args.window:.0f} s without "
                  "the export ...", flush=True)
            stream.window("W", lambda n, s: s >= args.warmup)
            stream.window("B", lambda n, s: s >= args.window)
            export = Export(worker.port)
            print("... then while GET /optouts.csv runs ...", flush=True)
            export.start()
            stream.window("E", lambda n, s: not export.is_alive())
            export.join()
            if export.error is not None:
                raise RuntimeError(f"the export failed: {export.error!r}")
            print(f"... then {args.window:.0f} s after it", flush=True)
            stream.window("A", lambda n, s: s >= args.window)
            deadline = time.monotonic() + 30
            while sum(1 for e in recorder.get("A") if e[0] != verify.COMPLIANCE) < stream.windows["A"][2]:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            collector.stop()
        results = {p: figures(recorder, stream, p) for p in ("B", "E", "A")}
        if export.rows != len(opted):
            raise verify.VerificationError(f"the export held {export.rows:,} rows, not {len(opted):,}")
        print("the export again, with no sends ...", flush=True)
        alone = Export(worker.port)
        alone.start()
        alone.join()
        if alone.error is not None or alone.rows != len(opted):
            raise RuntimeError(f"the second export failed: {alone.error!r}, {alone.rows} rows")
        return report(args, import_s, export, alone, results)
    finally:
        worker.stop()
        stop_all()
        admin.delete_created()


def report(args: argparse.Namespace, import_s: float, export: Export, alone: Export, r: dict) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]

    def row(label: str, f: dict) -> str:
        return (f"| {label} | {f['sends']:,} in {f['seconds']:.1f} s ({f['offered']:,.0f}/s) | {f['p50']:.1f} | "
                f"{f['p90']:.1f} | **{f['p99']:.1f}** | {f['max']:.1f} |")

    text = f"""# Send latency while exporting {args.optouts:,} opted-out numbers

`python -m bench.export_latency` ({stamp}; {platform.python_implementation()} {platform.python_version()},
{os.cpu_count()} cores shared with other work, load average {load:.1f} at the end).

One worker (`python -m app worker`, {args.guarantee.replace('_', '-')}, 8 partitions, its real settings; the listing's
share of the event loop `OPTOUT_LISTING_MAX_SHARE` = {args.share}) on a local
Kafka broker; {args.optouts:,} numbers opted out by `python -m app import-optouts` ({import_s:.1f} s).
A steady stream of send requests at {args.rate:,} msg/s (one in ten to an opted-out number);
latency = send request produced → its decision (`provider` or `suppressed`) read back by a
collector in the bench's process. Every decision was checked (each send once, on the right topic).

| window | sends | p50 ms | p90 ms | p99 ms | max ms |
|---|---|---|---|---|---|
{row("without the export", r["B"])}
{row("**while `GET /optouts.csv` runs**", r["E"])}
{row("after it", r["A"])}

| export of {args.optouts:,} entries (`GET /optouts.csv`, viewer token, masked, to the end) | |
|---|---|
| while sends run | **{export.seconds:.1f} s** ({export.rows / export.seconds:,.0f} rows/s, first byte after {(export.first_byte_at - export.started_at) * 1000:.0f} ms, {export.bytes / 1e6:.1f} MB) |
| with no sends | {alone.seconds:.1f} s ({alone.rows / alone.seconds:,.0f} rows/s) |
| rows | {export.rows:,} (every opted-out number, checked) |

How the export stays off the hot path: the worker reads its RocksDB stores {CHUNK_KEYS} keys at a
time (an iterator per read, `fill_cache` off), writes each chunk's rows as they are read, and
rests after each read and each write so that the export takes at most {args.share:.0%} of the
event loop's time: the engine loop in the same process decides the waiting sends between any
two reads.
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
    parser.add_argument("--window", type=float, default=20.0, help="seconds without (and after) the export")
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
