"""What the dashboard shows, gathered from the cluster's own HTTP answers.

- totals, suppressed by reason and the rate series: ``GET /stats`` of this worker (which
  speaks for the cluster once it sums every worker; what it says of its scope is shown);
  the rate series, when ``/stats`` has none, come from the tail of the consent log
  (:mod:`app.runtime.web.consent_tail`);
- recent consent events: the tail of the consent log, numbers masked;
- the review queue: ``GET /reviews`` of every worker, asked as forwarded requests (each
  answers for the partitions it holds, and does not audit: the dashboard's answer is
  audited once, with everything it shows), merged by deadline;
- pipeline health: ``GET /dashboard/worker`` of every worker (this one in-process): ready,
  problems, partitions held, standbys, consumer lag, held sends, dead letters.

A source that does not answer is shown as not available; the rest of the page still is.
Nothing here raises for a bad answer of another worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from app.domain.masking import mask
from app.runtime.web import access
from app.runtime.web.access import Grant

if TYPE_CHECKING:
    from app.runtime.host import Host
    from app.runtime.web.consent_tail import ConsentTail

REVIEWS_SHOWN = 20
EVENTS_SHOWN = 25
BODY_CHARS = 80
MINUTE_POINTS = 60  # the per-minute chart: the last hour
HOUR_POINTS = 24  # the per-hour chart: the last day
TOTALS = (  # (key in /stats, label)
    ("forwarded", "Sends forwarded"),
    ("suppressed", "Sends suppressed"),
    ("dead_lettered", "Dead-lettered"),
    ("opt_outs", "Opt-outs"),
    ("opt_ins", "Opt-ins"),
    ("confirmations", "Confirmations sent"),
)
TIME_KEYS = ("t", "at", "time", "start", "minute", "hour", "bucket", "ts")
OUT_KEYS = ("opt_outs", "opt_out", "optouts")
IN_KEYS = ("opt_ins", "opt_in", "optins")


def masked(number: Any) -> str:
    return mask(number) if isinstance(number, str) else ""


def _count(value: Any) -> int | None:
    """An int, or the sum of a dict of ints (e.g. opt-outs by source)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        parts = [_count(v) for v in value.values()]
        return sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    return None


def _find(stats: dict, key: str) -> Any:
    for where in (stats, stats.get("totals"), stats.get("sends"), stats.get("consent"), stats.get("counts")):
        if isinstance(where, dict) and key in where:
            return where[key]
    return None


def totals(stats: dict) -> list[dict]:
    out = []
    for key, label in TOTALS:
        value = _count(_find(stats, key))
        if value is None and key == "suppressed":
            value = _count(_find(stats, "suppressed_by_reason"))
        if value is not None:
            out.append({"key": key, "label": label, "value": value})
    return out


def suppressed_by_reason(stats: dict) -> list[dict]:
    found = _find(stats, "suppressed_by_reason") or _find(stats, "suppressed")
    if not isinstance(found, dict):
        return []
    rows = [{"reason": str(k), "count": _count(v) or 0} for k, v in found.items() if _count(v) is not None]
    top = max((r["count"] for r in rows), default=0)
    for row in rows:
        row["share"] = round(row["count"] / top, 3) if top else 0.0
    return sorted(rows, key=lambda r: (-r["count"], r["reason"]))


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value / 1000 if value > 10**11 else float(value)
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def _first(entry: dict, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in entry:
            return entry[key]
    return None


def _series(value: Any) -> dict | None:
    """``{"t": [unix s], "opt_out": [...], "opt_in": [...]}`` from a /stats series: a list of
    ``{time, opt_outs, opt_ins}`` entries or a dict of lists; None if it is neither."""
    t: list[float] = []
    outs: list[int] = []
    ins: list[int] = []
    if isinstance(value, list):
        for entry in value:
            if not isinstance(entry, dict):
                continue
            at = _seconds(_first(entry, TIME_KEYS))
            if at is None:
                continue
            t.append(at)
            outs.append(_count(_first(entry, OUT_KEYS)) or 0)
            ins.append(_count(_first(entry, IN_KEYS)) or 0)
    elif isinstance(value, dict):
        times = _first(value, ("t", "times", *TIME_KEYS))
        if not isinstance(times, list):
            return None
        o, i = _first(value, OUT_KEYS), _first(value, IN_KEYS)
        for n, raw in enumerate(times):
            at = _seconds(raw)
            if at is None:
                continue
            t.append(at)
            outs.append(_count(o[n]) or 0 if isinstance(o, list) and n < len(o) else 0)
            ins.append(_count(i[n]) or 0 if isinstance(i, list) and n < len(i) else 0)
    else:
        return None
    if not t:
        return None
    order = sorted(range(len(t)), key=t.__getitem__)
    return {"t": [t[n] for n in order], "opt_out": [outs[n] for n in order], "opt_in": [ins[n] for n in order]}


def stats_series(stats: dict) -> dict[str, dict] | None:
    series = stats.get("series")
    if not isinstance(series, dict):
        return None
    out = {}
    for name, keys in (("minute", ("per_minute", "minute", "minutes", "1m")),
                       ("hour", ("per_hour", "hour", "hours", "1h"))):
        parsed = _series(_first(series, keys))
        if parsed is not None:
            out[name] = parsed
    return out or None


def dense(series: dict, step_s: int, points: int, now_s: float) -> dict:
    """``series`` on a regular grid: one point per ``step_s`` for the last ``points`` steps up
    to now (or the last point, if later), zero where it has none (a series may list only the
    buckets that counted something)."""
    counts: dict[str, Counter[int]] = {"opt_out": Counter(), "opt_in": Counter()}
    for n, at in enumerate(series.get("t") or []):
        bucket = int(at // step_s)
        for name in counts:
            values = series.get(name) or []
            counts[name][bucket] += values[n] if n < len(values) else 0
    last = max([int(now_s // step_s), *(b for c in counts.values() for b in c)])
    buckets = range(last - points + 1, last + 1)
    return {"t": [b * step_s for b in buckets], "opt_out": [counts["opt_out"][b] for b in buckets],
            "opt_in": [counts["opt_in"][b] for b in buckets]}


def compliance(stats: dict) -> list[dict]:
    """The compliance figures of ``GET /stats`` that it has, as (label, text) rows."""
    rows = []
    honour = stats.get("time_to_honour")
    if isinstance(honour, dict) and honour.get("count"):
        rows.append({"label": "Time to honour (p50 / p99 / max)",
                     "value": " / ".join(_secs(honour.get(k)) for k in ("p50_s", "p99_s", "max_s"))})
    confirm = stats.get("confirmation_delay")
    if isinstance(confirm, dict) and confirm.get("count"):
        rows.append({"label": f"Confirmations within {confirm.get('limit_s', 300)} s",
                     "value": f"{confirm.get('within_limit')} of {confirm.get('count')} "
                              f"(p99 {_secs(confirm.get('p99_s'))})",
                     "bad": bool(confirm.get("over_limit"))})
    queue = stats.get("review_queue")
    if isinstance(queue, dict) and "pending" in queue:
        oldest = queue.get("oldest") if isinstance(queue.get("oldest"), dict) else None
        text = str(queue.get("pending"))
        if oldest:
            text += f"; oldest {_secs(oldest.get('age_s'))} old, deadline in {_secs(oldest.get('time_left_s'))}"
        rows.append({"label": "Review queue", "value": text, "bad": bool(oldest and oldest.get("overdue"))})
    return rows


def _scope(stats: dict) -> str | None:
    scope = stats.get("scope")
    if isinstance(scope, str):
        return scope[:200]
    since = stats.get("since")
    return f"all workers, since {since[:19].replace('T', ' ')}" if isinstance(since, str) else None


def _secs(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "?"
    if abs(value) >= 86400:
        return f"{value / 86400:.1f} d"
    if abs(value) >= 3600:
        return f"{value / 3600:.1f} h"
    if abs(value) >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.3g} s"


def tail_series(rates: dict[str, Counter[int]], now_s: float) -> dict[str, dict]:
    """Per-minute (last hour) and per-hour (last day) counts of applied opt-outs and opt-ins."""
    this_minute = int(now_s // 60)
    minutes = list(range(this_minute - MINUTE_POINTS + 1, this_minute + 1))
    this_hour = this_minute // 60
    hours = list(range(this_hour - HOUR_POINTS + 1, this_hour + 1))

    def per_hour(counts: Counter[int]) -> list[int]:
        by_hour: Counter[int] = Counter()
        for minute, n in counts.items():
            by_hour[minute // 60] += n
        return [by_hour[h] for h in hours]

    return {
        "minute": {"t": [m * 60 for m in minutes], "opt_out": [rates["opt_out"][m] for m in minutes],
                   "opt_in": [rates["opt_in"][m] for m in minutes]},
        "hour": {"t": [h * 3600 for h in hours], "opt_out": per_hour(rates["opt_out"]),
                 "opt_in": per_hour(rates["opt_in"])},
    }


def local_worker(host: Host) -> dict:
    """This worker's part of the pipeline health (no numbers)."""
    settings = host.settings
    health = host.health()
    lag: dict[str, int] = {}
    source = getattr(host, "source", None)
    if host.started and source is not None:
        for tp in sorted(source.assignment()):
            behind = source.lag(tp)
            if behind is not None:
                lag[f"{tp.topic}[{tp.partition}]"] = behind
    return {
        "worker": host.worker_id,
        "url": settings.web_url,
        "ready": bool(health.get("ready")),
        "problems": [str(p) for p in health.get("problems", [])][:10],
        "partitions": sorted(p for p, url in host.ownership.owners.items() if url == settings.web_url),
        "standbys": sorted(host.ownership.standbys),
        "lag": lag,
        "lag_total": sum(lag.values()),
        "held_sends": health.get("held_sends"),
        "dead_lettered": host.stats.snapshot().get("dead_lettered"),
    }


class Gatherer:
    def __init__(self, host: Host, tail: ConsentTail) -> None:
        self.host = host
        self.tail = tail

    def urls(self) -> list[str]:
        own = self.host.settings.web_url
        return [own] + sorted({u for u in self.host.ownership.owners.values() if u and u != own})

    async def gather(self, found: Grant) -> dict:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            stats, reviews, workers, recent = await asyncio.gather(
                self._stats(session, found), self._reviews(session, found), self._workers(session, found),
                self._recent())
        series = stats_series(stats["body"]) if stats["body"] else None
        series_source = "GET /stats"
        if series is None and self.tail.available:
            series, series_source = tail_series(self.tail.rates, time.time()), "the consent log's tail"
        if series is not None:
            now_s = time.time()
            series = {name: dense(series[name], step, points, now_s)
                      for name, step, points in (("minute", 60, MINUTE_POINTS), ("hour", 3600, HOUR_POINTS))
                      if name in series}
        model = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "worker": self.host.worker_id,
            "stats": {"available": stats["body"] is not None, "error": stats["error"],
                      "scope": _scope(stats["body"] or {}),
                      "totals": totals(stats["body"] or {}),
                      "compliance": compliance(stats["body"] or {}),
                      "suppressed": suppressed_by_reason(stats["body"] or {})},
            "series": {"available": series is not None, "source": series_source if series else None,
                       **(series or {})},
            "recent": recent,
            "reviews": reviews,
            "workers": workers,
        }
        model["numbers_shown"] = len(recent["events"]) + len(reviews["items"])
        return model

    async def _stats(self, session: aiohttp.ClientSession, found: Grant) -> dict:
        settings = self.host.settings
        headers = access.forward_headers(settings, found, "GET", "/stats")
        headers.pop(access.FORWARDED)  # asked as a client: the cluster's totals, not one worker's part
        try:
            async with session.get(f"{settings.web_url}/stats", headers=headers) as resp:
                body = await resp.json()
                if resp.status != 200 or not isinstance(body, dict):
                    raise ValueError(f"status {resp.status}")
                return {"body": body, "error": None}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return {"body": None, "error": f"GET /stats did not answer ({type(exc).__name__})"}

    async def _reviews(self, session: aiohttp.ClientSession, found: Grant) -> dict:
        settings = self.host.settings
        headers = access.forward_headers(settings, found, "GET", "/reviews")

        async def ask(url: str) -> tuple[list[dict], list[int]]:
            async with session.get(f"{url}/reviews", params={"limit": str(REVIEWS_SHOWN)}, headers=headers) as resp:
                body = await resp.json()
                if resp.status != 200 or not isinstance(body, dict):
                    raise ValueError(f"status {resp.status}")
                return list(body.get("items") or []), list(body.get("partitions") or [])

        try:
            answers = await asyncio.gather(*(ask(url) for url in self.urls()))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return {"available": False, "error": f"a worker's review queue did not answer ({type(exc).__name__})",
                    "items": [], "more": False, "missing_partitions": []}
        items = [item for their_items, _ in answers for item in their_items if isinstance(item, dict)]
        covered = {p for _, parts in answers for p in parts}
        more = any(len(their_items) >= REVIEWS_SHOWN for their_items, _ in answers)
        items.sort(key=lambda i: (i.get("deadline_ms") or 0, str(i.get("review_id"))))
        now_ms = time.time() * 1000
        shown = []
        for item in items[:REVIEWS_SHOWN]:
            body = item.get("body") if isinstance(item.get("body"), str) else ""
            deadline_ms = item.get("deadline_ms")
            shown.append({
                "review_id": item.get("review_id"), "number": masked(item.get("number")),
                "account_id": item.get("account_id"), "body": mask(body[:BODY_CHARS]),
                "body_cut": len(body) > BODY_CHARS, "matched": item.get("matched"), "rule": item.get("rule"),
                "queued_at": item.get("queued_at"), "deadline": item.get("deadline"),
                "overdue": isinstance(deadline_ms, int) and deadline_ms < now_ms,
            })
        return {"available": True, "error": None, "items": shown, "more": more or len(items) > REVIEWS_SHOWN,
                "missing_partitions": sorted(set(range(settings.partitions)) - covered)}

    async def _workers(self, session: aiohttp.ClientSession, found: Grant) -> dict:
        settings = self.host.settings
        headers = access.forward_headers(settings, found, "GET", "/dashboard/worker")

        async def ask(url: str) -> dict:
            if url == settings.web_url:
                return local_worker(self.host)
            try:
                async with session.get(f"{url}/dashboard/worker", headers=headers) as resp:
                    body = await resp.json()
                    if resp.status != 200 or not isinstance(body, dict):
                        raise ValueError(f"status {resp.status}")
                    return body
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                held = sorted(p for p, u in self.host.ownership.owners.items() if u == url)
                return {"url": url, "worker": None, "ready": False, "partitions": held,
                        "problems": [f"did not answer ({type(exc).__name__})"], "lag": {}, "lag_total": None}

        items = await asyncio.gather(*(ask(url) for url in self.urls()))
        owned = set(self.host.ownership.owners)
        return {"items": list(items), "unowned": sorted(set(range(settings.partitions)) - owned),
                "lag_total": sum(i.get("lag_total") or 0 for i in items),
                "dead_lettered": sum(i.get("dead_lettered") or 0 for i in items)}

    async def _recent(self) -> dict:
        available = await self.tail.recent()
        events = []
        for event in self.tail.latest(EVENTS_SHOWN) if available else []:
            events.append({**event, "number": masked(event.get("number"))})
        return {"available": available, "error": None if available else (self.tail.error or "not read yet"),
                "events": events}
