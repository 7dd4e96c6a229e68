"""The deliver/suppress decision for one send request (pure)."""

from __future__ import annotations

from dataclasses import dataclass
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


def decide(state: ConsentState | None) -> Decision:
    """Decide a send to a valid number from the recipient's consent state."""
    if state is not None and state.opted_out:
        return Decision(False, SuppressReason.OPTED_OUT)
    return DELIVER
