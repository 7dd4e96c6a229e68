"""What the dashboard shows, gathered from the cluster's own HTTP answers.

- totals, suppressed by reason and the rate series: ``GET /stats`` of this worker (which
  speaks for the cluster once it sums every worker; what it says of its scope is shown),
  checked once against its contract (:class:`app.reports.stats_contract.StatsAnswer`): an
  answer in another shape is shown as not available; the rate series, when ``/stats`` has
  none, come from the tail of the consent log (:mod:`app.runtime.web.consent_tail`);
- recent outcomes: consent events (opt-outs, opt-ins, HELP, review, with their source),
  suppressed sends (with their reason and account) and new review items, newest first, the
  last :data:`OUTCOMES_SHOWN`: the tails of ``sms.consent``, ``sms.suppressed`` and
  ``sms.review`` (:mod:`app.runtime.web.consent_tail`; every worker reads every partition of
  them itself), numbers masked; each row with a number links to its timeline by a sealed
  reference (:class:`References`), never by the number;
- the review queue: ``GET /reviews`` of every worker, asked as forwarded requests
  (:func:`app.runtime.web.workers.ask`: signed with the cluster's key, answers checked; each
  answers for the partitions it holds, and does not audit: the dashboard's answer is
  audited once, with everything it shows), merged by deadline;
- pipeline health: ``GET /dashboard/worker`` of every worker (this one in-process, the
  others as forwarded requests): ready, problems, partitions held, standbys, consumer lag,
  held sends, dead letters.

Without a shared ``OPTOUT_CLUSTER_SECRET`` the other workers are not asked: what they
hold is shown as not available, saying so.

A source that does not answer is shown as not available; the rest of the page still is.
Nothing here raises for a bad answer of another worker.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from app.domain.masking import mask
from app.domain.numbers import NumberStatus, parse_recipient
from app.reports.optout_listing import seal, unseal
from app.reports.stats_contract import SeriesPoint, StatsAnswer, check_answer
from app.runtime.web import access, workers
from app.runtime.web.access import Grant

if TYPE_CHECKING:
    from app.runtime.cluster_keys import ClusterKeys
    from app.runtime.host import Host
    from app.runtime.web.consent_tail import LogTail
    from app.settings import Settings

REVIEWS_SHOWN = 20
OUTCOMES_SHOWN = 50  # the recent outcomes panel: the last 50, of the three logs together
REF_TTL_S = 15 * 60  # a timeline link of the panel lasts this long (the page renews them at every refresh)
MAX_REF_CHARS = 1024
REF_VERSION = b"r1"
TIMELINE_BY_REF = "/numbers/ref/"
REF_TEXT = re.compile(r"[A-Za-z0-9_-]+")  # base64url, unpadded: the only spelling of a reference
BODY_CHARS = 80
MINUTE_POINTS = 60  # the per-minute chart: the last hour
HOUR_POINTS = 24  # the per-hour chart: the last day
TOTALS = (  # (key in /stats' totals, label)
    ("forwarded", "Sends forwarded"),
    ("suppressed", "Sends suppressed"),
    ("dead_lettered", "Dead-lettered"),
    ("opt_outs", "Opt-outs"),
    ("opt_ins", "Opt-ins"),
    ("confirmations", "Confirmations sent"),
)


def masked(number: Any) -> str:
    return mask(number) if isinstance(number, str) else ""


# ------------------------------------------------------------ timeline links without the number


class References:
    """Sealed references to a number's timeline, for the links of the recent outcomes panel.

    A masked row must not carry its whole number anywhere in the page (nor in
    ``/dashboard/data``): its link is ``/numbers/ref/<reference>``, the number and account
    sealed (encrypted and authenticated, :func:`app.reports.optout_listing.seal`) with a key
    derived from the cluster's cursor key (so every worker of the cluster opens it, and no
    client can read one or make one up), bound to the token of whoever the page was made for
    (its id: another token, or the same role's token once changed, opens nothing) and valid
    :data:`REF_TTL_S` (the page renews its links at every refresh). The page it leads to
    shows the timeline with the number masked, for a viewer (:mod:`app.runtime.web.dashboard`).
    """

    def __init__(self, keys: ClusterKeys, ttl_s: int = REF_TTL_S) -> None:
        self._key = hmac.new(keys.key("cursor"), b"sms-optout dashboard timeline reference v1",
                             hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def make(self, found: Grant, number: str, account: str, now_s: float | None = None) -> str:
        expires = int((time.time() if now_s is None else now_s) + self.ttl_s)
        raw = b"\x1f".join([REF_VERSION, str(expires).encode(), found.token_id.encode(), number.encode(),
                             account.encode("utf-8", "surrogatepass")])
        return base64.urlsafe_b64encode(seal(raw, self._key)).rstrip(b"=").decode()

    def open(self, text: str, found: Grant, now_s: float | None = None) -> tuple[str, str] | None:
        """``(number, account)`` of a reference made for ``found``'s token and not expired; else None."""
        if len(text) > MAX_REF_CHARS or not REF_TEXT.fullmatch(text):
            return None
        try:
            sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        raw = unseal(sealed, self._key)
        parts = raw.split(b"\x1f", 4) if raw is not None else []
        if len(parts) != 5 or parts[0] != REF_VERSION or not parts[1].isdigit():
            return None
        if int(parts[1]) < (time.time() if now_s is None else now_s):
            return None
        if not hmac.compare_digest(parts[2], found.token_id.encode()):
            return None
        try:
            return parts[3].decode(), parts[4].decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return None


# ------------------------------------------------------------ the recent outcomes panel


OUTCOME_KEYS = ("kind", "at", "number", "account_id", "intent", "source", "rule", "verdict", "previous_state",
                "new_state", "matched", "reason", "detail", "deadline", "processed_at", "event_time", "timeline")


def outcome_row(settings: Settings, topic: str, kept: dict) -> tuple[dict, str | None]:
    """A row of the panel (every key of :data:`OUTCOME_KEYS`; the number masked) from what the
    tail kept of a record of ``topic``, and the whole E.164 number its timeline link names
    (None: no number to link, e.g. a send without a usable recipient)."""
    row: dict[str, Any] = dict.fromkeys(OUTCOME_KEYS)
    number: str | None = None
    if topic == settings.suppressed_topic:
        to = kept.get("to")
        parsed = parse_recipient(to, settings.default_region) if isinstance(to, str) else None
        if parsed is not None and parsed.status is NumberStatus.VALID and parsed.e164:
            number = parsed.e164
        row.update(kind="suppressed", at=kept.get("suppressed_at"), number=masked(number or to),
                   reason=kept.get("reason"), detail=masked(kept.get("detail")) or None,
                   event_time=kept.get("opted_out_at"))
    elif topic == settings.review_topic:
        number = kept.get("number")
        row.update(kind="review", at=kept.get("queued_at"), number=masked(number), rule=kept.get("rule"),
                   matched=masked(kept.get("matched")) or None, deadline=kept.get("deadline"),
                   event_time=kept.get("event_time"))
    else:
        number = kept.get("number")
        row.update({k: kept.get(k) for k in OUTCOME_KEYS if k in kept}, kind="consent", at=kept.get("processed_at"),
                   number=masked(number), matched=masked(kept.get("matched")) or None)
    row["account_id"] = kept.get("account_id")
    if not isinstance(number, str) or not number.startswith("+"):
        number = None
    return row, number


# ------------------------------------------------------------ GET /stats (app/reports/stats_contract.py)


def read_stats(body: object) -> StatsAnswer | None:
    """``body`` (the JSON of ``GET /stats``) checked once against the contract; None when it
    is not in that shape (then shown as not available, as an answer that is not JSON is)."""
    try:
        return check_answer(body)
    except ValueError:
        return None


def stats_panel(stats: StatsAnswer | None, error: str | None) -> dict:
    """The totals panel: the scope ``/stats`` states, totals, compliance rows, suppressed by reason."""
    if stats is None:
        return {"available": False, "error": error, "scope": None, "totals": [], "compliance": [], "suppressed": []}
    return {"available": True, "error": error, "scope": stats["scope"], "totals": totals(stats),
            "compliance": compliance(stats), "suppressed": suppressed_by_reason(stats)}


def totals(stats: StatsAnswer) -> list[dict]:
    t = stats["totals"]
    values = {"forwarded": t["forwarded"], "suppressed": t["suppressed"], "dead_lettered": t["dead_lettered"],
              "opt_outs": t["opt_outs"], "opt_ins": t["opt_ins"],
              # by purpose; until one was sent there is no purpose and no row (as before the contract)
              "confirmations": sum(t["confirmations"].values()) if t["confirmations"] else None}
    return [{"key": key, "label": label, "value": values[key]} for key, label in TOTALS if values[key] is not None]


def suppressed_by_reason(stats: StatsAnswer) -> list[dict]:
    counts = stats["totals"]["suppressed_by_reason"]
    top = max(counts.values(), default=0)
    rows = [{"reason": reason, "count": n, "share": round(n / top, 3) if top else 0.0} for reason, n in counts.items()]
    return sorted(rows, key=lambda r: (-r["count"], r["reason"]))


def _unix_s(iso: str) -> float | None:
    """Seconds since the epoch of an ISO time of the contract (UTC, with its offset); None if
    it is not one."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _series(points: list[SeriesPoint]) -> dict | None:
    """``{"t": [unix s], "opt_out": [...], "opt_in": [...]}`` of a /stats series, by time;
    None if it has no point."""
    rows = sorted(((at, p["opt_outs"], p["opt_ins"]) for p in points if (at := _unix_s(p["t"])) is not None),
                  key=lambda row: row[0])
    if not rows:
        return None
    return {"t": [row[0] for row in rows], "opt_out": [row[1] for row in rows], "opt_in": [row[2] for row in rows]}


def stats_series(stats: StatsAnswer) -> dict[str, dict] | None:
    """The per-minute and per-hour opt-outs and opt-ins of ``/stats``; None when it has none."""
    series = stats["series"]
    out = {name: parsed for name, points in (("minute", series["per_minute"]), ("hour", series["per_hour"]))
           if (parsed := _series(points)) is not None}
    return out or None


def dense(series: dict, step_s: int, points: int, now_s: float) -> dict:
    """``series`` on a regular grid: one point per ``step_s`` for the last ``points`` steps up
    to now (or the last point, if later), zero where it has none (a series may list only the
    buckets that counted something)."""
    counts: dict[str, Counter[int]] = {"opt_out": Counter(), "opt_in": Counter()}
    for n, at in enumerate(series["t"]):
        bucket = int(at // step_s)
        for name in counts:
            counts[name][bucket] += series[name][n]
    last = max([int(now_s // step_s), *(b for c in counts.values() for b in c)])
    buckets = range(last - points + 1, last + 1)
    return {"t": [b * step_s for b in buckets], "opt_out": [counts["opt_out"][b] for b in buckets],
            "opt_in": [counts["opt_in"][b] for b in buckets]}


def compliance(stats: StatsAnswer) -> list[dict]:
    """The compliance figures of ``GET /stats``, as (label, text) rows; time to honour and
    confirmations once something was counted."""
    rows = []
    honour = stats["time_to_honour"]
    if honour["count"]:
        rows.append({"label": "Time to honour (p50 / p99 / max)",
                     "value": " / ".join(_secs(s) for s in (honour["p50_s"], honour["p99_s"], honour["max_s"]))})
    confirm = stats["confirmation_delay"]
    if confirm["count"]:
        rows.append({"label": f"Confirmations within {confirm['limit_s']} s",
                     "value": f"{confirm['within_limit']} of {confirm['count']} (p99 {_secs(confirm['p99_s'])})",
                     "bad": bool(confirm["over_limit"])})
    queue = stats["review_queue"]
    oldest = queue["oldest"]
    text = str(queue["pending"])
    if oldest is not None:
        text += f"; oldest {_secs(oldest['age_s'])} old, deadline in {_secs(oldest['time_left_s'])}"
    rows.append({"label": "Review queue", "value": text, "bad": oldest is not None and oldest["overdue"]})
    return rows


def _secs(value: float | None) -> str:
    if value is None:
        return "?"
    if abs(value) >= 86400:
        return f"{value / 86400:.1f} d"
    if abs(value) >= 3600:
        return f"{value / 3600:.1f} h"
    if abs(value) >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.3g} s"


# ------------------------------------------------------------ the other sources


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
    def __init__(self, host: Host, tail: LogTail, refs: References | None = None) -> None:
        self.host = host
        self.tail = tail
        self.refs = refs if refs is not None else References(host.cluster_keys)

    def urls(self) -> list[str]:
        own = self.host.settings.web_url
        return [own] + sorted({u for u in self.host.ownership.owners.values() if u and u != own})

    async def gather(self, found: Grant) -> dict:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            stats, reviews, workers, recent = await asyncio.gather(
                self._stats(session, found), self._reviews(session, found), self._workers(session, found),
                self._recent(found))
        series = stats_series(stats["body"]) if stats["body"] is not None else None
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
            "stats": stats_panel(stats["body"], stats["error"]),
            "series": {"available": series is not None, "source": series_source if series else None,
                       **(series or {})},
            "recent": recent,
            "reviews": reviews,
            "workers": workers,
        }
        model["numbers_shown"] = sum(1 for e in recent["events"] if e["number"]) + len(reviews["items"])
        return model

    async def _stats(self, session: aiohttp.ClientSession, found: Grant) -> dict:
        settings = self.host.settings
        try:  # asked as a client (/stats is open): the cluster's totals, not one worker's part
            async with session.get(f"{settings.web_url}/stats", headers={}) as resp:
                body = await resp.json()
                if resp.status != 200 or not isinstance(body, dict):
                    raise ValueError(f"status {resp.status}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return {"body": None, "error": f"GET /stats did not answer ({type(exc).__name__})"}
        answer = read_stats(body)
        if answer is None:
            return {"body": None, "error": "GET /stats answered in a shape this dashboard does not read"}
        return {"body": answer, "error": None}

    async def _reviews(self, session: aiohttp.ClientSession, found: Grant) -> dict:
        settings = self.host.settings
        headers = access.forward_headers(settings, found, "GET", "/reviews")

        async def ask(url: str) -> tuple[list[dict], list[int]]:
            answer = await workers.ask(session, url, "/reviews", {"limit": str(REVIEWS_SHOWN)}, headers)
            body = answer.json()
            if answer.status != 200 or not isinstance(body, dict):
                raise ValueError(f"status {answer.status}")
            return list(body.get("items") or []), list(body.get("partitions") or [])

        try:
            answers = await asyncio.gather(*(ask(url) for url in self.urls()))
        except workers.NoClusterSecret:
            return {"available": False, "error": f"the other workers' review queues are not asked: "
                    f"{workers.SECRET_MISSING}", "items": [], "more": False, "missing_partitions": []}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # NotAWorker too
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
                answer = await workers.ask(session, url, "/dashboard/worker", {}, headers)
                body = answer.json()
                if answer.status != 200 or not isinstance(body, dict):
                    raise ValueError(f"status {answer.status}")
                return body
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # NoClusterSecret, NotAWorker too
                held = sorted(p for p, u in self.host.ownership.owners.items() if u == url)
                problem = str(exc) if isinstance(exc, workers.NoClusterSecret) else \
                    f"did not answer ({type(exc).__name__})"
                return {"url": url, "worker": None, "ready": False, "partitions": held,
                        "problems": [problem], "lag": {}, "lag_total": None}

        items = await asyncio.gather(*(ask(url) for url in self.urls()))
        owned = set(self.host.ownership.owners)
        return {"items": list(items), "unowned": sorted(set(range(settings.partitions)) - owned),
                "lag_total": sum(i.get("lag_total") or 0 for i in items),
                "dead_lettered": sum(i.get("dead_lettered") or 0 for i in items)}

    async def _recent(self, found: Grant) -> dict:
        """The recent outcomes panel: the tails' last :data:`OUTCOMES_SHOWN` records, newest
        first, numbers masked, each number's timeline linked by a reference made for ``found``."""
        available = await self.tail.recent()
        settings = self.host.settings
        events = []
        for topic, kept in self.tail.outcomes(OUTCOMES_SHOWN) if available else []:
            row, number = outcome_row(settings, topic, kept)
            if number is not None:
                account = row["account_id"] if isinstance(row["account_id"], str) else "default"
                row["timeline"] = TIMELINE_BY_REF + self.refs.make(found, number, account)
            events.append(row)
        return {"available": available, "error": None if available else (self.tail.error or "not read yet"),
                "topics": list(self.tail.topics), "limit": OUTCOMES_SHOWN, "events": events}
