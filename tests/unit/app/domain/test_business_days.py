from datetime import UTC, datetime

import pytest

from app.domain.business_days import add_business_days


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-11-23T10:00:00", 10, "2026-12-07T10:00:00"),  # Monday -> Monday two weeks on
        ("2026-11-27T15:30:00", 10, "2026-12-11T15:30:00"),  # Friday
        ("2026-11-28T09:00:00", 10, "2026-12-11T09:00:00"),  # Saturday counts from Monday
        ("2026-11-29T09:00:00", 1, "2026-11-30T09:00:00"),  # Sunday + 1 = Monday
        ("2026-11-27T09:00:00", 1, "2026-11-30T09:00:00"),  # Friday + 1 = Monday
        ("2026-11-25T09:00:00", 0, "2026-11-25T09:00:00"),
    ],
)
def test_add_business_days(start, days, expected):
    moment = datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert add_business_days(moment, days) == datetime.fromisoformat(expected).replace(tzinfo=UTC)
