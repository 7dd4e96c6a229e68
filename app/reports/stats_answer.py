"""The ``GET /stats`` answer: the figures kept in each partition's state
(:mod:`app.stream.figures`) read, merged across partitions and workers, and rendered in the
shape declared by :mod:`app.reports.stats_contract`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.reports.stats_contract import (
    ConsentEventCount,
    OldestReview,
    PreventedSendsDay,
    SeriesPoint,
    StatsFigures,
)
from app.stream import histogram, keys, review_queue
from app.stream.figures import (
    DAY_SLOTS,
    DAYS_KEPT,
    HOUR_SLOTS,
    MAX_ACCOUNTS_SHOWN,
    MINUTE_SLOTS,
    Table,
    add_counts,
    new_totals,
    valid_totals,
)
from app.stream.histogram import DAY, FIVE_MINUTES_MS, HOUR
from app.stream.tally import OTHER


def read(table: Table, now_ms: int) -> dict:
    """One partition's figures, in the mergeable form of :func:`merge`."""
    totals = valid_totals(table.get(keys.STATS_TOTALS_KEY), now_ms)
    minutes, hours, days = {}, {}, {}
    for slot in range(MINUTE_SLOTS):
        bucket = table.get(keys.stats_minute_key(slot))
        if isinstance(bucket, dict) and isinstance(bucket.get("t"), int) and now_ms - bucket["t"] < DAY:
            minutes[str(bucket["t"])] = bucket
    for slot in range(HOUR_SLOTS):
        bucket = table.get(keys.stats_hour_key(slot))
        if isinstance(bucket, dict) and isinstance(bucket.get("t"), int) and now_ms - bucket["t"] < HOUR_SLOTS * HOUR:
            hours[str(bucket["t"])] = bucket
    for slot in range(DAY_SLOTS):
        day = table.get(keys.stats_day_key(slot))
        if isinstance(day, dict) and isinstance(day.get("t"), int) and now_ms - day["t"] < DAYS_KEPT * DAY:
            days[str(day["t"])] = dict(day.get("a") or {})
    return {"totals": totals, "minutes": minutes, "hours": hours, "days": days, "review": review_summary(table)}


def review_summary(table: Table) -> dict:
    """Pending review items of a partition and the one with the nearest deadline."""
    index = review_queue.pending_index(table)
    summary: dict[str, Any] = {"pending": len(index), "oldest_deadline_ms": None, "oldest_event_time": None}
    if index:
        rid, (deadline_ms, _) = min(index.items(), key=lambda kv: (kv[1][0], kv[0]))
        item = review_queue.get(table, rid) or {}
        summary.update(oldest_deadline_ms=deadline_ms, oldest_event_time=item.get("event_time"))
    return summary


def empty() -> dict:
    return {"totals": new_totals(2**62), "minutes": {}, "hours": {}, "days": {},
            "review": {"pending": 0, "oldest_deadline_ms": None, "oldest_event_time": None}}


def merge(into: dict, other: dict) -> dict:
    """Add ``other`` (one partition's, or one worker's merged, figures) to ``into``."""
    a, b = into["totals"], valid_totals(other.get("totals"), 2**62)
    a["since"] = min(a["since"], b["since"])
    a["forwarded"] += int(b["forwarded"])
    a["review_queued"] += int(b["review_queued"])
    for name in ("suppressed", "dead_lettered", "consent", "confirmations"):
        add_counts(a[name], b[name])
    histogram.merge(a["honour"], b["honour"])
    histogram.merge(a["confirm"], b["confirm"])
    for series in ("minutes", "hours"):
        mine = into[series]
        for t, bucket in (other.get(series) or {}).items():
            if t not in mine:
                mine[t] = {"t": bucket["t"], "f": 0, "s": {}, "d": 0, "o": 0, "i": 0, "c": 0}
            m = mine[t]
            for k in ("f", "d", "o", "i", "c"):
                m[k] += int(bucket.get(k, 0))
            add_counts(m["s"], bucket.get("s") or {})
    for t, accounts in (other.get("days") or {}).items():
        add_counts(into["days"].setdefault(t, {}), accounts)
    merge_review(into["review"], other.get("review") or {})
    return into


def merge_review(into: dict, other: dict) -> dict:
    """Add one review summary (:func:`review_summary`) to another."""
    into["pending"] += int(other.get("pending", 0))
    if other.get("oldest_deadline_ms") is not None and (
            into["oldest_deadline_ms"] is None or other["oldest_deadline_ms"] < into["oldest_deadline_ms"]):
        into["oldest_deadline_ms"], into["oldest_event_time"] = other["oldest_deadline_ms"], other.get(
            "oldest_event_time")
    return into


# ------------------------------------------------------------ the answer


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def _top(counts: dict[str, int], n: int, label: Callable[[str], str]) -> dict[str, int]:
    ranked = sorted(((k, v) for k, v in counts.items() if k != OTHER), key=lambda kv: (-kv[1], kv[0]))
    shown: dict[str, int] = {}
    for k, v in ranked[:n]:
        shown[label(k)] = shown.get(label(k), 0) + v  # (two names masked alike add up)
    rest = counts.get(OTHER, 0) + sum(v for _, v in ranked[n:])
    if rest:
        shown[OTHER] = shown.get(OTHER, 0) + rest
    return shown


def _points(buckets: dict[str, dict]) -> list[SeriesPoint]:
    """A series of :func:`render`, oldest first, from merged minute or hour buckets."""
    return [{"t": _iso(b["t"]), "forwarded": b["f"], "suppressed": sum(b["s"].values()),
             "suppressed_by_reason": dict(sorted(b["s"].items())), "dead_lettered": b["d"], "opt_outs": b["o"],
             "opt_ins": b["i"], "confirmations": b["c"]}
            for _, b in sorted(buckets.items(), key=lambda kv: int(kv[0]))]


def render(merged: dict, now_ms: int, label: Callable[[str], str] = lambda s: s) -> StatsFigures:
    """The ``GET /stats`` figures (``label`` shows an account name: the web layer masks digits),
    in the shape of :class:`~app.reports.stats_contract.StatsFigures`."""
    t = merged["totals"]
    consent = t["consent"]

    def by(intent: str, field: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind, n in consent.items():
            parts = kind.split("|")
            if len(parts) == 4 and parts[0] == intent and parts[3] == "applied":
                out[parts[field]] = out.get(parts[field], 0) + n
        return dict(sorted(out.items()))

    events: list[ConsentEventCount] = [
        {"intent": p[0], "source": p[1], "rule": p[2], "verdict": p[3], "count": n}
        for kind, n in sorted(consent.items()) if len(p := kind.split("|")) == 4]
    honour, confirm = t["honour"], t["confirm"]
    within = histogram.at_most(confirm, FIVE_MINUTES_MS)
    review = merged["review"]
    oldest: OldestReview | None = None
    if review.get("oldest_deadline_ms") is not None:
        deadline = review["oldest_deadline_ms"]
        event_time = review.get("oldest_event_time")
        event_ms = int(datetime.fromisoformat(event_time).timestamp() * 1000) if event_time else None
        oldest = {"event_time": event_time, "deadline": _iso(deadline),
                  "age_s": _seconds(now_ms - event_ms) if event_ms is not None else None,
                  "time_left_s": _seconds(deadline - now_ms), "overdue": deadline <= now_ms}
    prevented: list[PreventedSendsDay] = [
        {"day": _iso(int(day))[:10], "total": sum(accounts.values()),
         "by_account": _top(accounts, MAX_ACCOUNTS_SHOWN, label)}
        for day, accounts in sorted(merged["days"].items(), key=lambda kv: int(kv[0]))]
    return {
        "since": _iso(t["since"]) if t["since"] < 2**62 else None,
        "totals": {
            "forwarded": t["forwarded"],
            "suppressed": sum(t["suppressed"].values()),
            "suppressed_by_reason": dict(sorted(t["suppressed"].items())),
            "dead_lettered": sum(t["dead_lettered"].values()),
            "dead_lettered_by_reason": dict(sorted(t["dead_lettered"].items())),
            "opt_outs": sum(by("opt_out", 1).values()),
            "opt_outs_by_source": by("opt_out", 1),
            "opt_outs_by_rule": by("opt_out", 2),
            "opt_ins": sum(by("opt_in", 1).values()),
            "opt_ins_by_source": by("opt_in", 1),
            "opt_ins_by_rule": by("opt_in", 2),
            "confirmations": dict(sorted(t["confirmations"].items())),
            "review_queued": t["review_queued"],
        },
        "consent_events": events,
        "time_to_honour": {"count": honour["n"], "p50_s": _seconds(histogram.percentile(honour, 0.5)),
                           "p99_s": _seconds(histogram.percentile(honour, 0.99)),
                           "max_s": _seconds(honour["max"] if honour["n"] else None)},
        "confirmation_delay": {"limit_s": FIVE_MINUTES_MS // 1000, "count": confirm["n"], "within_limit": within,
                               "over_limit": confirm["n"] - within,
                               "p99_s": _seconds(histogram.percentile(confirm, 0.99)),
                               "max_s": _seconds(confirm["max"] if confirm["n"] else None)},
        "review_queue": {"pending": review["pending"], "oldest": oldest},
        "prevented_sends": prevented,
        "series": {"per_minute": _points(merged["minutes"]), "per_hour": _points(merged["hours"])},
    }
