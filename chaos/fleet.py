"""Worker processes of a scenario (the integration harness's ``Worker``): start, SIGKILL,
wipe the state dir, restart; each keeps its ``OPTOUT_GROUP_INSTANCE_ID`` ("w1", "w2", ...)
and data dir across restarts. A worker that exits on its own is restarted by ``supervise``
(as an orchestrator would) and counted."""

from __future__ import annotations

import asyncio
import shutil
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chaos.generator import now_us
from tests.integration.harness import Topology, Worker


class Fleet:
    def __init__(self, topology: Topology, base_dir: Path, count: int, extra_env: dict[str, str],
                 *, start_timeout_s: float = 120.0, started: list[Worker] | None = None,
                 clock_skews_ms: tuple[int, ...] = (0,)) -> None:
        self.topology = topology
        self.start_timeout_s = start_timeout_s
        self.workers: dict[str, Worker] = {}
        for i in range(1, count + 1):
            name = f"w{i}"
            env = {**extra_env, "OPTOUT_GROUP_INSTANCE_ID": name, "OPTOUT_CLUSTER_SECRET": "chaos-fleet-cluster-secret",
                   "OPTOUT_CLOCK_SKEW_MS": str(clock_skews_ms[(i - 1) % len(clock_skews_ms)])}
            self.workers[name] = Worker(topology, base_dir / name, extra_env=env)
        self.wanted: set[str] = set()  # should be running
        self.events: list[dict[str, Any]] = []
        self.restart_s: list[float] = []
        self.unexpected_exits: list[dict[str, Any]] = []
        self.start_failures: list[dict[str, Any]] = []
        self._started = started  # e.g. the integration fixture's list, so it stops them at the end
        self._busy: set[str] = set()  # being started: the supervisor keeps off

    def alive(self, name: str) -> bool:
        proc = self.workers[name].proc
        return proc is not None and proc.poll() is None

    def live(self) -> list[str]:
        return [n for n in self.workers if self.alive(n)]

    async def start(self, name: str, *, attempts: int = 3) -> float | None:
        """Start (or restart) ``name``; seconds until its /health answered 200 (None: never)."""
        worker = self.workers[name]
        self.wanted.add(name)
        if self._started is not None and worker not in self._started:
            self._started.append(worker)
        self._busy.add(name)
        try:
            return await self._start(name, worker, attempts)
        finally:
            self._busy.discard(name)

    async def _start(self, name: str, worker: Worker, attempts: int) -> float | None:
        for attempt in range(1, attempts + 1):
            t0 = time.monotonic()
            try:
                await asyncio.to_thread(worker.start, wait=True, timeout=self.start_timeout_s)
                took = round(time.monotonic() - t0, 2)
                self.events.append({"event": "healthy", "worker": name, "at_us": now_us(), "after_s": took})
                return took
            except (RuntimeError, TimeoutError) as exc:
                self.start_failures.append({"worker": name, "attempt": attempt, "error": str(exc)[-2000:]})
                await asyncio.to_thread(self._reap, name)
        return None

    def _reap(self, name: str) -> None:
        worker = self.workers[name]
        if worker.proc is not None:
            if worker.proc.poll() is None:
                worker.kill()
            else:
                worker.proc = None
                try:
                    worker._log.close()
                except Exception:  # noqa: BLE001
                    pass

    async def start_all(self) -> list[float | None]:
        return list(await asyncio.gather(*(self.start(n) for n in self.workers)))

    async def kill(self, name: str) -> int:
        """SIGKILL ``name``; returns the µs time just before the signal."""
        self.wanted.discard(name)
        at = now_us()
        await asyncio.to_thread(self.workers[name].kill)
        self.events.append({"event": "kill", "worker": name, "at_us": at})
        return at

    def wipe(self, name: str) -> None:
        """Delete the worker's state (RocksDB and everything else), keeping its logs."""
        data = self.workers[name].data_dir
        for child in data.iterdir() if data.exists() else ():
            if child.suffix == ".log":
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        self.events.append({"event": "wipe", "worker": name, "at_us": now_us()})

    async def restart(self, name: str) -> float | None:
        took = await self.start(name)
        if took is not None:
            self.restart_s.append(took)
        return took

    async def supervise(self, period_s: float = 0.5) -> None:
        """Restart any wanted worker whose process died on its own."""
        while True:
            await asyncio.sleep(period_s)
            for name in sorted(self.wanted - self._busy):
                worker = self.workers[name]
                if worker.proc is not None and worker.proc.poll() is not None:
                    code = worker.proc.returncode
                    self.unexpected_exits.append({"worker": name, "code": code, "at_us": now_us(),
                                                  "log_tail": worker.log_tail(15)})
                    await asyncio.to_thread(self._reap, name)
                    await self.start(name)

    async def stop_all(self) -> None:
        self.wanted.clear()
        await asyncio.gather(*(asyncio.to_thread(w.stop, 30.0) for w in self.workers.values()))

    # -------------------------------------------------------------- lookups

    async def lookup_all(self, numbers: list[str], account: str = "default", threads: int = 8
                         ) -> dict[str, dict[str, Any]]:
        """GET /optouts/{number}?account=... on live workers (round robin; another worker on failure)."""
        names = self.live()
        if not names:
            return {n: {"status": 0, "opted_out": None, "worker": None} for n in numbers}

        def one(i_number: tuple[int, str]) -> tuple[str, dict[str, Any]]:
            i, number = i_number
            path = f"/optouts/{urllib.parse.quote(number)}?account={urllib.parse.quote(account)}"
            answer: dict[str, Any] = {"status": 0, "opted_out": None}
            for attempt in range(len(names) * 2):
                name = names[(i + attempt) % len(names)]
                status, body = self.workers[name].get(path)
                answer = {"status": status, "opted_out": body.get("opted_out") if isinstance(body, dict) else None,
                          "worker": name}
                if status == 200:
                    break
                time.sleep(0.2)
            return number, answer

        with ThreadPoolExecutor(threads) as pool:
            return dict(await asyncio.get_running_loop().run_in_executor(
                None, lambda: list(pool.map(one, enumerate(numbers)))))

    def counter(self, name: str) -> int | None:
        """A counter of ``GET /stats?scope=worker`` summed over the live workers (each since its
        last start); None if no worker answered."""
        total = None
        for worker_name in self.live():
            status, body = self.workers[worker_name].get("/stats?scope=worker")
            if status == 200 and isinstance(body, dict):
                total = (total or 0) + int(body.get(name) or 0)
        return total

    def log_tails(self, lines: int = 30) -> dict[str, str]:
        return {name: w.log_tail(lines) for name, w in self.workers.items()}
