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


REQUESTED_WHILE_OPTED_OUT = Decision(False, SuppressReason.OPTED_OUT,
                                     "requested while, or before, the number was opted out")


def decide(state: ConsentState | None, requested_at: datetime | None = None,
           replies_before: tuple[str, list[int]] | None = None) -> Decision:
    """Decide a send to a valid number from the recipient's consent state.

    Fail closed both ways: suppressed if the number is opted out now, or if it may have
    been opted out when the send was requested: unless the reply that ended the latest
    opt-out (``state.resubscribed_by``) lies below ``replies_before`` (a reply topic and, per
    partition, an offset every reply below which was acknowledged before the send was
    produced: broker offsets, no clock), the send may predate it. Times can only add
    suppressions: a send requested (``requested_at``, its record's time) before the opt-in's
    time (``resubscribed_at``, the later of its record's time and the time it claims) is
    suppressed too; no time can let a send through.
    """
    if state is None:
        return DELIVER
    if state.opted_out:
        return Decision(False, SuppressReason.OPTED_OUT)
    by = state.resubscribed_by
    if by is not None:
        topic, partition, offset = by
        if replies_before is None or replies_before[0] != topic or partition >= len(replies_before[1]) \
                or offset >= replies_before[1][partition]:
            return REQUESTED_WHILE_OPTED_OUT
    # times may only suppress more (a START that claims a later time than its record)
    if requested_at is not None and state.resubscribed_at is not None and requested_at < state.resubscribed_at:
        return REQUESTED_WHILE_OPTED_OUT
    return DELIVER
