"""Every knob of the bench, read from the environment (see bench/README.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw.replace("_", "")) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def parse_scale(raw: str | None, quick: bool) -> tuple[int, ...]:
    """``BENCH_SCALE``: the worker counts of the scale-out figure, ascending. Unset: 1,2,3
    (quick mode: none); empty or "0": none."""
    if raw is None:
        return () if quick else (1, 2, 3)
    if raw.strip() in ("", "0"):
        return ()
    counts: set[int] = set()
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            n = int(part)
        except ValueError:
            raise SystemExit(f"bench: BENCH_SCALE={raw!r}: expected worker counts such as 1,2,3") from None
        if n < 1:
            raise SystemExit(f"bench: BENCH_SCALE={raw!r}: worker counts must be >= 1")
        counts.add(n)
    return tuple(sorted(counts))


@dataclass(frozen=True)
class Config:
    quick: bool
    sends: int  # send requests per throughput run
    numbers: int  # distinct recipients
    optouts: int  # of which opted out
    runs: int  # throughput runs per system (median reported)
    input_partitions: int
    loads: tuple[int, ...]  # offered loads for the latency figure, msg/s
    load_seconds: float  # produce time per load
    drain_seconds: float  # after a load: how long the outputs may lag before "cannot keep up"
    recovery_records: int  # opt-outs written to the changelog for the recovery figure
    propagation_rounds: int
    budget_s: float  # the whole bench should end within this many seconds
    kafka_port: int
    bootstrap: str | None  # KAFKA_BOOTSTRAP_SERVERS: use that broker, start none
    systems: tuple[str, ...]
    keep_topics: bool
    floor: bool  # measure the harness's own latency floor (no system in between)
    random_keys: bool = False  # sends keyed by message id, not by number (BENCH_RANDOM_KEYS)
    scale: tuple[int, ...] = ()  # worker counts of the project's scale-out figure (bench/scaleout.py)
    seed: int = 20260101
    work_dir: Path = field(default=BENCH_DIR / ".work")
    cache_dir: Path = field(default=BENCH_DIR / ".cache")
    results_dir: Path = field(default=BENCH_DIR / "results")

    @classmethod
    def from_env(cls) -> Config:
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false", "no")
        loads = os.environ.get("BENCH_LOADS", "").strip()
        systems = os.environ.get("BENCH_SYSTEMS", "").strip()
        return cls(
            quick=quick,
            sends=_int("BENCH_SENDS", 20_000 if quick else 200_000),
            numbers=_int("BENCH_NUMBERS", 10_000 if quick else 100_000),
            optouts=_int("BENCH_OPTOUTS", 1_000 if quick else 10_000),
            runs=_int("BENCH_RUNS", 1 if quick else 3),
            input_partitions=_int("BENCH_INPUT_PARTITIONS", 4),
            loads=tuple(int(x) for x in loads.split(",")) if loads else (1_000, 5_000, 20_000),
            load_seconds=_float("BENCH_LOAD_SECONDS", 2.0 if quick else 5.0),
            drain_seconds=_float("BENCH_DRAIN_SECONDS", 3.0),
            recovery_records=_int("BENCH_RECOVERY_RECORDS", 50_000 if quick else 1_000_000),
            propagation_rounds=_int("BENCH_PROPAGATION_ROUNDS", 10 if quick else 30),
            budget_s=_float("BENCH_BUDGET_S", 780.0),
            kafka_port=_int("BENCH_KAFKA_PORT", 29092),  # below the ephemeral port range (32768+)
            bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            systems=tuple(s.strip() for s in systems.split(",") if s.strip())
            or ("passthrough", "aiokafka_loop", "quixstreams", "kstreams", "kstreams_eos", "project", "project_eos",
                "project_in_place_eos"),
            keep_topics=os.environ.get("BENCH_KEEP_TOPICS", "") not in ("", "0"),
            floor=os.environ.get("BENCH_FLOOR", "1") not in ("", "0"),
            scale=parse_scale(os.environ.get("BENCH_SCALE"), quick),
            random_keys=os.environ.get("BENCH_RANDOM_KEYS", "") not in ("", "0", "false", "no"),
            # quick runs do not overwrite the committed bench/results/latest.*
            results_dir=Path(os.environ.get("BENCH_RESULTS_DIR")
                             or (BENCH_DIR / ".work" / "results" if quick else BENCH_DIR / "results")),
        )

    def check(self) -> None:
        if not 0 < self.optouts < self.numbers:
            raise SystemExit("bench: need 0 < BENCH_OPTOUTS < BENCH_NUMBERS")
        if self.sends < self.numbers:
            raise SystemExit("bench: need BENCH_SENDS >= BENCH_NUMBERS (every number is sent to)")
        if self.runs < 1:
            raise SystemExit("bench: BENCH_RUNS must be >= 1")
