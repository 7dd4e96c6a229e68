"""The compliance figures of one table partition, kept in its state; merged across the cluster.

Each routed partition keeps its figures under bookkeeping keys of its own state
(:mod:`app.engine.state`; the keys are :mod:`app.stream.keys`'s): they go to the changelog and the store in the same
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
Reading them for ``GET /stats`` (read, merge, render) is :mod:`app.reports.stats_answer`.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from app.stream import histogram
from app.stream.histogram import DAY, HOUR, MINUTE
from app.stream.keys import STATS_ROUTED_MARKS_KEY, STATS_TOTALS_KEY, stats_day_key, stats_hour_key, stats_minute_key
from app.stream.tally import MAX_CONSENT_KINDS, OTHER, Tally

Table = MutableMapping[bytes, Any]

MINUTE_SLOTS, HOUR_SLOTS, DAY_SLOTS = 24 * 60, 7 * 24, 32
DAYS_KEPT = 31
MAX_ACCOUNTS_PER_DAY = 200  # per partition; accounts are client-controlled strings
MAX_ACCOUNTS_SHOWN = 100  # per day in an answer
VERSION = 1


def minute_key(at_ms: int) -> bytes:
    """The key of the minute bucket of the time ``at_ms``."""
    return stats_minute_key((at_ms // MINUTE) % MINUTE_SLOTS)


def hour_key(at_ms: int) -> bytes:
    return stats_hour_key((at_ms // HOUR) % HOUR_SLOTS)


def day_key(at_ms: int) -> bytes:
    return stats_day_key((at_ms // DAY) % DAY_SLOTS)


def new_totals(now_ms: int) -> dict:
    return {"v": VERSION, "since": now_ms, "forwarded": 0, "suppressed": {}, "dead_lettered": {}, "consent": {},
            "confirmations": {}, "review_queued": 0, "honour": histogram.empty(), "confirm": histogram.empty()}


def new_bucket(start_ms: int) -> dict:
    """A minute or hour bucket: its start, sends forwarded, suppressed by reason, dead letters,
    opt-outs and opt-ins applied, confirmations."""
    return {"t": start_ms, "f": 0, "s": {}, "d": 0, "o": 0, "i": 0, "c": 0}


def valid_totals(value: object, now_ms: int) -> dict:
    if isinstance(value, dict) and value.get("v") == VERSION and histogram.valid(value.get("honour")) \
            and histogram.valid(value.get("confirm")):
        return value
    return new_totals(now_ms)


def add_counts(into: dict[str, int], counts: dict[str, int], cap: int | None = None) -> None:
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
    totals = valid_totals(table.get(STATS_TOTALS_KEY), now_ms)
    totals["forwarded"] += tally.forwarded
    add_counts(totals["suppressed"], tally.suppressed)
    add_counts(totals["dead_lettered"], tally.dead_lettered)
    add_counts(totals["consent"], tally.consent, MAX_CONSENT_KINDS)
    add_counts(totals["confirmations"], tally.confirmations)
    totals["review_queued"] += tally.review_queued
    for name, values in (("honour", tally.honour_ms), ("confirm", tally.confirm_ms)):
        for ms in values:
            histogram.observe(totals[name], ms)
    table[STATS_TOTALS_KEY] = totals
    opt_outs, opt_ins = tally.applied("opt_out"), tally.applied("opt_in")
    for key, start in ((minute_key(now_ms), now_ms - now_ms % MINUTE), (hour_key(now_ms), now_ms - now_ms % HOUR)):
        bucket = table.get(key)
        if not isinstance(bucket, dict) or bucket.get("t") != start:
            bucket = new_bucket(start)
        bucket["f"] += tally.forwarded
        add_counts(bucket["s"], tally.suppressed)
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
        add_counts(day["a"], tally.prevented, MAX_ACCOUNTS_PER_DAY)
        table[key] = day
    if kept is not None:  # only the current buckets are kept (the earlier ones are in the store)
        current = {STATS_TOTALS_KEY, minute_key(now_ms), hour_key(now_ms), day_key(now_ms)}
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
    marks = table.get(STATS_ROUTED_MARKS_KEY) or {}
    mark = start = marks.get(source, -1)
    fresh = []
    for entry in outcomes:  # in offset order; an offset at or below the mark was counted
        if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], int) and entry[0] > mark:
            fresh.append(entry)
            mark = entry[0]
    if mark != start:
        marks[source] = mark
        table[STATS_ROUTED_MARKS_KEY] = marks
    return fresh
