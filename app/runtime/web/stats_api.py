"""`GET /stats` (the cluster's compliance figures) and `GET /metrics` (Prometheus). Both open:
they hold counts and durations only, never a phone number (account names, which clients
choose, are shown with any run of digits masked).

``/stats`` covers every table partition on every worker: a worker reads the figures of
the partitions it holds (:mod:`app.stream.figures`, kept in the partitions' state) and asks the
workers holding the others for theirs (per partition, so a partition seen twice during a
rebalance is counted once); if a partition is on no worker, the answer is 503, never a
partial total. ``?scope=worker`` is this worker's own counters since it started.

A worker's raw per-partition figures (account names as recorded) are answered only to a
request carrying a valid worker proof (:mod:`app.runtime.web.access`, asked with
:func:`app.runtime.web.workers.ask`); a client's ``X-Optout-Forwarded`` header proves
nothing and gets the cluster's answer like any other request. Without a shared
``OPTOUT_CLUSTER_SECRET``, a cluster whose partitions are not all here answers 503 saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from app.domain.masking import redact
from app.engine.inputs import TP
from app.reports import stats_answer
from app.reports.metrics import CONTENT_TYPE, Gauges
from app.runtime.web import access, workers
from app.runtime.web.errors import error_response, json_answer

if TYPE_CHECKING:
    from app.runtime.host import Host

CACHE_MS = 1000  # a worker's own partitions are read at most once a second (a dashboard refreshes often)


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


def register(app: web.Application, host: Host) -> None:
    settings = host.settings
    cache: dict[str, tuple[int, dict[int, dict]]] = {}

    async def local() -> dict[int, dict]:
        """The figures of each partition held here (read one partition at a time, yielding
        between them: a partition is some 1,700 key reads)."""
        now = clock_ms()
        held = {p: state for p in range(settings.partitions) if (state := host.local_state(p)) is not None}
        key = repr(sorted((p, id(state)) for p, state in held.items()))  # the same partitions, the same states
        kept = cache.get(key)
        if kept is not None and now - kept[0] < CACHE_MS:
            return kept[1]
        out: dict[int, dict] = {}
        for partition, state in held.items():
            out[partition] = stats_answer.read(state, now)
            await asyncio.sleep(0)
        cache.clear()
        cache[key] = (now, out)
        return out

    async def ask(session: aiohttp.ClientSession, url: str, trust: access.Trust | None) -> dict[int, dict]:
        """The raw figures of the partitions the worker at ``url`` holds (asked as a worker: no caller)."""
        answer = await workers.ask(session, url, "/stats", {}, access.ForwardAs(trust, None, "GET", "/stats"))
        body = answer.json()
        if answer.status != 200:
            raise RuntimeError(body.get("error", answer.status))
        return {int(p): raw for p, raw in body["partitions"].items()}

    async def stats(request: web.Request) -> web.Response:
        scope = request.query.get("scope", "cluster")
        if scope == "worker":
            return json_answer({"scope": "this worker, since it started", **host.stats.snapshot()})
        if scope != "cluster":
            return error_response(400, "invalid_scope", "scope must be 'cluster' (the default) or 'worker'")
        mine = await local()
        if isinstance(request.get(access.PROVED), access.Forwarded):  # a worker's proof, checked: raw figures
            return json_answer({"partitions": {str(p): raw for p, raw in mine.items()}})
        found = dict(mine)
        others = workers.others(host, found)
        trust = access.trust_of(request)
        answers = await workers.ask_each(others, lambda session, url: ask(session, url, trust), "table partitions")
        if isinstance(answers, web.Response):
            return answers
        for theirs in answers:
            for partition, raw in theirs.items():
                found.setdefault(partition, raw)
        if (refused := workers.uncovered(settings, found)) is not None:
            return refused
        merged = stats_answer.empty()
        for partition in sorted(found):
            stats_answer.merge(merged, found[partition])
        now = clock_ms()
        return json_answer({"scope": "cluster", "as_of": datetime.fromtimestamp(now / 1000, UTC).isoformat(),
                            "partitions": {"covered": sorted(found), "count": settings.partitions},
                            **stats_answer.render(merged, now, label=redact)})

    async def metrics(request: web.Request) -> web.Response:
        host.metrics.set_gauges(await gauges(host))
        return web.Response(body=host.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/stats", stats)
    app.router.add_get("/metrics", metrics)


async def gauges(host: Host) -> Gauges:
    """What a scrape reads from the worker: nothing here touches the hot path."""
    health = host.health()
    g = Gauges(ready=bool(health.get("ready")))
    loop = getattr(host, "loop", None)
    if not host.started or loop is None:
        return g
    now = clock_ms()
    source, processor, settings = host.source, host.processor, host.settings
    assignment = source.assignment()
    g.assigned_partitions = len(assignment)
    for tp in assignment:
        lag = source.lag(tp)
        if lag is not None:
            g.lag[(tp.topic, tp.partition)] = lag
    with contextlib.suppress(Exception):  # a store closed meanwhile
        memory = host.stores.memory()
        g.block_cache_usage_bytes = memory.get("block_cache_usage")
        g.table_readers_bytes = memory.get("table_readers")
        for partition, values in memory.get("partitions", {}).items():
            if processor.is_open(partition) and values.get("estimate-num-keys") is not None:
                g.table_keys[partition] = values["estimate-num-keys"]
    recovering = sorted(loop.recovering)
    g.recovering_partitions = len(recovering)
    if recovering:
        with contextlib.suppress(Exception):  # the broker does not answer: remaining unknown (0)
            tps = [TP(settings.changelog_topic, p) for p in recovering]
            ends = await asyncio.wait_for(host.outputs.end_offsets(tps), 1.0)
            for p in recovering:
                store = host.stores.open_stores.get(p)
                if store is not None:
                    g.recovery_remaining += max(0, ends[TP(settings.changelog_topic, p)] - store.changelog_next())
    review = stats_answer.empty()["review"]
    for partition in range(settings.partitions):
        state = host.local_state(partition)
        if state is not None:
            stats_answer.merge_review(review, stats_answer.review_summary(state))
    g.review_pending = review["pending"]
    if review["oldest_deadline_ms"] is not None:
        g.review_oldest_deadline_s = (review["oldest_deadline_ms"] - now) / 1000
        if review["oldest_event_time"]:
            with contextlib.suppress(ValueError):
                event = datetime.fromisoformat(review["oldest_event_time"])
                g.review_oldest_age_s = (now - event.timestamp() * 1000) / 1000
    g.held_sends = processor.held_count()
    oldest = processor.oldest_held()
    if oldest is not None:
        waited = now - oldest.since_ms  # (when it was held, by this worker's clock: a figure only)
        g.held_oldest_s = waited / 1000
        g.reply_gate_paused = waited > settings.stall_ms
    g.checkpoints = loop.checkpoint.count
    return g

