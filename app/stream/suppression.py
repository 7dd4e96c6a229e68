"""Build `sms.suppressed` records (see schemas.suppressed)."""

from __future__ import annotations

from datetime import datetime

from app.domain.decision import Decision
from app.records import Output, dumps, iso, utcnow


def suppressed(topic: str, message: dict, decision: Decision, opted_out_at: datetime | None = None) -> Output:
    assert decision.reason is not None
    record = {
        "reason": decision.reason.value,
        "message": message,
        "suppressed_at": iso(utcnow()),
        "opted_out_at": iso(opted_out_at) if opted_out_at else None,
        "detail": decision.detail,
    }
    return Output(topic, dumps(record))
