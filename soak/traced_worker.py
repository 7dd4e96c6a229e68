# ruff: noqa: SLF001  (a diagnostic tool: it reads the engine's, the runtime's and aiokafka's internals)
"""``python -m soak.traced_worker``: ``python -m app worker`` with a memory log.

tracemalloc starts ``SOAK_TRACE_START_S`` seconds (default 120) after the engine started,
after the warm-up, keeping ``SOAK_TRACE_FRAMES`` frames (default 10; 0: no tracemalloc, the
other figures only, at full speed) per allocation. Only
allocations made after that are traced, so a snapshot holds exactly what was allocated
since and is still alive: in steady state, what grows. (Traced from the first instruction,
``python -X tracemalloc=25``, the worker is so slow at 1,500 records/s that it falls behind
and a snapshot of everything takes minutes, longer than its session timeout.)

Every ``SOAK_TRACE_INTERVAL`` seconds (default 60) one JSON line is appended to
``$SOAK_TRACE_DIR/trace.jsonl`` (default: the worker's data dir) with

- the allocation sites holding the most memory allocated since tracing started (by line,
  and the tracebacks of the top few), and the sites that grew most since the last line;
- gc-tracked objects per type, and how each grew since tracing started;
- glibc's ``mallinfo2`` (bytes in use and free inside malloc's arenas: fragmentation) and
  ``malloc_info`` per arena; with ``SOAK_TRACE_TRIM=1``, RSS after ``malloc_trim(0)``;
- RocksDB's own memory figures per open table partition (memtables, table readers, block
  cache usage and capacity, keys, SST files);
- the sizes of the engine's and the runtime's per-partition maps and of aiokafka's
  internals that could grow with traffic.

The app's code is not changed: ``app.runtime.worker.build_app`` is wrapped to get the
:class:`~app.runtime.host.Host`, and the log is written by a task on the worker's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

ROCKSDB_PROPERTIES = (
    "rocksdb.cur-size-all-mem-tables",
    "rocksdb.size-all-mem-tables",
    "rocksdb.estimate-table-readers-mem",
    "rocksdb.block-cache-usage",
    "rocksdb.block-cache-pinned-usage",
    "rocksdb.block-cache-capacity",
    "rocksdb.estimate-num-keys",
    "rocksdb.num-live-versions",
    "rocksdb.total-sst-files-size",
    "rocksdb.live-sst-files-size",
    "rocksdb.num-files-at-level0",
    "rocksdb.num-files-at-level1",
)
MIB = 1024 * 1024


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo() -> dict[str, float] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return None
    return {"arena_mib": info.arena / MIB, "mmap_mib": info.hblkhd / MIB, "in_use_mib": info.uordblks / MIB,
            "free_mib": info.fordblks / MIB, "releasable_mib": info.keepcost / MIB}


def malloc_heaps() -> list[dict[str, float]] | None:
    """glibc's ``malloc_info``: per arena (heap), the memory it holds from the system and the
    free memory in it (MiB)."""
    import re
    import tempfile

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
        libc.fclose.argtypes = (ctypes.c_void_p,)
        libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
        with tempfile.NamedTemporaryFile(suffix=".xml") as tmp:
            handle = libc.fopen(tmp.name.encode(), b"w")
            libc.malloc_info(0, handle)
            libc.fclose(handle)
            xml = Path(tmp.name).read_text()
    except (OSError, AttributeError):
        return None
    heaps = []
    for heap in re.findall(r'<heap nr="\d+">(.*?)</heap>', xml, re.S):
        system = re.search(r'<system type="current" size="(\d+)"', heap)
        free = sum(int(n) for n in re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"', heap))
        heaps.append({"system_mib": round(int(system.group(1)) / MIB, 2) if system else None,
                      "free_mib": round(free / MIB, 2)})
    return heaps


def malloc_trim() -> float:
    """glibc's ``malloc_trim(0)``: free pages inside the heaps go back to the system. Seconds taken."""
    started = time.monotonic()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return time.monotonic() - started


def pymalloc_stats() -> dict[str, float]:
    """Python's object allocator (``sys._debugmallocstats``): arenas mapped, bytes in blocks in
    use and in free blocks of those arenas."""
    import re
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    out: dict[str, float] = {}
    patterns = {
        "arenas": r"# arenas allocated current\s*=\s*([\d,]+)",
        "allocated_mib": r"# bytes in allocated blocks\s*=\s*([\d,]+)",
        "available_mib": r"# bytes in available blocks\s*=\s*([\d,]+)",
        "unused_pools_mib": r"unused pools \* \d+ bytes\s*=\s*([\d,]+)",
    }
    for key, pattern in patterns.items():
        m = re.search(pattern, text)
        if m:
            value = int(m.group(1).replace(",", ""))
            out[key] = value if key == "arenas" else round(value / MIB, 3)
    return out


def rocksdb_stats(host: Any) -> dict[str, dict[str, int | None]]:
    out: dict[str, dict[str, int | None]] = {}
    for partition, store in sorted(getattr(host.stores, "open_stores", {}).items()):
        values: dict[str, int | None] = {}
        for name in ROCKSDB_PROPERTIES:
            try:
                values[name.removeprefix("rocksdb.")] = store.db.property_int_value(name)
            except Exception:  # noqa: BLE001 - a property this build does not know
                values[name.removeprefix("rocksdb.")] = None
        out[str(partition)] = values
    return out


def _len(obj: Any) -> int | None:
    try:
        return len(obj)
    except TypeError:
        return None


def structure_sizes(host: Any) -> dict[str, Any]:
    """Sizes of everything in the engine and the runtime that is keyed by partition, message or request."""
    p, loop = host.processor, getattr(host, "loop", None)
    sizes: dict[str, Any] = {
        "processor.positions": len(p.positions),
        "processor.held": sum(len(h) for h in p.held.values()),
        "processor._open_stamp": len(p._open_stamp),
        "processor._held_origins": sum(len(v) for v in p._held_origins.values()),
        "state._pending": {str(k): len(s._pending) for k, s in p.states.items()},
        "gate._snapshots": len(p.gate._snapshots),
        "gate._covered": sum(len(v) for v in p.gate._covered.values()),
        "stats.counts": len(host.stats.counts),
    }
    if loop is not None:
        sizes.update({
            "loop.recovery_problems": len(loop.recovery_problems), "loop._moved_ms": len(loop._moved_ms),
            "loop._last_pos": len(loop._last_pos), "loop._seeks": len(loop._seeks),
            "loop.recovering": len(loop.recovering),
            "checkpoint._deliveries": len(loop.checkpoint._deliveries),
            "checkpoint._committed": len(loop.checkpoint._committed),
        })
        outputs = host.outputs
        producers = [("shared", outputs.producer)] + [(f"{t.topic}:{t.partition}", pr)
                                                     for t, pr in getattr(outputs, "tasks", {}).items()]
        sizes["outputs.tasks"] = len(getattr(outputs, "tasks", {}))
        agg: Counter[str] = Counter()
        for _, producer in producers:
            with contextlib.suppress(Exception):
                acc = producer._message_accumulator
                agg["accumulator.batches"] += sum(len(q) for q in acc._batches.values())
                agg["accumulator._pending_batches"] += len(acc._pending_batches)
            with contextlib.suppress(Exception):
                sender = producer._sender
                agg["sender._coordinators"] += len(sender._coordinators)
            with contextlib.suppress(Exception):
                txn = producer._txn_manager
                if txn is not None:
                    agg["txn._sequence_numbers"] += len(txn._sequence_numbers)
                    agg["txn._txn_partitions"] += len(txn._txn_partitions)
                    agg["txn._pending_txn_offsets"] += len(txn._pending_txn_offsets)
            with contextlib.suppress(Exception):
                client = producer.client
                agg["client._conns"] += len(client._conns)
        sizes.update(agg)
        with contextlib.suppress(Exception):
            consumer = host.source.consumer
            fetcher = consumer._fetcher
            sizes["consumer.fetcher._records"] = len(fetcher._records)
            sizes["consumer.fetcher._fetch_tasks"] = len(fetcher._fetch_tasks)
            sizes["consumer.client._conns"] = len(consumer._client._conns)
    sizes["asyncio.tasks"] = len(asyncio.all_tasks())
    return sizes


def smaps() -> dict[str, float]:
    """The process's resident memory by kind of mapping (``/proc/self/smaps``), in MiB:
    malloc's main heap, other anonymous mappings by size (glibc's other arenas are 64 MiB
    reservations, pymalloc's arenas 1 MiB, thread stacks 8 MiB + a guard page), thread
    stacks, and file-backed pages (shared libraries' code and data). The sizes tell kinds
    apart only roughly: the kernel merges adjacent anonymous mappings, so most of pymalloc's
    arenas count as "anon other" (compare ``pymalloc.arenas``)."""
    kinds: Counter[str] = Counter()
    kind = ""
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                size_kib = (end - start) // 1024
                name = head[5].strip() if len(head) > 5 else ""
                if name == "[heap]":
                    kind = "heap"
                elif name.startswith("["):
                    kind = name.strip("[]")
                elif name:
                    kind = "file:" + ("python" if "python" in name else name.rsplit("/", 1)[-1].split(".so")[0])
                elif size_kib in (1024, 256):
                    kind = f"anon {size_kib} KiB (pymalloc arenas)"
                elif size_kib >= 60 * 1024:
                    kind = "anon >=60 MiB (malloc arenas)"
                elif size_kib in (8192, 8196):
                    kind = "anon 8 MiB (thread stacks)"
                else:
                    kind = "anon other"
            elif head[0] == "Rss:":
                kinds[kind] += int(head[1])
    out = {k: round(v / 1024, 3) for k, v in kinds.most_common() if v >= 256}
    out["total"] = round(sum(kinds.values()) / 1024, 3)
    return out


def _mib(n: int) -> float:
    return round(n / MIB, 3)


def top_lines(stats: list[Any], n: int) -> list[dict[str, Any]]:
    out = []
    for stat in stats[:n]:
        frame = stat.traceback[0]
        item = {"where": f"{frame.filename}:{frame.lineno}", "size_mib": _mib(stat.size), "count": stat.count}
        if isinstance(stat, tracemalloc.StatisticDiff):
            item.update(diff_mib=_mib(stat.size_diff), count_diff=stat.count_diff)
        out.append(item)
    return out


def tracebacks(snapshot: tracemalloc.Snapshot, lines: list[Any], per_line: int = 2) -> list[dict[str, Any]]:
    """The tracebacks that hold the most memory at each of ``lines`` (statistics by line)."""
    out = []
    for stat in lines:
        frame = stat.traceback[0]
        sub = snapshot.filter_traces((tracemalloc.Filter(True, frame.filename, frame.lineno),))
        for tb in sub.statistics("traceback")[:per_line]:
            out.append({"size_mib": _mib(tb.size), "count": tb.count,
                        "traceback": [f"{f.filename}:{f.lineno}" for f in tb.traceback]})
    return out


class MemoryLog:
    def __init__(self, host: Any, path: Path, interval_s: float) -> None:
        self.host = host
        self.path = path
        self.interval_s = interval_s
        self.t0 = time.monotonic()
        self.types_at_start: Counter[str] | None = None
        self.previous: tracemalloc.Snapshot | None = None

    @staticmethod
    def _snapshot() -> tracemalloc.Snapshot:
        return tracemalloc.take_snapshot().filter_traces((
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
            tracemalloc.Filter(False, "<unknown>"),
        ))

    def dump(self) -> dict[str, Any]:
        t = time.monotonic() - self.t0
        started = time.monotonic()
        traced, peak = tracemalloc.get_traced_memory() if tracemalloc.is_tracing() else (0, 0)
        entry: dict[str, Any] = {"t_s": round(t, 1), "traced_mib": _mib(traced), "traced_peak_mib": _mib(peak),
                                 "tracemalloc_overhead_mib": _mib(tracemalloc.get_tracemalloc_memory()),
                                 "mallinfo2": mallinfo(), "gc_count": gc.get_count()}
        with contextlib.suppress(Exception):
            entry["pymalloc"] = pymalloc_stats()
        with contextlib.suppress(Exception):
            entry["rocksdb"] = rocksdb_stats(self.host)
        with contextlib.suppress(Exception):  # the worker's shared cache and write buffer budget, where reported
            entry["rocksdb_worker"] = {k: v for k, v in self.host.stores.memory().items() if k != "partitions"}
        with contextlib.suppress(Exception):
            entry["structures"] = structure_sizes(self.host)
        with contextlib.suppress(Exception):
            with open("/proc/self/status") as f:
                entry["rss_mib"] = round(int(next(line for line in f if line.startswith("VmRSS")).split()[1]) / 1024, 2)
        with contextlib.suppress(Exception):
            entry["smaps"] = smaps()
        types = Counter(type(o).__name__ for o in gc.get_objects())
        entry["gc_objects"] = sum(types.values())
        with contextlib.suppress(Exception):
            entry["malloc_heaps"] = malloc_heaps()
        if os.environ.get("SOAK_TRACE_TRIM") == "1":  # how much of the RSS is free memory malloc holds
            took = malloc_trim()
            with open("/proc/self/status") as f:
                after = int(next(line for line in f if line.startswith("VmRSS")).split()[1]) / 1024
            entry["trim"] = {"rss_after_mib": round(after, 2), "took_ms": round(took * 1000, 2)}
        if self.types_at_start is None:
            self.types_at_start = types
        grown = Counter({k: v - self.types_at_start.get(k, 0) for k, v in types.items()})
        entry["gc_types_grown"] = dict(grown.most_common(15))
        if tracemalloc.is_tracing():
            snapshot = self._snapshot()
            by_line = snapshot.statistics("lineno")
            entry["retained"] = top_lines(by_line, 25)
            entry["retained_tracebacks"] = tracebacks(snapshot, by_line[:6])
            if self.previous is not None:
                entry["since_previous"] = top_lines(snapshot.compare_to(self.previous, "lineno"), 10)
            self.previous = snapshot
        entry["dump_s"] = round(time.monotonic() - started, 2)
        with open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return entry

    async def run(self, trace_start_s: float, frames: int) -> None:
        await asyncio.sleep(trace_start_s)
        self.dump()  # before tracing: the object counts to compare with
        if frames > 0 and not tracemalloc.is_tracing():
            tracemalloc.start(frames)
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.dump()
            except Exception as exc:  # noqa: BLE001 - diagnosis must not stop the worker
                print(f"traced_worker: dump failed: {exc!r}", file=sys.stderr, flush=True)


def install() -> None:
    """Wrap the worker's ``build_app`` so that its host gets a :class:`MemoryLog` task once started."""
    import app.runtime.worker as worker_module

    original = worker_module.build_app
    out = Path(os.environ.get("SOAK_TRACE_DIR") or ".")
    interval = float(os.environ.get("SOAK_TRACE_INTERVAL", "60"))
    trace_start = float(os.environ.get("SOAK_TRACE_START_S", "120"))
    frames = int(os.environ.get("SOAK_TRACE_FRAMES", "10"))

    def build_app(settings: Any) -> Any:
        app, host = original(settings)
        start = host.start

        async def start_and_log() -> None:
            await start()
            memory = MemoryLog(host, out / "trace.jsonl", interval)
            host._memory_log_task = asyncio.ensure_future(memory.run(trace_start, frames))

        host.start = start_and_log
        return app, host

    worker_module.build_app = build_app


def main() -> int:
    install()
    from app.__main__ import main as app_main

    return app_main(["worker"])


if __name__ == "__main__":
    sys.exit(main())
