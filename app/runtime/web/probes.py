"""`GET /livez` and `GET /readyz`: probes for an orchestrator. Open; no figures, no numbers.

- ``/livez``: 200 whenever the process and its event loop answer (a worker whose engine
  stopped by a bug stops itself), unless its tasks stayed fenced past the takeover bound
  (15 s) although it asked the group for them again: it cannot repair itself, 503.
- ``/readyz``: 200 once the worker has started, been assigned its partitions and
  recovered their state. It does **not** flap during a rebalance: once ready, it stays
  ready while the worker is rebalancing or recovering, for up to ``OPTOUT_READY_GRACE_MS``
  (30 s) from the first probe that saw it so; a rebalance that ends within the grace is
  never seen by the orchestrator. Longer, or never ready yet: 503. ``/health`` keeps its
  stricter, immediate view (broker outages, stalls, held sends).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from app.runtime.web.errors import json_answer

if TYPE_CHECKING:
    from app.runtime.host import Host


def clock_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Readiness:
    """Ready once recovered; once ready, unready only after ``grace_ms`` of not being so."""

    def __init__(self, grace_ms: int) -> None:
        self.grace_ms = grace_ms
        self.ever_ready = False
        self.down_since_ms: int | None = None

    def update(self, recovered: bool, now_ms: int) -> bool:
        if recovered:
            self.ever_ready, self.down_since_ms = True, None
            return True
        if not self.ever_ready:
            return False
        if self.down_since_ms is None:
            self.down_since_ms = now_ms
        return now_ms - self.down_since_ms <= self.grace_ms


def recovered(host: Host) -> str | None:
    """Why the worker is not ready now (a fixed text), or None."""
    loop = getattr(host, "loop", None)
    if not host.started or loop is None:
        return "starting"
    if not host.assigned_once:
        return "waiting for a partition assignment"
    if host.rebalancing:
        return "rebalancing"
    if loop.recovering:
        stalled = sorted(loop.recovery_problems)
        if stalled:  # the changelog cannot be read to its end: those partitions stay closed
            return f"table partition(s) {stalled} closed until their changelog is read to the end"
        return "recovering table partitions"
    return None


def register(app: web.Application, host: Host) -> None:
    readiness = Readiness(host.settings.ready_grace_ms)

    async def livez(request: web.Request) -> web.Response:
        loop = getattr(host, "loop", None)
        if loop is not None and not loop.live():
            return json_answer({"status": "stuck", "reason": "tasks fenced and not reopened"}, status=503)
        return json_answer({"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        reason = recovered(host)
        if readiness.update(reason is None, clock_ms()):
            body = {"status": "ready"}
            if reason is not None:
                body["pending"] = reason  # within the grace period
            return json_answer(body)
        return json_answer({"status": "not_ready", "reason": reason}, status=503)

    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
