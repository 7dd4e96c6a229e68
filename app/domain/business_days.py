"""Business-day arithmetic for review deadlines (pure). Weekends only; no holiday calendar."""

from __future__ import annotations

from datetime import datetime, timedelta

REVIEW_BUSINESS_DAYS = 10  # FCC: honour a revocation within 10 business days


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward by ``days`` Monday-to-Friday days, same time of day."""
    moment = start
    added = 0
    while added < days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment
