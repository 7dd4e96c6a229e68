"""Per-worker counters served by ``GET /stats``."""

from __future__ import annotations

from collections import Counter

from app.domain.decision import SuppressReason

COUNTERS = (
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
)


class Stats:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.suppressed_by_reason = {reason.value: 0 for reason in SuppressReason}

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

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
