"""Phone number normalization to E.164 (pure; no Kafka, no Faust).

Two readings of what someone wrote:

* :func:`parse_number` is lenient, for replies, operators and lookups: whatever
  phonenumbers makes of it (letters read as vanity digits, invisible characters
  dropped). A STOP is recorded under what it parses to: fail closed.
* :func:`parse_recipient` is strict, for sends: only digits (of any script), one
  leading plus and the usual separators; anything else (letters, invisible,
  control or bidi characters) makes the recipient invalid. A send is never
  rewritten to another person's number: the digits written must end with the
  national number it parses to.

Both reject anything longer than :data:`MAX_NUMBER_CHARS` before parsing, and
both cache by the raw string in a cache bounded by entries and bytes. Behind those, a
number written exactly in its valid E.164 form (how upstream services and providers write
them) is remembered in a :class:`~app.domain.number_set.NumberSet`, eight bytes a number, so
that a million distinct numbers are parsed once each, not again every time the small caches
have moved on (``make bench``).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from enum import Enum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from app.domain.bounded_cache import BoundedCache
from app.domain.number_set import NumberSet

# The longest phone number, written with a prefix and separators, is well under this.
MAX_NUMBER_CHARS = 64


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
    national: str | None = None  # the national significant number (digits)


# Numbers recur (a campaign texts the same people) and parsing costs ~25 µs.
PARSE_CACHE_ENTRIES = 65_536
PARSE_CACHE_BYTES = 24 * 1024 * 1024
_DICT_SLOT_BYTES = 104  # a dict entry, amortized over the table's growth
_KEY_TUPLE_BYTES = sys.getsizeof(("", ""))
_VALUE_BYTES = sys.getsizeof(ParsedNumber(NumberStatus.MISSING))


def _entry_cost(key: tuple[str, str], value: ParsedNumber) -> int:
    strings = (key[0], value.e164, value.error, value.national)
    return _DICT_SLOT_BYTES + _KEY_TUPLE_BYTES + _VALUE_BYTES + sum(sys.getsizeof(s) for s in strings if s)


_lenient_cache: BoundedCache[tuple[str, str], ParsedNumber] = BoundedCache(
    PARSE_CACHE_ENTRIES, PARSE_CACHE_BYTES, _entry_cost)
_strict_cache: BoundedCache[tuple[str, str], ParsedNumber] = BoundedCache(
    PARSE_CACHE_ENTRIES, PARSE_CACHE_BYTES, _entry_cost)

# Numbers written exactly as their valid E.164 form: 2 x 1,048,576 slots of 8 bytes (at least
# the last 1,048,576 such numbers seen are held)
E164_SET_BYTES = 32 * 1024 * 1024
_valid_e164 = NumberSet(E164_SET_BYTES)
# "+", no leading zero, ASCII digits only (``\d`` would take any script's): the digits as an
# integer then stand for this one string and no other
_E164_SHAPE = re.compile(r"\+[1-9][0-9]{1,14}")
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")  # a NANP area code never starts with 0 or 1
_COUNTRY_CODES = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)  # prefix-free (ITU E.164)

_MISSING = ParsedNumber(NumberStatus.MISSING, error="no phone number")
_TOO_LONG = ParsedNumber(NumberStatus.UNPARSEABLE,
                         error=f"longer than {MAX_NUMBER_CHARS} characters: not a phone number")


def parse_number(raw: object, region: str) -> ParsedNumber:
    """Lenient: parse ``raw`` (any common format) with ``region`` as the default country."""
    if not isinstance(raw, str):
        return _parse(raw, region)
    if len(raw) > MAX_NUMBER_CHARS:
        return _TOO_LONG
    key = (raw, region)
    parsed = _lenient_cache.get(key)
    if parsed is None:
        parsed = _known_e164(raw)
        if parsed is not None:
            return parsed
        parsed = _parse(raw, region)
        _remember_e164(raw, parsed)
        _lenient_cache.put(key, parsed)
        if parsed.status is NumberStatus.VALID and parsed.e164 != raw:
            # the number comes back in E.164 (a reply's sender, a send upstream normalised):
            # cached now, not at its first reply minutes later (make soak)
            _lenient_cache.put((parsed.e164, region), parsed)
    return parsed


def parse_recipient(raw: object, region: str) -> ParsedNumber:
    """Strict: a send's recipient, which must be exactly the digits it shows."""
    if not isinstance(raw, str):
        return _parse(raw, region)
    if len(raw) > MAX_NUMBER_CHARS:
        return _TOO_LONG
    key = (raw, region)
    parsed = _strict_cache.get(key)
    if parsed is None:
        parsed = _known_e164(raw)  # only digits after a "+": strict and lenient agree
        if parsed is not None:
            return parsed
        parsed = _parse_strict(raw, region)
        _strict_cache.put(key, parsed)
    return parsed


def record_key(raw: str, region: str = "US") -> bytes:
    """The key for a record about the number ``raw`` (a send's ``to``, a reply's ``from``): its
    E.164 form as the worker reads a send's recipient, in UTF-8. Produced with Kafka's default
    partitioner (murmur2: the Java client, aiokafka, kafka-python; librdkafka clients with
    ``partitioner=murmur2_random``) to a send topic with ``OPTOUT_PARTITIONS`` partitions, a send
    keyed so is on its number's partition, and decided there without a second hop
    (``docs/clients.md``). ValueError for a text the worker reads no number from (such a send is
    suppressed wherever it is)."""
    parsed = parse_recipient(raw, region)
    if parsed.e164 is None:
        raise ValueError(f"no number the worker reads: {parsed.error or parsed.status.value}")
    return parsed.e164.encode()


def _known_e164(raw: str) -> ParsedNumber | None:
    """The parse of ``raw`` if it is a number seen before written exactly in its valid E.164
    form (a "+" puts the country code in the digits: the default region plays no part)."""
    if _E164_SHAPE.fullmatch(raw) is None or int(raw[1:]) not in _valid_e164:
        return None
    digits = 2 if int(raw[1:2]) in _COUNTRY_CODES else 3 if int(raw[1:3]) in _COUNTRY_CODES else 4
    return ParsedNumber(NumberStatus.VALID, raw, national=raw[digits:])


def _remember_e164(raw: str, parsed: ParsedNumber) -> None:
    if parsed.status is NumberStatus.VALID and parsed.e164 == raw and _E164_SHAPE.fullmatch(raw):
        _valid_e164.add(int(raw[1:]))


def _parse(raw: object, region: str) -> ParsedNumber:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _MISSING
    if not isinstance(raw, str):
        return ParsedNumber(NumberStatus.UNPARSEABLE, error=f"phone number must be a string, got {type(raw).__name__}")
    if len(raw) > MAX_NUMBER_CHARS:
        return _TOO_LONG
    if _NANP_E164.fullmatch(raw):
        # what phonenumbers.parse makes of "+1" and ten digits that NANP numbers may start with
        # (no national prefix, no leading zero, no extension to strip: property-tested), without
        # its general path: 1 µs instead of 17
        number = PhoneNumber(country_code=1, national_number=int(raw[2:]))
        e164, national = raw, raw[2:]
    else:
        try:
            number = phonenumbers.parse(raw, region)
        except NumberParseException as exc:
            return ParsedNumber(NumberStatus.UNPARSEABLE, error=f"cannot parse phone number: {exc.args[-1]}")
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        national = phonenumbers.national_significant_number(number)
    if phonenumbers.is_valid_number(number):
        return ParsedNumber(NumberStatus.VALID, e164, national=national)
    return ParsedNumber(NumberStatus.UNVERIFIED, e164, error="not a valid phone number", national=national)


# What a recipient may contain besides digits: the separators people and systems write,
# in their ASCII and full-width forms. No letters, no invisible characters.
PLUS_SIGNS = frozenset("+\uff0b")
SEPARATORS = frozenset(" \u00a0\u3000-\u2010\u2011\u2012\u2013\u2014\u2212\uff0d.\uff0e()\uff08\uff09/\uff0f")


def _parse_strict(raw: str, region: str) -> ParsedNumber:
    if not raw.strip():
        return _MISSING
    if _E164_SHAPE.fullmatch(raw):  # a "+" and ASCII digits: nothing to refuse, the digits are raw[1:]
        problem, written = None, raw[1:]
    else:
        problem, written = recipient_problem(raw), None
    if problem is not None:
        return ParsedNumber(NumberStatus.UNPARSEABLE, error=problem)
    parsed = parse_number(raw, region)  # the same raw strings come back as replies: parse once
    if parsed.national is not None and not (written or written_digits(raw)).endswith(parsed.national):
        return ParsedNumber(NumberStatus.UNPARSEABLE,
                            error="the digits written do not end with the number they parse to")
    return parsed


def recipient_problem(raw: str) -> str | None:
    """Why ``raw`` is not acceptable as a send's recipient (None: it is)."""
    digits_seen = False
    pluses = 0
    for position, ch in enumerate(raw, 1):
        if unicodedata.category(ch) == "Nd":
            digits_seen = True
        elif ch in PLUS_SIGNS:
            pluses += 1
            if digits_seen or pluses > 1:
                return f"a '+' at position {position} that does not lead the number"
        elif ch not in SEPARATORS:
            name = unicodedata.name(ch, "unnamed")
            return (f"character U+{ord(ch):04X} ({name}) at position {position}: a recipient may hold only "
                    "digits, one leading '+' and separators (space - . ( ) /); it is never read as another number")
    return None if digits_seen else "no digits"


def written_digits(raw: str) -> str:
    """The ASCII digits of every decimal digit in ``raw``, whatever its script."""
    return "".join(str(unicodedata.digit(ch)) for ch in raw if unicodedata.category(ch) == "Nd")


def cache_usage() -> dict[str, int]:
    """Entries and accounted bytes of the parse caches (for /stats and the memory tests)."""
    return {
        "entries": len(_lenient_cache) + len(_strict_cache),
        "bytes": _lenient_cache.bytes + _strict_cache.bytes,
        "max_bytes": _lenient_cache.max_bytes + _strict_cache.max_bytes,
        "e164_numbers": len(_valid_e164),
        "e164_max_bytes": _valid_e164.max_bytes,
    }


# the region codes people write that are not ISO 3166 codes phonenumbers knows
_REGION_HINTS = {"UK": "GB", "EN": "GB", "EL": "GR"}


def check_region(code: str) -> str:
    """``code`` upper-cased if phonenumbers knows it as a region; else ValueError with a hint
    (a wrong default region makes every national-format number unparseable)."""
    region = code.strip().upper()
    if region in phonenumbers.SUPPORTED_REGIONS:
        return region
    hint = _REGION_HINTS.get(region)
    if hint is None:
        import difflib

        close = difflib.get_close_matches(region, sorted(phonenumbers.SUPPORTED_REGIONS), n=1, cutoff=0.5)
        hint = close[0] if close else None
    raise ValueError(f"{code!r} is not a region phonenumbers knows (an ISO 3166 code such as US, GB, DE)"
                     + (f"; did you mean {hint}?" if hint else ""))
