"""Per-worker counters served by ``GET /stats``."""

from __future__ import annotations

from app.domain.decision import SuppressReason


class Stats:
    def __init__(self) -> None:
        self.forwarded = 0
        self.suppressed_by_reason = {reason.value: 0 for reason in SuppressReason}
        self.dead_lettered = 0
        self.opt_outs = 0
        self.opt_ins = 0

    def count(self, name: str, n: int = 1) -> None:
        setattr(self, name, getattr(self, name) + n)

    def suppressed(self, reason: SuppressReason | None) -> None:
        if reason is not None:
            self.suppressed_by_reason[reason.value] += 1

    def snapshot(self) -> dict:
        return {
            "forwarded": self.forwarded,
            "suppressed": dict(self.suppressed_by_reason),
            "dead_lettered": self.dead_lettered,
            "opt_outs": self.opt_outs,
            "opt_ins": self.opt_ins,
        }
