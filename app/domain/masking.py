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
"""

from __future__ import annotations

import re

_DIGIT = r"(?:\d|%3[0-9])"
_SEP = r"(?:[ \t\u00a0\-.()+]|%20|%2[89bBdDeE])"
_RUN = re.compile(rf"(?P<plus>\+|%2[bB])?(?P<body>{_DIGIT}(?:{_SEP}{{0,2}}{_DIGIT})*)")
_TOKEN = re.compile(rf"{_SEP}|(?P<digit>{_DIGIT})")  # separators first: "%20" is no digit
_DATE = re.compile(r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[ T](?:[01]\d|2[0-3]))?")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")

MIN_DIGITS = 7
MIN_DIGITS_AFTER_PLUS = 5


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
    """``text`` with every phone-number-like digit run masked but for its last ``keep`` digits."""
    if not any(c.isdigit() for c in text) and "%3" not in text:
        return text
    return _RUN.sub(lambda m: _masked(m, keep), text)


def redact(text: str) -> str:
    """``text`` with every phone-number-like digit run masked entirely (for HTTP answers)."""
    return mask(text, keep=0)
