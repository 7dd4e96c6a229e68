"""Timeline latency at 1,000,000 numbers: ``python -m bench.timeline_latency``.

Fills one worker's RocksDB stores (:class:`app.runtime.rocks.RocksStores`, the worker's
own options, 8 partitions) with 1,000,000 numbers' consent state, timeline
(``|history``, one to four events) and suppressed-send counter keys, written in bulk
write batches (no broker), then serves the real aiohttp application
(:func:`app.runtime.web.server.make_application` over a real :class:`app.runtime.host.Host`
whose partitions are those stores, opened as the engine opens them) on a local port and
times ``GET /optouts/{number}/history`` over HTTP: random numbers, one in four with
``as_of``, one request at a time on a kept-alive connection (the client runs in the same
process and event loop: its time is in the figures). The audit record is published by a
fake that returns at once (no broker here): a real one waits for the broker's
acknowledgement (~1-3 ms on the local broker).

Writes the figures to ``bench/results/timeline.md``. Options: ``--numbers``,
``--requests``, ``--keep`` (keep the data dir), ``--data-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import orjson
from rocksdict import WriteBatch

from app.engine.state import PartitionState
from app.runtime.host import Host
from app.runtime.web.server import HttpServer, make_application
from app.settings import Settings
from app.stream import keys
from app.stream.partitioner import partition_for

AREAS = ("212", "312", "415", "617", "646", "718", "773", "917")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ACCOUNT = "acme"
TOKEN = "bench-viewer-token"
RESULTS = Path(__file__).parent / "results" / "timeline.md"


def number(i: int) -> str:
    return f"+1{AREAS[i % len(AREAS)]}{2_000_000 + i // len(AREAS):07d}"


def event(i: int, k: int, partition: int) -> dict:
    when = T0 + timedelta(minutes=i % 50_000, seconds=k * 3600)
    out = k % 2 == 0
    return {"event_time": when.isoformat(), "processed_at": (when + timedelta(milliseconds=40)).isoformat(),
            "intent": "opt_out" if out else "opt_in", "source": "keyword", "rule": "keyword",
            "matched": "stop" if out else "start", "body": "STOP" if out else "START", "to": "+18005550000",
            "verdict": "applied", "previous_state": None if k == 0 else ("subscribed" if out else "opted_out"),
            "new_state": "opted_out" if out else "subscribed", "message_id": f"r{i}-{k}",
            "confirmation_message_id": f"r{i}-{k}:{'opt-out' if out else 'opt-in'}", "keywords_id": "kw-0123456789abcdef",
            "consent": {"partition": partition, "offset": i * 4 + k}}


def values(i: int, partition: int) -> list[tuple[bytes, bytes]]:
    n = number(i)
    events = [event(i, k, partition) for k in range(1 + i % 4)]
    last = events[-1]
    state = {"opted_out": last["intent"] == "opt_out", "changed_at": last["event_time"],
             "message_id": last["message_id"], "source": "keyword", "rule": "keyword", "matched": last["matched"],
             "last_event_at": last["event_time"], "last_message_id": last["message_id"],
             "recent_ids": [f"{e['message_id']}#{'out' if e['intent'] == 'opt_out' else 'in'}:0" for e in events],
             "resubscribed_at": None}
    pairs = [(f"{n}|{ACCOUNT}".encode(), orjson.dumps(state)),
             (keys.history_key(n, ACCOUNT), orjson.dumps({"events": events}))]
    if state["opted_out"]:
        pairs.append((keys.suppressed_key(n, ACCOUNT), orjson.dumps({"count": i % 7, "since": last["event_time"],
                                                                         "opt_out": last["message_id"]})))
    return pairs


def fill(host: Host, numbers: int) -> tuple[float, int]:
    """Bulk-write every partition's keys; returns (seconds, bytes written)."""
    started = time.perf_counter()
    partitions = host.settings.partitions
    batches = [WriteBatch(raw_mode=True) for _ in range(partitions)]
    counts = [0] * partitions
    written = 0
    stores = [host.stores.open(p) for p in range(partitions)]
    for i in range(numbers):
        p = partition_for(number(i), partitions)
        for key, value in values(i, p):
            batches[p].put(key, value)
            written += len(key) + len(value)
        counts[p] += 1
        if counts[p] % 20_000 == 0:
            stores[p].db.write(batches[p])
            batches[p] = WriteBatch(raw_mode=True)
        if i and i % 100_000 == 0:
            print(f"  {i:,} numbers written ({time.perf_counter() - started:.0f} s)", flush=True)
    for p in range(partitions):
        stores[p].db.write(batches[p])
        stores[p].db.flush()
    print(f"  compacting ({time.perf_counter() - started:.0f} s)", flush=True)
    for p in range(partitions):  # settled, as a worker's table is: no compaction running while timed
        stores[p].db.compact_range(None, None)
    return time.perf_counter() - started, written


def percentile(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(round(q * (len(sorted_ms) - 1))))]


async def measure(host: Host, numbers: int, requests: int) -> dict:
    s = host.settings

    async def publish(output) -> None:  # noqa: ANN001 - the audit record: a fake that returns at once
        return None

    host.publish = publish  # type: ignore[method-assign]
    host.started, host.rebalancing, host.assigned_once = True, False, True
    for p in range(s.partitions):
        host.processor.open_partition(PartitionState(p, host.stores.open(p)))
        host.ownership.owners[p] = s.web_url
    server = HttpServer(make_application(host), "127.0.0.1", s.web_port)
    await server.start()
    load_before = os.getloadavg()[0]
    rng = random.Random(20260105)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    latencies: list[float] = []
    events = 0
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as session:
            for k in range(requests + 200):
                i = rng.randrange(numbers)
                params = {"account": ACCOUNT}
                if k % 4 == 0:
                    params["as_of"] = (T0 + timedelta(minutes=rng.randrange(60_000))).isoformat()
                begun = time.perf_counter()
                async with session.get(f"/optouts/{number(i).replace('+', '%2B')}/history", params=params,
                                       headers=headers) as resp:
                    body = await resp.read()
                elapsed = (time.perf_counter() - begun) * 1000
                assert resp.status == 200, (resp.status, body[:200])
                if k == 199:
                    cpu_started = time.process_time()
                if k >= 200:  # the first 200 warm the connection and the code paths
                    latencies.append(elapsed)
                    events += len(orjson.loads(body)["events"])
        cpu_ms = (time.process_time() - cpu_started) * 1000 / requests
    finally:
        await server.stop()
    latencies.sort()
    return {"requests": len(latencies), "p50": percentile(latencies, 0.50), "p90": percentile(latencies, 0.90),
            "p99": percentile(latencies, 0.99), "max": latencies[-1], "mean": statistics.fmean(latencies),
            "events": events, "load": (load_before, os.getloadavg()[0]), "cpu_ms": cpu_ms}


def write_results(numbers: int, fill_s: float, written: int, disk: int, figures: dict) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Timeline latency: `GET /optouts/{{number}}/history` at {numbers:,} numbers

`python -m bench.timeline_latency` ({stamp}, {platform.python_implementation()} {platform.python_version()},
{os.cpu_count()} cores shared with other work: load average {figures['load'][0]:.1f} before the timed requests,
{figures['load'][1]:.1f} after).

| figure | value |
|---|---|
| numbers in the table (8 partitions, one worker's RocksDB stores) | {numbers:,} |
| keys | state + timeline for each, + suppressed counter for the opted-out ones |
| bulk fill (write batches, no broker, then a full compaction) | {fill_s:.0f} s, {written / 1e6:,.0f} MB of keys and values, {disk / 1e6:,.0f} MB on disk |
| requests timed (one at a time, kept-alive HTTP, random numbers, 1 in 4 with `as_of`) | {figures['requests']:,} |
| events returned in all | {figures['events']:,} |
| **p50** | **{figures['p50']:.2f} ms** |
| p90 | {figures['p90']:.2f} ms |
| **p99** | **{figures['p99']:.2f} ms** (target ≤ 50 ms) |
| max | {figures['max']:.2f} ms |
| mean | {figures['mean']:.2f} ms |
| CPU time per request (server and client, this process) | {figures['cpu_ms']:.2f} ms |

How: the real aiohttp application (`make_application`) over a real `Host` whose partitions are
the filled RocksDB stores (the worker's options: shared 8 MiB block cache, lookups not filling
it), the real viewer-token check, number parsing and timeline answer; the client runs in the
same process and event loop, so its own time is in the figures. **The audit record is
published by a fake that returns at once** (no broker in this measurement); on a real
worker each answer also waits for the broker's acknowledgement of its `sms.audit` record
(~1-3 ms on the local broker). The first 200 requests warm up and are not counted. The
machine's other work (its load average is above) lengthens the tail: the CPU time per
request is the figure that does not depend on it.
"""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def disk_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the data dir (and reuse it next time)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="timeline-bench-"))
    settings = Settings(data_dir=data_dir, partitions=8, viewer_token=TOKEN, web_port=free_port(),
                        kafka_bootstrap_servers="127.0.0.1:1")
    host = Host(settings)
    marker = data_dir / f"filled-{args.numbers}"
    try:
        if marker.exists():
            fill_s, written = orjson.loads(marker.read_bytes() or b"[0, 0]")
            print(f"reusing {args.numbers:,} numbers in {data_dir} (filled in {fill_s:.0f} s)")
        else:
            print(f"filling {args.numbers:,} numbers into {data_dir} ...", flush=True)
            fill_s, written = fill(host, args.numbers)
            marker.write_bytes(orjson.dumps([fill_s, written]))
        disk = disk_bytes(host.stores.root)
        print(f"timing {args.requests:,} requests ...", flush=True)
        figures = asyncio.run(measure(host, args.numbers, args.requests))
        print(write_results(args.numbers, fill_s, written, disk, figures))
    finally:
        host.stores.close_all()
        if not args.keep and args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
