"""Masking phone numbers in text: the one masking function (logs, HTTP errors, listings).

:func:`mask` keeps the last ``keep`` digits of every run of digits that may be a phone
number and turns the others to ``*`` (``+14155550100`` becomes ``+*******0100``). A run
is digits (any script's, or percent-encoded ``%30``-``%39``) with at most two separators
between two digits (space, ``-``, ``.``, ``(``, ``)``, ``+``, or their percent-encodings),
optionally after a ``+`` or ``%2B``. It is masked when it has **7 or more digits**, or
**5 or more after a ``+``**. Shorter numbers (ports, counts, partitions, years) are left
alone, and so are an ISO date (``2026-11-20``, optionally with its hour) and a dotted
IPv4 address. Longer numbers that are not phone numbers (millisecond timestamps, large
offsets) are masked too: the price of never letting one through.

Machine ids are left alone, where no phone number can hide: a **UUID** (``8-4-4-4-12``
hex digits of one case, as in a Kafka consumer's member id ``sms-optout-worker-19caad97-
2bc5-44e4-9482-d35d0289ebb8``) and a **hex id** (32 or more hex digits of one case: an MD5,
SHA-1 or SHA-256 digest, a UUID without dashes), each standing alone (no letter or digit
touches it). Nobody writes a phone number in that shape. A UUID is kept whole, unless a run
of digits outside it (or a ``+``) would go on into it: then, as of a hex id, only the part
from its first letter to its last is kept, where every digit has letters on both sides; the
digits at its edges are read as always, with the digits and separators they touch outside,
so ``+1 415 555 0100`` glued to an id is masked as before.
"""

from __future__ import annotations

import re

MIN_DIGITS = 7
MIN_DIGITS_AFTER_PLUS = 5
HEX_ID_DIGITS = 32  # a hex id: an MD5, a UUID without dashes, SHA-1, SHA-256 ...

_DIGIT = r"(?:\d|%3[0-9])"
_SEP = r"(?:[ \t\u00a0\-.()+]|%20|%2[89bBdDeE])"
_RUN = re.compile(rf"(?P<plus>\+|%2[bB])?(?P<body>{_DIGIT}(?:{_SEP}{{0,2}}{_DIGIT})*)")
_TOKEN = re.compile(rf"{_SEP}|(?P<digit>{_DIGIT})")  # separators first: "%20" is no digit
_DATE = re.compile(r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[ T](?:[01]\d|2[0-3]))?")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_ALNUM = r"[^\W_]"  # a letter or a digit, of any script
_MACHINE_ID = re.compile(
    rf"(?<!{_ALNUM})(?:(?P<uuid>"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
    rf")|[0-9a-f]{{{HEX_ID_DIGITS},}}|[0-9A-F]{{{HEX_ID_DIGITS},}})(?!{_ALNUM})")
_HEX_LETTER = re.compile(r"[a-fA-F]")
# a run of digits outside an id that would go on into it (at most 9 characters before it)
_RUN_BEFORE = re.compile(rf"(?:{_DIGIT}{_SEP}{{0,2}}|\+|%2[bB])\Z")
_RUN_AFTER = re.compile(rf"{_SEP}{{0,2}}{_DIGIT}")


def _masked(match: re.Match[str], keep: int) -> str:
    plus, body = match.group("plus"), match.group("body")
    tokens = [t for t in _TOKEN.finditer(body) if t.group("digit")]
    if len(tokens) < (MIN_DIGITS_AFTER_PLUS if plus else MIN_DIGITS):
        return match.group(0)
    if not plus and (_DATE.fullmatch(body) or _IPV4.fullmatch(body)):
        return match.group(0)
    out, last = [plus or ""], 0
    for token in tokens[: max(len(tokens) - keep, 0)]:
        out += [body[last:token.start()], "*"]
        last = token.end()
    out.append(body[last:])
    return "".join(out)


def mask(text: str, keep: int = 4) -> str:
    """``text`` with every phone-number-like digit run masked but for its last ``keep`` digits
    (UUIDs and hex ids excepted, from their first letter to their last)."""
    if not any(c.isdigit() for c in text) and "%3" not in text:
        return text
    out: list[str] = []
    last = 0
    for start, end in _machine_ids(text):
        out += [_RUN.sub(lambda m: _masked(m, keep), text[last:start]), text[start:end]]
        last = end
    out.append(_RUN.sub(lambda m: _masked(m, keep), text[last:]))
    return "".join(out)


def _machine_ids(text: str) -> list[tuple[int, int]]:
    """The spans left as they are: each UUID whole, unless digits outside run on into it
    (then from its first letter on, or up to its last); each hex id from its first letter
    to its last."""
    spans = []
    for found in _MACHINE_ID.finditer(text):
        start, end = found.span()
        letters = [m.start() for m in _HEX_LETTER.finditer(found.group())]
        if not letters:
            continue
        if not found.group("uuid") or _RUN_BEFORE.search(text, max(start - 9, 0), start):
            start = found.start() + letters[0]
        if not found.group("uuid") or _RUN_AFTER.match(text, end):
            end = found.start() + letters[-1] + 1
        spans.append((start, end))
    return spans


def redact(text: str) -> str:
    """``text`` with every phone-number-like digit run masked entirely (for HTTP answers)."""
    return mask(text, keep=0)
