"""Phone number normalization to E.164 (pure; no Kafka, no Faust)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


class NumberStatus(str, Enum):
    VALID = "valid"
    UNVERIFIED = "unverified"  # parses, but phonenumbers does not hold it valid
    UNPARSEABLE = "unparseable"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    status: NumberStatus
    e164: str | None = None
    error: str | None = None


PARSE_CACHE_SIZE = 131072  # numbers recur (a campaign texts the same people): parsing costs ~25 µs


def parse_number(raw: object, region: str) -> ParsedNumber:
    """Parse ``raw`` (any common format) with ``region`` as the default country."""
    if isinstance(raw, str):
        return _parse_cached(raw, region)
    return _parse(raw, region)


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parse_cached(raw: str, region: str) -> ParsedNumber:
    return _parse(raw, region)


def _parse(raw: object, region: str) -> ParsedNumber:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ParsedNumber(NumberStatus.MISSING, error="no phone number")
    if not isinstance(raw, str):
        return ParsedNumber(NumberStatus.UNPARSEABLE, error=f"phone number must be a string, got {type(raw).__name__}")
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        return ParsedNumber(NumberStatus.UNPARSEABLE, error=f"cannot parse phone number: {exc.args[-1]}")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        return ParsedNumber(NumberStatus.VALID, e164)
    return ParsedNumber(NumberStatus.UNVERIFIED, e164, error="not a valid phone number")

