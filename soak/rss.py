"""The worker's resident memory over time, and its slope (least squares)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

KIB_PER_MIB = 1024.0


def read_status(pid: int) -> dict[str, int]:
    """The ``Vm*`` / ``Rss*`` lines of ``/proc/<pid>/status``, in KiB ({} once the process is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name.startswith(("Vm", "Rss")):
                    value = rest.split()
                    if value and value[0].isdigit():
                        out[name] = int(value[0])
    except OSError:
        return {}
    return out


def read_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of the process (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slope_per_min(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(t_s, value)`` points, per minute; None with fewer than 2
    distinct times."""
    n = len(points)
    if n < 2:
        return None
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 60.0


def after(samples: Sequence[dict[str, Any]], warmup_s: float, end_s: float | None = None,
          key: str = "rss_mib") -> list[tuple[float, float]]:
    """``(t_s, samples[key])`` of the samples taken at or after ``warmup_s`` (and up to ``end_s``)."""
    return [(s["t_s"], s[key]) for s in samples
            if s.get(key) is not None and s["t_s"] >= warmup_s and (end_s is None or s["t_s"] <= end_s)]


def summarize(samples: Sequence[dict[str, Any]], warmup_s: float, end_s: float | None,
              target: float) -> dict[str, Any]:
    """Slope after the warm-up (MiB/min), RSS at the start, after the warm-up and at the end."""
    window = after(samples, warmup_s, end_s)
    load = [s for s in samples if s.get("rss_mib") is not None and (end_s is None or s["t_s"] <= end_s)]
    slope = slope_per_min(window)
    halves: dict[str, float | None] = {}
    if len(window) >= 4:
        mid = len(window) // 2
        halves = {"first_half": slope_per_min(window[:mid]), "second_half": slope_per_min(window[mid:])}
    return {
        "slope_mib_per_min": None if slope is None else round(slope, 4),
        "slope_halves_mib_per_min": {k: None if v is None else round(v, 4) for k, v in halves.items()},
        "target_mib_per_min": target,
        "slope_samples": len(window),
        "rss_start_mib": load[0]["rss_mib"] if load else None,
        "rss_after_warmup_mib": window[0][1] if window else None,
        "rss_end_mib": load[-1]["rss_mib"] if load else None,
        "rss_max_mib": max(s["rss_mib"] for s in load) if load else None,
        "ok": slope is not None and slope <= target,
    }


@dataclass
class RssSampler:
    """Samples a process's memory every ``interval_s``; ``t_s`` is from ``t0`` (monotonic)."""

    pid: int
    interval_s: float
    t0: float = field(default_factory=time.monotonic)
    samples: list[dict[str, Any]] = field(default_factory=list)
    on_sample: Callable[[dict[str, Any]], None] | None = None

    def sample(self) -> dict[str, Any] | None:
        status = read_status(self.pid)
        if "VmRSS" not in status:
            return None
        item = {
            "t_s": round(time.monotonic() - self.t0, 2),
            "rss_mib": round(status["VmRSS"] / KIB_PER_MIB, 2),
            "rss_anon_mib": round(status.get("RssAnon", 0) / KIB_PER_MIB, 2),
            "rss_file_mib": round(status.get("RssFile", 0) / KIB_PER_MIB, 2),
            "hwm_mib": round(status.get("VmHWM", 0) / KIB_PER_MIB, 2),
            "cpu_s": read_cpu_s(self.pid),
        }
        self.samples.append(item)
        if self.on_sample is not None:
            self.on_sample(item)
        return item

    async def run(self) -> None:
        """Sample on a fixed grid (t0, t0 + interval, ...) until cancelled."""
        n = 0
        while True:
            self.sample()
            n += 1
            await asyncio.sleep(max(0.0, self.t0 + n * self.interval_s - time.monotonic()))
