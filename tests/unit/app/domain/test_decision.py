from datetime import UTC, datetime

from app.domain.consent import ConsentState, Source
from app.domain.decision import DELIVER, SuppressReason, check_recipient, decide
from app.domain.numbers import NumberStatus, ParsedNumber

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def state(opted_out: bool) -> ConsentState:
    return ConsentState(opted_out, T0, "m", Source.KEYWORD, "keyword", "stop", T0, "m")


def test_recipient_checks():
    assert check_recipient(ParsedNumber(NumberStatus.MISSING)).reason is SuppressReason.NO_PHONE
    assert check_recipient(ParsedNumber(NumberStatus.UNPARSEABLE)).reason is SuppressReason.INVALID_NUMBER
    assert check_recipient(ParsedNumber(NumberStatus.UNVERIFIED, "+15550000000")).reason is SuppressReason.INVALID_NUMBER
    assert check_recipient(ParsedNumber(NumberStatus.VALID, "+14155550101")) is None


def test_decide():
    assert decide(None) is DELIVER
    assert decide(state(False)) is DELIVER
    suppressed = decide(state(True))
    assert not suppressed.deliver and suppressed.reason is SuppressReason.OPTED_OUT
