"""A fixed-bucket histogram of durations, as plain JSON, mergeable by adding (no Kafka here).

Every partition of every worker counts into the same buckets, so two histograms merge
by adding their counts (and taking the larger maximum): the cluster's percentiles come
from the merged counts, not from averaging each partition's. A percentile is reported
as the upper bound of the bucket it falls in (never below the true value; capped by
the exact maximum), so its precision is the bucket's width: a few percent below a
minute, coarser above (the 10-business-day limit needs days, not seconds). 300 s is a
bound, so "within the FCC's 5 minutes" is counted exactly.

Shape: ``{"c": [count per bucket..., count above the last bound], "n": count,
"sum": total ms, "max": largest ms}``.
"""

from __future__ import annotations

from bisect import bisect_left

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# upper bounds (ms, inclusive), from 10 ms to 30 days; the last bucket counts what is above
BOUNDS_MS: tuple[int, ...] = (
    10, 25, 50, 100, 250, 500,
    SECOND, 2500, 5 * SECOND, 10 * SECOND, 30 * SECOND,
    MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 30 * MINUTE,
    HOUR, 4 * HOUR, 12 * HOUR,
    DAY, 2 * DAY, 4 * DAY, 7 * DAY, 10 * DAY, 14 * DAY, 30 * DAY,
)
FIVE_MINUTES_MS = 5 * MINUTE
assert FIVE_MINUTES_MS in BOUNDS_MS


def empty() -> dict:
    return {"c": [0] * (len(BOUNDS_MS) + 1), "n": 0, "sum": 0, "max": 0}


def observe(hist: dict, ms: int) -> None:
    """Count one duration (negative: 0, a clock a little ahead)."""
    ms = max(0, int(ms))
    counts = hist["c"]
    counts[bisect_left(BOUNDS_MS, ms)] += 1
    hist["n"] += 1
    hist["sum"] += ms
    if ms > hist["max"]:
        hist["max"] = ms


def merge(into: dict, other: dict) -> dict:
    """Add ``other`` to ``into`` (both histograms of these bounds); returns ``into``."""
    counts = into["c"]
    for i, n in enumerate(other.get("c") or ()):
        if i < len(counts):
            counts[i] += int(n)
    into["n"] += int(other.get("n", 0))
    into["sum"] += int(other.get("sum", 0))
    into["max"] = max(into["max"], int(other.get("max", 0)))
    return into


def valid(hist: object) -> bool:
    """Is ``hist`` one of ours (a stored value read back)?"""
    return (isinstance(hist, dict) and isinstance(hist.get("c"), list) and len(hist["c"]) == len(BOUNDS_MS) + 1
            and all(isinstance(hist.get(k), int) for k in ("n", "sum", "max")))


def percentile(hist: dict, q: float) -> int | None:
    """The upper bound (ms) of the bucket holding the ``q`` quantile, at most the maximum;
    None when nothing was counted."""
    n = hist["n"]
    if n <= 0:
        return None
    rank = max(1, -(-int(q * n * 1_000_000) // 1_000_000))  # ceil(q * n), without float surprises
    seen = 0
    for i, count in enumerate(hist["c"]):
        seen += count
        if seen >= rank:
            return min(BOUNDS_MS[i], hist["max"]) if i < len(BOUNDS_MS) else hist["max"]
    return hist["max"]


def at_most(hist: dict, bound_ms: int) -> int:
    """How many were counted at or below ``bound_ms`` (which must be one of the bounds)."""
    return sum(hist["c"][: BOUNDS_MS.index(bound_ms) + 1])
