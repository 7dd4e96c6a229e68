"""The deliver/suppress decision for one send request (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from app.domain.consent import ConsentState
from app.domain.numbers import NumberStatus, ParsedNumber


class SuppressReason(str, Enum):
    OPTED_OUT = "opted_out"
    NO_PHONE = "no_phone"
    INVALID_NUMBER = "invalid_number"


@dataclass(frozen=True, slots=True)
class Decision:
    deliver: bool
    reason: SuppressReason | None = None
    detail: str | None = None


DELIVER = Decision(deliver=True)


def check_recipient(recipient: ParsedNumber) -> Decision | None:
    """Decide what needs no consent lookup: a missing or undeliverable number.

    Returns None when the number is deliverable and the consent state decides.
    """
    if recipient.status is NumberStatus.MISSING:
        return Decision(False, SuppressReason.NO_PHONE, recipient.error)
    if recipient.status is not NumberStatus.VALID:
        return Decision(False, SuppressReason.INVALID_NUMBER, recipient.error)
    return None


def decide(state: ConsentState | None, requested_at: datetime | None = None) -> Decision:
    """Decide a send to a valid number from the recipient's consent state.

    Fail closed both ways: suppressed if the number is opted out now, or if it
    was opted out at any moment since the send was requested (``requested_at``
    before the opt-in that ended the latest opt-out).
    """
    if state is None:
        return DELIVER
    if state.opted_out:
        return Decision(False, SuppressReason.OPTED_OUT)
    if requested_at is not None and state.resubscribed_at is not None and requested_at < state.resubscribed_at:
        return Decision(False, SuppressReason.OPTED_OUT, "requested while, or before, the number was opted out")
    return DELIVER
