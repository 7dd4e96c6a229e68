"""CPU time and peak resident memory of a process (and its children) from /proc."""

from __future__ import annotations

import bisect
import os
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def _stat_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime (waited-for children) of one process, seconds."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    fields = raw[raw.rindex(b")") + 2:].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    return sum(int(x) for x in fields[11:15]) / TICK


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and all its live descendants (plus reaped children)."""
    total, stack, seen = 0.0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += _stat_seconds(p)
        except (OSError, ValueError):
            continue
        stack += _children(p)
    return total


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of ``pid`` plus that of its live descendants, MiB."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _status_kib(p, "VmHWM")
        stack += _children(p)
    return total / 1024


class CpuSampler:
    """Samples (wall ms, CPU s) every ``interval`` s so the CPU used in any time window
    (e.g. between the first and the last output record) can be interpolated."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def start(self) -> CpuSampler:
        self.sample()
        self._thread.start()
        return self

    def sample(self) -> None:
        cpu = cpu_seconds(self.pid)
        self.walls.append(time.time() * 1000)
        self.cpus.append(cpu)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()

    def at(self, wall_ms: float) -> float:
        """CPU seconds at ``wall_ms`` (linear interpolation between samples)."""
        i = bisect.bisect_left(self.walls, wall_ms)
        if i <= 0:
            return self.cpus[0]
        if i >= len(self.walls):
            return self.cpus[-1]
        w0, w1 = self.walls[i - 1], self.walls[i]
        c0, c1 = self.cpus[i - 1], self.cpus[i]
        return c0 if w1 == w0 else c0 + (c1 - c0) * (wall_ms - w0) / (w1 - w0)

    def between(self, start_ms: float, end_ms: float) -> float:
        return self.at(end_ms) - self.at(start_ms)
