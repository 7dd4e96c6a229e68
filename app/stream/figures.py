"""The compliance figures of one table partition, kept in its state; merged across the cluster.

Each routed partition keeps its figures under bookkeeping keys of its own state
(:mod:`app.engine.state`): they go to the changelog and the store in the same
checkpoint as the state changes they count, so they survive restarts and takeovers,
and a replay after a crash recounts exactly what it redoes (under exactly-once the
changelog records are in the same transaction as the outputs and the offsets).

- ``__stats__``: totals since the partition first counted: sends forwarded, suppressed
  by reason, dead letters by reason, consent records by intent|source|rule|verdict,
  confirmations by purpose, review items queued, and two histograms
  (:mod:`app.stream.histogram`): time to honour and confirmation delay.
- ``__stats__|m|<slot>``: one bucket per minute, a ring of 1,440 (24 hours);
  ``__stats__|h|<slot>``: one per hour, a ring of 168 (7 days); by processing time.
- ``__stats__|d|<slot>``: sends suppressed because the number had opted out, per
  account, one per day, a ring of 32 (31 days kept); at most
  :data:`MAX_ACCOUNTS_PER_DAY` accounts a partition and day, the rest as ``(other)``.
- ``__stats__|routed``: the highest input offset counted per input partition, for the
  routing-stage tallies (:mod:`app.stream.tally`).

Each checkpoint rewrites only the totals and the current buckets (a few hundred bytes).
Reading (:func:`read`) is for ``GET /stats``; merging (:func:`merge`) adds partitions
and workers; :func:`render` is the answer.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from app.stream import histogram, review_queue
from app.stream.histogram import DAY, FIVE_MINUTES_MS, HOUR, MINUTE
from app.stream.tally import MAX_CONSENT_KINDS, OTHER, Tally

Table = MutableMapping[bytes, Any]

TOTALS_KEY = b"__stats__"
ROUTED_MARKS_KEY = b"__stats__|routed"
MINUTE_SLOTS, HOUR_SLOTS, DAY_SLOTS = 24 * 60, 7 * 24, 32
DAYS_KEPT = 31
MAX_ACCOUNTS_PER_DAY = 200  # per partition; accounts are client-controlled strings
MAX_ACCOUNTS_SHOWN = 100  # per day in an answer
VERSION = 1


def minute_key(minute_ms: int) -> bytes:
    return b"__stats__|m|%d" % ((minute_ms // MINUTE) % MINUTE_SLOTS)


def hour_key(hour_ms: int) -> bytes:
    return b"__stats__|h|%d" % ((hour_ms // HOUR) % HOUR_SLOTS)


def day_key(day_ms: int) -> bytes:
    return b"__stats__|d|%d" % ((day_ms // DAY) % DAY_SLOTS)


def new_totals(now_ms: int) -> dict:
    return {"v": VERSION, "since": now_ms, "forwarded": 0, "suppressed": {}, "dead_lettered": {}, "consent": {},
            "confirmations": {}, "review_queued": 0, "honour": histogram.empty(), "confirm": histogram.empty()}


def _totals(value: object, now_ms: int) -> dict:
    if isinstance(value, dict) and value.get("v") == VERSION and histogram.valid(value.get("honour")) \
            and histogram.valid(value.get("confirm")):
        return value
    return new_totals(now_ms)


def _add(into: dict[str, int], counts: dict[str, int], cap: int | None = None) -> None:
    for name, n in counts.items():
        if cap is not None and name not in into and len(into) >= cap:
            name = OTHER if "|" not in name else "|".join([OTHER] * (name.count("|") + 1))
        into[name] = into.get(name, 0) + n


# ------------------------------------------------------------ counting (the processor, once per batch)


def add(table: Table, tally: Tally, now_ms: int, kept: dict[bytes, Any] | None = None) -> None:
    """Add one batch's figures to the partition's state. ``kept``: the values this function
    last wrote to ``table`` (the processor keeps them per partition until the partition is
    dropped), so a batch after a checkpoint does not read and decode them again."""
    if kept is not None:
        table = _Kept(table, kept)
    totals = _totals(table.get(TOTALS_KEY), now_ms)
    totals["forwarded"] += tally.forwarded
    _add(totals["suppressed"], tally.suppressed)
    _add(totals["dead_lettered"], tally.dead_lettered)
    _add(totals["consent"], tally.consent, MAX_CONSENT_KINDS)
    _add(totals["confirmations"], tally.confirmations)
    totals["review_queued"] += tally.review_queued
    for name, values in (("honour", tally.honour_ms), ("confirm", tally.confirm_ms)):
        for ms in values:
            histogram.observe(totals[name], ms)
    table[TOTALS_KEY] = totals
    opt_outs, opt_ins = tally.applied("opt_out"), tally.applied("opt_in")
    for key, start in ((minute_key(now_ms), now_ms - now_ms % MINUTE), (hour_key(now_ms), now_ms - now_ms % HOUR)):
        bucket = table.get(key)
        if not isinstance(bucket, dict) or bucket.get("t") != start:
            bucket = {"t": start, "f": 0, "s": {}, "d": 0, "o": 0, "i": 0, "c": 0}
        bucket["f"] += tally.forwarded
        _add(bucket["s"], tally.suppressed)
        bucket["d"] += sum(tally.dead_lettered.values())
        bucket["o"] += opt_outs
        bucket["i"] += opt_ins
        bucket["c"] += sum(tally.confirmations.values())
        table[key] = bucket
    if tally.prevented:
        start = now_ms - now_ms % DAY
        key = day_key(now_ms)
        day = table.get(key)
        if not isinstance(day, dict) or day.get("t") != start:
            day = {"t": start, "a": {}}
        _add(day["a"], tally.prevented, MAX_ACCOUNTS_PER_DAY)
        table[key] = day
    if kept is not None:  # only the current buckets are kept (the earlier ones are in the store)
        current = {TOTALS_KEY, minute_key(now_ms), hour_key(now_ms), day_key(now_ms)}
        for old in [k for k in kept if k not in current]:
            del kept[old]


class _Kept:
    """``table`` read through the values last written (written to both)."""

    __slots__ = ("kept", "table")

    def __init__(self, table: Table, kept: dict[bytes, Any]) -> None:
        self.table, self.kept = table, kept

    def get(self, key: bytes) -> Any:
        value = self.kept.get(key)
        return self.table.get(key) if value is None else value

    def __setitem__(self, key: bytes, value: Any) -> None:
        self.kept[key] = value
        self.table[key] = value


def fresh_route_outcomes(table: Table, source: str, outcomes: list) -> list:
    """The entries of a routing-stage tally record not counted before (a replayed or
    duplicated tally record repeats offsets already counted); marks them counted."""
    marks = table.get(ROUTED_MARKS_KEY) or {}
    mark = start = marks.get(source, -1)
    fresh = []
    for entry in outcomes:  # in offset order; an offset at or below the mark was counted
        if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], int) and entry[0] > mark:
            fresh.append(entry)
            mark = entry[0]
    if mark != start:
        marks[source] = mark
        table[ROUTED_MARKS_KEY] = marks
    return fresh


# ------------------------------------------------------------ reading (GET /stats)


def read(table: Table, now_ms: int) -> dict:
    """One partition's figures, in the mergeable form of :func:`merge`."""
    totals = _totals(table.get(TOTALS_KEY), now_ms)
    minutes, hours, days = {}, {}, {}
    for slot in range(MINUTE_SLOTS):
        bucket = table.get(b"__stats__|m|%d" % slot)
        if isinstance(bucket, dict) and isinstance(bucket.get("t"), int) and now_ms - bucket["t"] < DAY:
            minutes[str(bucket["t"])] = bucket
    for slot in range(HOUR_SLOTS):
        bucket = table.get(b"__stats__|h|%d" % slot)
        if isinstance(bucket, dict) and isinstance(bucket.get("t"), int) and now_ms - bucket["t"] < HOUR_SLOTS * HOUR:
            hours[str(bucket["t"])] = bucket
    for slot in range(DAY_SLOTS):
        day = table.get(b"__stats__|d|%d" % slot)
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
    a, b = into["totals"], _totals(other.get("totals"), 2**62)
    a["since"] = min(a["since"], b["since"])
    a["forwarded"] += int(b["forwarded"])
    a["review_queued"] += int(b["review_queued"])
    for name in ("suppressed", "dead_lettered", "consent", "confirmations"):
        _add(a[name], b[name])
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
            _add(m["s"], bucket.get("s") or {})
    for t, accounts in (other.get("days") or {}).items():
        _add(into["days"].setdefault(t, {}), accounts)
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


def render(merged: dict, now_ms: int, label: Callable[[str], str] = lambda s: s) -> dict:
    """The ``GET /stats`` figures (``label`` shows an account name: the web layer masks digits)."""
    t = merged["totals"]
    consent = t["consent"]

    def by(intent: str, field: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind, n in consent.items():
            parts = kind.split("|")
            if len(parts) == 4 and parts[0] == intent and parts[3] == "applied":
                out[parts[field]] = out.get(parts[field], 0) + n
        return dict(sorted(out.items()))

    events = [{"intent": p[0], "source": p[1], "rule": p[2], "verdict": p[3], "count": n}
              for kind, n in sorted(consent.items()) if len(p := kind.split("|")) == 4]
    honour, confirm = t["honour"], t["confirm"]
    within = histogram.at_most(confirm, FIVE_MINUTES_MS)
    series = {
        name: [{"t": _iso(b["t"]), "forwarded": b["f"], "suppressed": sum(b["s"].values()),
                "suppressed_by_reason": dict(sorted(b["s"].items())), "dead_lettered": b["d"], "opt_outs": b["o"],
                "opt_ins": b["i"], "confirmations": b["c"]}
               for _, b in sorted(merged[key].items(), key=lambda kv: int(kv[0]))]
        for name, key in (("per_minute", "minutes"), ("per_hour", "hours"))
    }
    review = merged["review"]
    oldest = None
    if review.get("oldest_deadline_ms") is not None:
        deadline = review["oldest_deadline_ms"]
        event_time = review.get("oldest_event_time")
        event_ms = int(datetime.fromisoformat(event_time).timestamp() * 1000) if event_time else None
        oldest = {"event_time": event_time, "deadline": _iso(deadline),
                  "age_s": _seconds(now_ms - event_ms) if event_ms is not None else None,
                  "time_left_s": _seconds(deadline - now_ms), "overdue": deadline <= now_ms}
    prevented = [{"day": _iso(int(day))[:10], "total": sum(accounts.values()),
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
        "series": series,
    }
