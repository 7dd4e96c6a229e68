from datetime import UTC, datetime

from app.domain.consent import ConsentState
from app.domain.decision import DELIVER, SuppressReason, check_recipient, decide
from app.domain.numbers import NumberStatus, ParsedNumber

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_recipient_checks():
    assert check_recipient(ParsedNumber(NumberStatus.MISSING)).reason is SuppressReason.NO_PHONE
    assert check_recipient(ParsedNumber(NumberStatus.UNPARSEABLE)).reason is SuppressReason.INVALID_NUMBER
    assert check_recipient(ParsedNumber(NumberStatus.UNVERIFIED, "+15550000000")).reason is SuppressReason.INVALID_NUMBER
    assert check_recipient(ParsedNumber(NumberStatus.VALID, "+14155550101")) is None


def test_decide():
    assert decide(None) is DELIVER
    assert decide(ConsentState(False, T0, "m", "keyword")) is DELIVER
    suppressed = decide(ConsentState(True, T0, "m", "keyword"))
    assert not suppressed.deliver and suppressed.reason is SuppressReason.OPTED_OUT
