"""Per-worker counters served by ``GET /stats`` (since the worker started; in memory).

Every counter is declared once, in :data:`CounterName`: :meth:`Stats.count` refuses a
name that is not (a misspelt counter would otherwise count where nothing reads it), and
``tests/unit/app/stream/test_counters.py`` checks every ``stats.count(...)`` of ``app/``
names a declared one. The durable figures of a table partition are
:mod:`app.stream.figures`'s (counted from a batch's outputs by :mod:`app.stream.tally`).
"""

from __future__ import annotations

from typing import Literal, get_args

from app.domain.decision import SuppressReason

CounterName = Literal[
    "forwarded",
    "dead_lettered",
    "opt_outs",
    "opt_ins",
    "help",
    "review",
    "confirmations",
    "operator_opt_outs",
    "provider_opt_outs",
    "duplicates",
    "stale",
    "receipts_ignored",
    "message_id_clashes",
    "review_opt_outs",
    "review_deadline_opt_outs",
    "review_dismissed",
    "review_overflow",
    "coerced_replies",
    "replays_skipped",  # routed records whose input was decided already (app.engine.processor)
    "decided_in_place",  # sends decided on the partition they were read from (no routed hop)
]
COUNTERS: tuple[CounterName, ...] = get_args(CounterName)  # in the order of the snapshot


class UnknownCounter(LookupError):
    """A counter that is not declared in :data:`CounterName`."""


class Stats:
    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.suppressed_by_reason = {reason.value: 0 for reason in SuppressReason}

    def count(self, name: CounterName, n: int = 1) -> None:
        try:
            self.counts[name] += n
        except KeyError:
            raise UnknownCounter(f"{name!r} is not a counter (app.stream.counters.CounterName)") from None

    def __getattr__(self, name: str) -> int:
        if name in COUNTERS:
            return self.counts[name]
        raise AttributeError(name)

    def suppressed(self, reason: SuppressReason | None) -> None:
        if reason is not None:
            self.suppressed_by_reason[reason.value] += 1

    def snapshot(self) -> dict:
        snap: dict = {name: self.counts[name] for name in COUNTERS}
        snap["suppressed"] = dict(self.suppressed_by_reason)
        return snap
