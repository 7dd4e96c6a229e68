"""Hostile records for the hostile-input suite (``python -m chaos.hostile``), each with the
outcomes the worker's contract allows for it (pure: no Kafka here).

Every record is a :class:`HostileRecord`: the bytes to produce (value, key, headers,
timestamp) and ``expect``, the set of outcomes allowed for it:

- ``deadletter``: a record on ``sms.deadletter`` naming the input (topic, partition, offset);
- ``provider``: the send forwarded, its ``to`` = ``number`` (the E.164 of the digits written);
- ``suppressed:<reason>``: the send suppressed (``opted_out`` / ``no_phone`` / ``invalid_number``);
- ``consent:opt_out`` / ``consent:opt_in``: a consent record for ``number`` and ``account``;
- ``no_output``: processed (the worker's committed offset passed it) and nothing written.

The contract the expectations come from (issue 8):

Sends (sms.outbound) end in exactly one of provider / suppressed / deadletter. Dead-lettered:
tombstone, not JSON (invalid UTF-8, random bytes), JSON that is not an object, over
``OPTOUT_MAX_PAYLOAD_BYTES`` (65,536), schema errors (message_id missing/empty/non-string, body
missing/non-string, account_id non-string, ``to`` neither string nor null). Suppressed
``invalid_number``: ``to`` longer than 64 characters, holding a letter, an invisible / format /
control / bidi character, or anything but digits of any Unicode script (Nd), '+' / '＋' and the
usual separators (space, NBSP, - ‐ ‑ – — . ( ) /); numbers phonenumbers does not hold valid.
Accepted: full-width, Arabic-Indic and other Nd digits, the usual separators; they reach the
provider with ``to`` = the E.164 of the digits, or are suppressed ``opted_out``.

Replies (sms.inbound) are dead-lettered only for: tombstone, not JSON, not an object, over the
limit, ``from`` missing / null / empty / unparseable / over 64 characters / neither string nor
number, ``body`` missing or not a string. Everything else is processed: a missing or non-string
message_id gets a derived id, a non-string or empty account_id becomes "default" (numbers are
stringified), a malformed ``to`` or ``locale`` is ignored, a naive ``received_at`` is UTC, an
unparseable or non-string one is replaced by the record's timestamp, one later than the record
timestamp + 5 minutes is clamped; ``from`` as a JSON number is stringified; ``from`` with
letters is read leniently (a STOP is recorded under what it parses to); a body over 2,000
characters is classified on its prefix.

Receipts (sms.status): not opt-out codes: no output; malformed: dead-lettered; an opt-out code
with an unparseable ``to``: dead-lettered.

Keys and headers (null, empty, binary, 100 KB keys; binary, empty-named, null-valued, many
headers) are drawn for every record, valid ones included, and must change no outcome.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from chaos.numbers import is_valid

# ------------------------------------------------------------------ outcomes

DL = "deadletter"
PROVIDER = "provider"
SUP_OPTED = "suppressed:opted_out"
SUP_INVALID = "suppressed:invalid_number"
SUP_NO_PHONE = "suppressed:no_phone"
OPT_OUT = "consent:opt_out"
OPT_IN = "consent:opt_in"
NO_OUTPUT = "no_output"

INBOUND, OUTBOUND, STATUS = "inbound", "outbound", "status"
TOPICS = (INBOUND, OUTBOUND, STATUS)
PHASES = ("seed", "mix", "after", "followup")

MAX_PAYLOAD = 65_536
MAX_NUMBER_CHARS = 64
SKEW_MS = 5 * 60 * 1000
OUR_NUMBER = "+14155550000"

# ------------------------------------------------------------------ sizes


@dataclass(frozen=True)
class HostileScale:
    name: str
    per_kind: int  # records of each hostile kind (each topic of a generic kind)
    huge_per_kind: int  # of kinds whose records are 60-170 KB
    seed_stops: int  # valid STOPs produced first (opted-out numbers for the mix)
    valid_stops: int  # valid STOPs in the mix
    valid_sends: int  # valid sends to fresh numbers in the mix
    opted_sends: int  # valid sends to seed-opted numbers in the mix (-> suppressed opted_out)
    lookalikes: int  # look-alike sends per look-alike kind of a seed-opted number in the mix
    followup_lookalikes: int  # opted-out numbers also sent to as look-alikes in the follow-up
    huge_key_share: float = 0.02  # records with a 100 KB key
    phase_timeout_s: float = 60.0  # wait at most this long for a phase to be accounted for
    quiet_s: float = 1.0  # then read this long more (duplicates)
    partitions: int = 4
    input_partitions: int = 3


SCALES = {
    # tests/integration/test_hostile.py (make test): ~1,600 records, ~15 s with the worker's start
    "test": HostileScale(name="test", per_kind=8, huge_per_kind=4, seed_stops=30, valid_stops=100, valid_sends=200,
                         opted_sends=100, lookalikes=5, followup_lookalikes=15, phase_timeout_s=30.0, quiet_s=1.0),
    # make chaos: ~30,000 records
    "full": HostileScale(name="full", per_kind=150, huge_per_kind=40, seed_stops=300, valid_stops=2000,
                         valid_sends=5000, opted_sends=2000, lookalikes=60, followup_lookalikes=300,
                         phase_timeout_s=240.0, quiet_s=3.0),
}

# ------------------------------------------------------------------ records


@dataclass
class HostileRecord:
    kind: str
    topic: str  # INBOUND | OUTBOUND | STATUS
    value: bytes | None
    expect: frozenset[str]
    phase: str = "mix"
    message_id: str | None = None  # the id its outputs carry (None: matched by number or offset)
    number: str | None = None  # E.164 its outputs must carry (provider `to`, consent number)
    account: str = "default"  # account of its consent record / of the opt-out it makes
    opts_out: bool = False  # afterwards `number` must be opted out for `account`
    valid: bool = False  # valid traffic with a known outcome (not hostile)
    check_event: tuple[str, Any] | None = None  # consent event_time: ("at", ms) | ("ts", None) | ("ts_skew", None)
    timestamp_ms: int | None = None  # preset record timestamp (None: when produced)
    key: bytes | None = None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    key_variant: str = ""
    header_variant: str = ""
    partition: int | None = None  # explicit partition (None: the producer's partitioner)
    note: str = ""  # what it is, for reports
    # filled when produced
    n: int = -1
    coords: tuple[str, int, int] | None = None  # (topic name, partition, offset)
    ts_ms: int | None = None
    produce_error: str | None = None

    @property
    def expects_output(self) -> bool:
        return NO_OUTPUT not in self.expect


def dumps(obj: Any, *, ascii_only: bool = False) -> bytes:
    return json.dumps(obj, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8", "surrogatepass")


def is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
        return True
    except orjson.JSONDecodeError:
        return False


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def naive_iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


# ------------------------------------------------------------------ numbers

US_PREFIXES = ("+1213876", "+1312555", "+1202555", "+1617555", "+1646555", "+1718555", "+1415555")
INTL_PREFIXES = ("+44207946", "+3361234", "+97150123", "+81901234")


class Numbers:
    """Fresh valid numbers (never handed out twice in a run), mostly US, some international.
    ``reserve`` takes a number out of the pool (e.g. what a look-alike reply parses to)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self._us = self._iter(US_PREFIXES, 4)
        self._intl = self._iter(INTL_PREFIXES, 4)

    @staticmethod
    def _iter(prefixes: tuple[str, ...], width: int) -> Iterator[str]:
        for prefix in prefixes:
            for n in range(10 ** width):
                number = f"{prefix}{n:0{width}d}"
                if is_valid(number):
                    yield number

    def _next(self, pool: Iterator[str]) -> str:
        while True:
            number = next(pool)
            if number not in self.used:
                self.used.add(number)
                return number

    def us(self) -> str:
        return self._next(self._us)

    def intl(self) -> str:
        return self._next(self._intl)

    def fresh(self) -> str:
        return self.intl() if self.rng.random() < 0.15 else self.us()

    def reserve(self, number: str) -> bool:
        """Take ``number`` out of the pool; False if it was handed out already."""
        if number in self.used:
            return False
        self.used.add(number)
        return True


def national_us(e164: str) -> str:
    assert e164.startswith("+1") and len(e164) == 12
    return e164[2:]


# Decimal digit (Nd) scripts: zero of each
ND_SCRIPTS = {
    "fullwidth": 0xFF10, "arabic_indic": 0x0660, "extended_arabic_indic": 0x06F0, "devanagari": 0x0966,
    "bengali": 0x09E6, "thai": 0x0E50, "tibetan": 0x0F20, "myanmar": 0x1040, "mongolian": 0x1810,
    "nko": 0x07C0, "math_bold": 0x1D7CE, "math_monospace": 0x1D7F6, "gujarati": 0x0AE6, "lao": 0x0ED0,
}
OTHER_ND = tuple(s for s in ND_SCRIPTS if s not in ("fullwidth", "arabic_indic", "extended_arabic_indic",
                                                     "devanagari"))
SEPARATORS = (" ", "\u00a0", "-", "\u2010", "\u2011", "\u2013", "\u2014", ".", "/")
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2062", "\u034f", "\u061c",
             "\u2063", "\u3164")
BIDI = ("\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069")
CONTROLS = ("\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x08", "\x0b", "\x0c")
LETTER_FOR_DIGIT = {"0": "Oo", "1": "lI", "2": "Z", "3": "E", "4": "A", "5": "S", "6": "Gb", "7": "T", "8": "B",
                    "9": "gq"}
NON_ND_DIGITS = {  # digits that are not Nd (No): superscript, subscript, circled
    "superscript": "⁰¹²³⁴⁵⁶⁷⁸⁹", "subscript": "₀₁₂₃₄₅₆₇₈₉", "circled": "⓪①②③④⑤⑥⑦⑧⑨",
}
ODD_PLUS = ("\ufe62", "\u207a", "\u2795", "\u02d6", "\u208a")


def in_script(text: str, script: str) -> str:
    zero = ND_SCRIPTS[script]
    return "".join(chr(zero + int(c)) if c.isascii() and c.isdigit() else c for c in text)


def mixed_scripts(text: str, rng: random.Random) -> str:
    return "".join(chr(ND_SCRIPTS[rng.choice(list(ND_SCRIPTS))] + int(c)) if c.isascii() and c.isdigit()
                   and rng.random() < 0.7 else c for c in text)


def formatted(e164: str, rng: random.Random) -> str:
    """The number with separators: '+1 (213) 876-2266', '+44.20.7946.0012', '＋1 213‑876‑2266', ..."""
    sep = rng.choice(SEPARATORS)
    plus = rng.choice(("+", "+", "\uff0b"))
    if e164.startswith("+1") and len(e164) == 12:
        n = national_us(e164)
        area = f"({n[:3]})" if rng.random() < 0.5 else n[:3]
        return f"{plus}1{rng.choice(SEPARATORS)}{area}{sep}{n[3:6]}{rng.choice(SEPARATORS)}{n[6:]}"
    cc_len = 1 if e164.startswith("+1") else 2 if e164[1:3] in ("44", "33", "81") else 3
    cc, rest = e164[1:1 + cc_len], e164[1 + cc_len:]
    chunks, i = [], 0
    while i < len(rest):
        step = rng.choice((2, 3, 4))
        chunks.append(rest[i:i + step])
        i += step
    return f"{plus}{cc}{sep}" + sep.join(chunks)


def national_format(e164: str, rng: random.Random) -> str:
    """A US number written without its country code (read with region US)."""
    n = national_us(e164)
    return rng.choice((f"({n[:3]}) {n[3:6]}-{n[6:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}", f"{n[:3]}/{n[3:6]}-{n[6:]}",
                       f"1 {n[:3]} {n[3:6]} {n[6:]}", n, "1" + n))


def insert_at_random(text: str, chars: tuple[str, ...], rng: random.Random, count: int = 1) -> str:
    for _ in range(count):
        i = rng.randint(1, len(text) - 1)
        text = text[:i] + rng.choice(chars) + text[i:]
    return text


def letters_for_digits(e164: str, rng: random.Random) -> str:
    """1-3 digits of the national part replaced by look-alike letters (O for 0, l for 1, ...)."""
    chars = list(e164)
    positions = rng.sample(range(3, len(chars)), rng.randint(1, 3))
    for i in positions:
        chars[i] = rng.choice(LETTER_FOR_DIGIT[chars[i]])
    return "".join(chars)


def ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.digit(c)) for c in text if unicodedata.category(c) == "Nd")


# ------------------------------------------------------------------ keys and headers

KEY_VARIANTS = ("none", "number", "other_number", "empty", "binary", "non_utf8", "text")
HEADER_VARIANTS = ("none", "none", "binary", "many", "empty_name", "null_value", "unicode_name", "duplicate_names")


def make_key(variant: str, rng: random.Random, number: str | None, other: str) -> bytes | None:
    if variant == "none":
        return None
    if variant == "number":
        return (number or other).encode()
    if variant == "other_number":
        return other.encode()
    if variant == "empty":
        return b""
    if variant == "binary":
        return rng.randbytes(rng.randint(1, 64))
    if variant == "non_utf8":
        return b"\xff\xfe\xc0\xaf" + rng.randbytes(8)
    if variant == "huge":
        return rng.randbytes(100_000)
    return "clé-\u202e-\u200b-ключ".encode()


def make_headers(variant: str, rng: random.Random) -> list[tuple[str, bytes | None]]:
    if variant == "binary":
        return [("x-bin", rng.randbytes(rng.randint(1, 256))), ("content-type", b"\x00\xff")]
    if variant == "many":
        return [(f"h{i}", rng.randbytes(8)) for i in range(200)]
    if variant == "empty_name":
        return [("", b"v"), ("", b"")]
    if variant == "null_value":
        return [("x-null", None)]
    if variant == "unicode_name":
        return [("ключ\u200b\u202e", "значение".encode()), ("\u0000", b"\x00")]
    if variant == "duplicate_names":
        return [("from", b"+12138762266"), ("from", b"+10000000000"), ("to", b"STOP")]
    return []


# ------------------------------------------------------------------ the kinds


@dataclass(frozen=True)
class Kind:
    name: str
    topic: str
    make: Callable[[Builder], list[HostileRecord]]
    huge: bool = False  # records of 60 KB and more: fewer of them
    note: str = ""


KINDS: dict[str, Kind] = {}


def kind(topic: str, name: str, *, huge: bool = False, note: str = "") -> Callable:
    def register(fn: Callable[[Builder], list[HostileRecord] | HostileRecord]) -> Callable:
        full = f"{topic}.{name}"

        def make(b: Builder) -> list[HostileRecord]:
            out = fn(b)
            records = out if isinstance(out, list) else [out]
            for r in records:
                r.kind = full
                r.note = r.note or note
            return records

        KINDS[full] = Kind(full, topic, make, huge, note or (fn.__doc__ or "").strip())
        return fn
    return register


class Builder:
    """Makes the records of one run: fresh numbers, unique ids, seeded randomness."""

    def __init__(self, seed: int, now_ms: Callable[[], int]) -> None:
        self.rng = random.Random(seed)
        self.numbers = Numbers(self.rng)
        self.now_ms = now_ms
        self._ids = 0
        self.seed_opted: list[tuple[str, str]] = []  # (number, account) opted out by the seed phase

    def mid(self, prefix: str = "h") -> str:
        self._ids += 1
        return f"{prefix}-{self._ids}"

    # ---- helpers for the three shapes

    def send(self, to: Any = "__fresh__", *, extra: dict | None = None, drop: tuple[str, ...] = (),
             **fields: Any) -> tuple[dict, str]:
        """A send object (and its message id); ``to`` default: a fresh number (forwarded)."""
        if to == "__fresh__":
            to = self.numbers.fresh()
        mid = self.mid("s")
        obj = {"message_id": mid, "account_id": "default", "to": to, "from": OUR_NUMBER,
               "body": f"hostile suite message {mid}", **fields, **(extra or {})}
        for name in drop:
            obj.pop(name, None)
        return obj, mid

    def send_record(self, to: Any, expect: frozenset[str], number: str | None = None, *, valid: bool = False,
                    **kw: Any) -> HostileRecord:
        obj, mid = self.send(to, **kw)
        return HostileRecord("", OUTBOUND, dumps(obj), expect, message_id=mid, number=number, valid=valid,
                             account=obj.get("account_id") if isinstance(obj.get("account_id"), str) else "default")

    def reply(self, sender: Any, body: Any = "STOP", *, received_at: Any = "__now__", **fields: Any) -> tuple[dict, str]:
        mid = self.mid("r")
        obj = {"message_id": mid, "account_id": "default", "from": sender, "to": OUR_NUMBER, "body": body,
               "locale": "en", "received_at": iso_ms(self.now_ms()) if received_at == "__now__" else received_at,
               **fields}
        return obj, mid

    def stop_record(self, number: str, *, sender: Any = None, account: str = "default", valid: bool = False,
                    drop: tuple[str, ...] = (), body: str | None = None, check_event: tuple | None = None,
                    by_number: bool = False, **fields: Any) -> HostileRecord:
        """A STOP from ``number`` (written as ``sender``) that must opt it out for ``account``."""
        obj, mid = self.reply(number if sender is None else sender,
                              body or self.rng.choice(("STOP", "stop", "Stop", "UNSUBSCRIBE", "Cancel", "QUIT",
                                                       "stop texting me", "ＳＴＯＰ", " Stop! ", "STOP.")), **fields)
        for name in drop:
            obj.pop(name, None)
        return HostileRecord("", INBOUND, dumps(obj), frozenset({OPT_OUT}), message_id=None if by_number else mid,
                             number=number, account=account, opts_out=True, valid=valid, check_event=check_event)

    def receipt(self, to: Any, provider: str = "twilio", error_code: Any = 21610, **fields: Any) -> tuple[dict, str]:
        mid = self.mid("st")
        obj = {"message_id": mid, "account_id": "default", "to": to, "provider": provider, "status": "failed",
               "error_code": error_code, **fields}
        return obj, mid

    # ---- random payloads

    def random_bytes(self) -> bytes:
        while True:
            data = self.rng.randbytes(self.rng.randint(1, 2000))
            if not is_json(data):
                return data

    def valid_object(self, topic: str) -> dict:
        if topic == OUTBOUND:
            return self.send()[0]
        if topic == INBOUND:
            return self.reply(self.numbers.fresh(), "hello")[0]
        return self.receipt(self.numbers.fresh(), error_code=30003)[0]

    def padded(self, obj: dict, size: int) -> bytes:
        base = dumps({**obj, "pad": ""})
        return dumps({**obj, "pad": "x" * (size - len(base))})


# ---- generic kinds: the same on all three topics (all dead-lettered)

def _generic(name: str, note: str, fn: Callable[[Builder, str], bytes | None], *, huge: bool = False) -> None:
    for topic in TOPICS:
        def make(b: Builder, topic: str = topic) -> HostileRecord:
            return HostileRecord("", topic, fn(b, topic), frozenset({DL}))
        kind(topic, name, huge=huge, note=note)(make)


def _invalid_utf8(b: Builder, topic: str) -> bytes:
    text = dumps(b.valid_object(topic))
    bad = b.rng.choice((b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80",
                        b"\x80", b"\xf4\x90\x80\x80"))
    i = text.index(b'":"') + 3  # inside the first string value
    return text[:i] + bad + text[i:]


def _non_object(b: Builder, topic: str) -> bytes:
    return b.rng.choice((b"[]", b'[{"message_id":"x","from":"+12138762266","body":"STOP"}]', b'"STOP"', b"42",
                         b"-0.5e3", b"null", b"true", b"false", b'"{\\"to\\":\\"+12138762266\\"}"', b"  []  "))


def _deep_unparseable(b: Builder, topic: str) -> bytes:
    depth = b.rng.randint(2000, 20000)
    if b.rng.random() < 0.5:
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _oversize(b: Builder, topic: str) -> bytes:
    return b.padded(b.valid_object(topic), MAX_PAYLOAD + b.rng.choice((1, 2, 100, 5000, 40_000)))


def _not_json_text(b: Builder, topic: str) -> bytes:
    obj = b.valid_object(topic)
    text = dumps(obj).decode()
    return b.rng.choice((
        text[:-1],  # truncated
        text.replace('"', "'"),  # single quotes
        text[:-1] + ',"n":NaN}',
        text[:-1] + ',"n":Infinity}',
        text[:-1] + ',"n":1e999}',
        text + "garbage",
        text[:-1] + ",}",  # trailing comma
        "STOP",
        "message_id=1&from=%2B12138762266&body=STOP",
        text.replace(":", "=", 1),
    )).encode()


_generic("tombstone", "null value (a tombstone), with any key", lambda b, t: None)
_generic("empty_value", "zero bytes", lambda b, t: b"")
_generic("random_bytes", "1-2,000 random bytes that are not JSON", lambda b, t: b.random_bytes())
_generic("invalid_utf8", "a valid object with an invalid UTF-8 sequence inside a string", _invalid_utf8)
_generic("non_object_json", "JSON that is not an object: array, string, number, null, bool", _non_object)
_generic("deep_nesting_unparseable", "2,000-20,000 levels of nesting (beyond the parser's limit)",
         _deep_unparseable)
_generic("oversize", "a valid-looking object of 65,537-105,536 bytes (limit 65,536)", _oversize, huge=True)
_generic("not_json_text", "almost JSON: truncated, single quotes, NaN, Infinity, trailing garbage or comma",
         _not_json_text)


def _ambiguous(b: Builder, topic: str, mangle: Callable[[bytes], bytes], note: str) -> HostileRecord:
    """JSON some parsers accept and others refuse: dead-lettered, or handled as the object."""
    if topic == OUTBOUND:
        number = b.numbers.fresh()
        obj, mid = b.send(number)
        return HostileRecord("", topic, mangle(dumps(obj)), frozenset({DL, PROVIDER}), message_id=mid, number=number,
                             note=note)
    return HostileRecord("", topic, mangle(dumps(b.valid_object(topic))), frozenset({DL, NO_OUTPUT}), note=note)


for _topic in TOPICS:
    kind(_topic, "bom_prefixed", note="a valid object after a UTF-8 byte order mark (RFC 8259: may be ignored)")(
        lambda b, t=_topic: _ambiguous(b, t, lambda v: b"\xef\xbb\xbf" + v, ""))
    kind(_topic, "lone_surrogate_escape",
         note='a valid object with "\\ud800" escaped in an extra string (not Unicode: may be refused)')(
        lambda b, t=_topic: _ambiguous(b, t, lambda v: v[:-1] + b',"x":"\\ud800\\udfff\\udc00"}', ""))


# ---- sends (sms.outbound)

FORWARDED = frozenset({PROVIDER})


@kind(OUTBOUND, "digits_fullwidth", note="`to` in full-width digits (and maybe '＋'): forwarded to its E.164")
def _s_fullwidth(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    to = in_script(n, "fullwidth")
    return b.send_record(to.replace("+", "\uff0b") if b.rng.random() < 0.5 else to, FORWARDED, n)


@kind(OUTBOUND, "digits_arabic_indic", note="`to` in Arabic-Indic digits: forwarded to its E.164")
def _s_arabic(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(in_script(n, "arabic_indic"), FORWARDED, n)


@kind(OUTBOUND, "digits_extended_arabic_indic", note="`to` in Persian (extended Arabic-Indic) digits")
def _s_persian(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(in_script(n, "extended_arabic_indic"), FORWARDED, n)


@kind(OUTBOUND, "digits_devanagari", note="`to` in Devanagari digits")
def _s_devanagari(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(in_script(n, "devanagari"), FORWARDED, n)


@kind(OUTBOUND, "digits_other_nd", note="`to` in another Nd script (Thai, Bengali, mathematical bold, ...) or "
      "mixed scripts, maybe with separators")
def _s_other_nd(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    text = formatted(n, b.rng) if b.rng.random() < 0.4 else n
    to = mixed_scripts(text, b.rng) if b.rng.random() < 0.4 else in_script(text, b.rng.choice(OTHER_ND))
    return b.send_record(to, FORWARDED, n)


@kind(OUTBOUND, "separators", note="`to` with the usual separators: space, NBSP, - ‐ ‑ – — . ( ) /, '＋'")
def _s_separators(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(formatted(n, b.rng), FORWARDED, n)


@kind(OUTBOUND, "national_format", note="a US number without its country code, e.g. (213) 876-2266")
def _s_national(b: Builder) -> HostileRecord:
    n = b.numbers.us()
    return b.send_record(national_format(n, b.rng), FORWARDED, n)


@kind(OUTBOUND, "idd_prefix", note="'011 44 20 7946 0012': the US international prefix")
def _s_idd(b: Builder) -> HostileRecord:
    n = b.numbers.intl()
    return b.send_record("011 " + n[1:3] + " " + n[3:], FORWARDED, n)


@kind(OUTBOUND, "letters_for_digits", note="letters for digits (O for 0, l for 1, S for 5, ...): "
      "phonenumbers reads them as vanity digits, another person's number")
def _s_letters(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(letters_for_digits(n, b.rng), frozenset({SUP_INVALID}))


@kind(OUTBOUND, "vanity", note="vanity numbers: 1-800-FLOWERS, +1 213 TEXT ME1")
def _s_vanity(b: Builder) -> HostileRecord:
    return b.send_record(b.rng.choice(("1-800-FLOWERS", "+1 (800) GO-FEDEX", "+1 213 TEXT ME1", "1800CALLNOW",
                                       "+1-213-876-CODE", "+44 20 7946 OOI2")), frozenset({SUP_INVALID}))


@kind(OUTBOUND, "extension_or_uri", note="an extension or a URI scheme: 'ext 5', 'x5', '#5', 'tel:', ';ext='")
def _s_ext(b: Builder) -> HostileRecord:
    n = b.numbers.us()
    return b.send_record(b.rng.choice((f"{n} ext 5", f"{n}x5", f"{n}#5", f"tel:{n}", f"{n};ext=12", f"sms:{n}")),
                         frozenset({SUP_INVALID}))


@kind(OUTBOUND, "invisible_chars", note="a zero-width space/joiner/non-joiner, word joiner, BOM, soft hyphen, "
      "Mongolian vowel separator, invisible times, combining grapheme joiner, Arabic letter mark, hangul filler")
def _s_invisible(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(insert_at_random(n, INVISIBLE, b.rng, b.rng.randint(1, 2)), frozenset({SUP_INVALID}))


@kind(OUTBOUND, "bidi_chars", note="LRM, RLM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI inside the number; or an RLO "
      "and the digits reversed (displays as the number)")
def _s_bidi(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    to = "\u202e" + n[::-1] if b.rng.random() < 0.3 else insert_at_random(n, BIDI, b.rng)
    return b.send_record(to, frozenset({SUP_INVALID}))


@kind(OUTBOUND, "control_chars", note="NUL, TAB, LF, CR, ESC, DEL, NEL, BS, VT, FF inside or around the number")
def _s_control(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    to = insert_at_random(n, CONTROLS, b.rng) if b.rng.random() < 0.7 else n + b.rng.choice(CONTROLS)
    return b.send_record(to, frozenset({SUP_INVALID}))


@kind(OUTBOUND, "non_decimal_digits", note="superscript, subscript or circled digits (Unicode No, not Nd), "
      "a combining accent, or an odd plus sign (﹢ ⁺ ➕)")
def _s_non_nd(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    choice = b.rng.random()
    if choice < 0.5:
        table = NON_ND_DIGITS[b.rng.choice(list(NON_ND_DIGITS))]
        to = "".join(table[int(c)] if c.isdigit() and b.rng.random() < 0.5 else c for c in n)
        if to == n:
            to = n[:-1] + table[int(n[-1])]
    elif choice < 0.75:
        to = n[:5] + "\u0301" + n[5:]
    else:
        to = b.rng.choice(ODD_PLUS) + n[1:]
    return b.send_record(to, frozenset({SUP_INVALID}))


@kind(OUTBOUND, "to_over_64_chars", note="a valid number padded with separators to 65-300 characters")
def _s_long(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(n + " " * b.rng.randint(MAX_NUMBER_CHARS + 1 - len(n), 300), frozenset({SUP_INVALID}))


@kind(OUTBOUND, "to_huge", huge=True, note="`to` of ~60 KB (digits, or a number then filler)")
def _s_huge_to(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    to = b.rng.choice((n + " " * 60_000, "1" * 60_000, n + "\u200b" * 19_000))
    return b.send_record(to, frozenset({SUP_INVALID}))


@kind(OUTBOUND, "invalid_number", note="parses but not valid, or does not parse: +1 555 000 0000, 12345, "
      "too long, '+', 'hello'")
def _s_invalid(b: Builder) -> HostileRecord:
    n = b.numbers.us()
    return b.send_record(b.rng.choice(("+1 555 000 0000", "12345", "+999 123", n + "0000", n[:-2], "+", "++",
                                       "hello", "+0 000", "0", "-", "()", "+1 213", "911", "+800 1234 5678 9")),
                         frozenset({SUP_INVALID}))


@kind(OUTBOUND, "no_phone", note="`to` missing, null, empty or blank")
def _s_no_phone(b: Builder) -> HostileRecord:
    choice = b.rng.randint(0, 3)
    if choice == 0:
        return b.send_record(None, frozenset({SUP_NO_PHONE}), drop=("to",))
    return b.send_record((None, "", "   ")[choice - 1], frozenset({SUP_NO_PHONE}))


@kind(OUTBOUND, "blank_unicode", note="`to` of only NBSP / zero-width / ideographic spaces: no phone or invalid")
def _s_blank_unicode(b: Builder) -> HostileRecord:
    return b.send_record(b.rng.choice(("\u00a0\u00a0", "\u200b", "\u3000", "\u2028", " \u200b ")),
                         frozenset({SUP_NO_PHONE, SUP_INVALID}))


@kind(OUTBOUND, "schema_message_id", note="message_id missing, empty, a number, null, a list or an object")
def _s_schema_mid(b: Builder) -> HostileRecord:
    obj, _ = b.send()
    choice = b.rng.randint(0, 5)
    if choice == 0:
        del obj["message_id"]
    else:
        obj["message_id"] = ("", 42, None, ["s-1"], {"id": "s-1"})[choice - 1]
    return HostileRecord("", OUTBOUND, dumps(obj), frozenset({DL}))


@kind(OUTBOUND, "schema_body", note="body missing, null, a number, a list or an object")
def _s_schema_body(b: Builder) -> HostileRecord:
    obj, _ = b.send()
    choice = b.rng.randint(0, 4)
    if choice == 0:
        del obj["body"]
    else:
        obj["body"] = (None, 42, ["hi"], {"text": "hi"})[choice - 1]
    return HostileRecord("", OUTBOUND, dumps(obj), frozenset({DL}))


@kind(OUTBOUND, "schema_account_id", note="account_id a number, null, a list, an object or a bool")
def _s_schema_account(b: Builder) -> HostileRecord:
    obj, _ = b.send()
    obj["account_id"] = b.rng.choice((42, None, ["acme"], {"id": "acme"}, True))
    return HostileRecord("", OUTBOUND, dumps(obj), frozenset({DL}))


@kind(OUTBOUND, "schema_to_type", note="`to` a JSON number, a list, an object or a bool")
def _s_schema_to(b: Builder) -> HostileRecord:
    n = b.numbers.us()
    obj, _ = b.send(b.rng.choice((int(n[1:]), [n], {"number": n}, True, 2.5)))
    return HostileRecord("", OUTBOUND, dumps(obj), frozenset({DL}))


@kind(OUTBOUND, "payload_at_limit", note="a valid send of exactly 65,536 bytes: forwarded")
def _s_at_limit(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    obj, mid = b.send(n)
    return HostileRecord("", OUTBOUND, b.padded(obj, MAX_PAYLOAD), frozenset({PROVIDER}), message_id=mid, number=n)


@kind(OUTBOUND, "huge_passthrough", huge=True, note="a valid send with ~60 KB of extra fields (under the limit)")
def _s_huge_extra(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    extra = b.rng.choice(({"blob": "\u00e9" * 28_000}, {"tags": ["x" * 100] * 550},
                          {"meta": {f"k{i}": i for i in range(5000)}}))
    return b.send_record(n, frozenset({PROVIDER}), n, extra=extra)


@kind(OUTBOUND, "huge_message_id", huge=True, note="message_id of 30-60 KB: forwarded")
def _s_huge_mid(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    obj, _ = b.send(n)
    mid = b.mid("s") + "-" + "i" * b.rng.randint(30_000, 60_000)
    obj["message_id"] = mid
    return HostileRecord("", OUTBOUND, dumps(obj), frozenset({PROVIDER}), message_id=mid, number=n)


@kind(OUTBOUND, "long_body", note="a body of 2,001-20,000 characters (the contract does not say: forwarded or "
      "dead-lettered)")
def _s_long_body(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.send_record(n, frozenset({PROVIDER, DL}), n, body="é" * b.rng.randint(2001, 20_000))


@kind(OUTBOUND, "nested_field", note="a valid send with an extra field nested 100-250 levels deep: forwarded")
def _s_nested(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    depth = b.rng.randint(100, 250)
    value: Any = "leaf"
    for _ in range(depth):
        value = [value] if b.rng.random() < 0.5 else {"n": value}
    return b.send_record(n, frozenset({PROVIDER}), n, extra={"nested": value})


@kind(OUTBOUND, "nested_field_deep", note="a valid send with an extra field nested 300-1,000 levels deep "
      "(valid JSON the parser reads, but no JSON writer passes on beyond 254 levels): dead-lettered with that reason")
def _s_nested_deep(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    obj, mid = b.send(n)
    depth = b.rng.randint(300, 1000)
    text = dumps(obj)[:-1] + b',"nested":' + b"[" * depth + b"]" * depth + b"}"
    return HostileRecord("", OUTBOUND, text, frozenset({DL}))


@kind(OUTBOUND, "odd_strings", note="a valid send whose other fields hold NUL, bidi, zero-width, emoji, "
      "an escaped surrogate pair, odd keys ('', '\\u0000', 'to ' ...): forwarded")
def _s_odd_strings(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    extra = {"": "empty key", "\u0000": "nul key", "to ": "+10000000000", "TO": "+10000000000", "To": None,
             "\u202eeman": "\u202ebidi\u200b", "emoji": "🛑📵\U0001F600", "ctl": "\x00\x01\x1f\x7f"}
    r = b.send_record(n, frozenset({PROVIDER}), n, extra=extra, body="STOP \u0000 \u202e stop \U0001F600")
    assert r.value is not None
    r.value = r.value[:-1] + b',"pair":"\\ud83d\\ude00","nul":"\\u0000"}'  # an escaped surrogate pair: valid
    return r


@kind(OUTBOUND, "duplicate_to_keys", note='{"to": <look-alike>, ..., "to": <fresh number>}: the last one counts '
      "(or dead-lettered)")
def _s_dup_keys(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    obj, mid = b.send(n)
    text = dumps(obj)
    text = text[:1] + dumps({"to": letters_for_digits(b.numbers.fresh(), b.rng)})[1:-1] + b"," + text[1:]
    return HostileRecord("", OUTBOUND, text, frozenset({PROVIDER, DL}), message_id=mid, number=n)


@kind(OUTBOUND, "record_timestamp_odd", note="a valid send with a record timestamp 30 minutes ahead, or in 1970, "
      "or 10 minutes old: forwarded")
def _s_odd_ts(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    r = b.send_record(n, frozenset({PROVIDER}), n)
    r.timestamp_ms = b.rng.choice((b.now_ms() + 30 * 60_000, 1, b.now_ms() - 600_000))
    return r


# look-alikes of a number the seed phase opted out
def _seed_opted(b: Builder) -> tuple[str, str]:
    return b.rng.choice(b.seed_opted)


def _opted_send(b: Builder, to: str, expect: frozenset[str], number: str | None, account: str) -> HostileRecord:
    return b.send_record(to, expect, number, account_id=account)


@kind(OUTBOUND, "opted_out_fullwidth", note="an opted-out number in full-width/Arabic-Indic/other Nd digits or "
      "with separators: suppressed opted_out")
def _s_opted_digits(b: Builder) -> HostileRecord:
    n, account = _seed_opted(b)
    to = b.rng.choice((in_script(n, b.rng.choice(list(ND_SCRIPTS))), formatted(n, b.rng), mixed_scripts(n, b.rng)))
    return _opted_send(b, to, frozenset({SUP_OPTED}), n, account)


@kind(OUTBOUND, "opted_out_letters", note="an opted-out number with letters for digits: suppressed invalid_number "
      "(never delivered, to it or to the vanity reading)")
def _s_opted_letters(b: Builder) -> HostileRecord:
    n, account = _seed_opted(b)
    return _opted_send(b, letters_for_digits(n, b.rng), frozenset({SUP_INVALID}), None, account)


@kind(OUTBOUND, "opted_out_invisible", note="an opted-out number with invisible/bidi/control characters: "
      "suppressed invalid_number")
def _s_opted_invisible(b: Builder) -> HostileRecord:
    n, account = _seed_opted(b)
    to = insert_at_random(n, INVISIBLE + BIDI + CONTROLS, b.rng)
    return _opted_send(b, to, frozenset({SUP_INVALID}), None, account)


# ---- replies (sms.inbound): processed, the STOP honoured

@kind(INBOUND, "stop_naive_received_at", note="a STOP with received_at without an offset: read as UTC")
def _r_naive(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    at = b.now_ms() - b.rng.randint(0, 60_000)
    return b.stop_record(n, received_at=naive_iso_ms(at), check_event=("at", at))


@kind(INBOUND, "stop_received_at_unparseable", note="received_at not a time ('yesterday', '2026-13-45T99:99:99Z', "
      "''): the record's timestamp")
def _r_bad_time(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    value = b.rng.choice(("yesterday", "2026-13-45T99:99:99Z", "", "now", "\u202e2026-01-01", "0000-00-00T00:00:00Z"))
    return b.stop_record(n, received_at=value, check_event=("ts", None))


@kind(INBOUND, "stop_received_at_not_string", note="received_at a number, list, object or bool: the record's "
      "timestamp")
def _r_time_type(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    value = b.rng.choice((1767225600, 1.5e12, [2026], {"t": 1}, True))
    return b.stop_record(n, received_at=value, check_event=("ts", None))


@kind(INBOUND, "stop_received_at_future", note="received_at in 2099 or 3 hours ahead: clamped to at most the record "
      "timestamp + 5 min")
def _r_future(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    value = b.rng.choice(("2099-01-01T00:00:00Z", "9999-12-31T23:59:59Z", iso_ms(b.now_ms() + 3 * 3_600_000)))
    return b.stop_record(n, received_at=value, check_event=("ts_skew", None))


@kind(INBOUND, "stop_received_at_past", note="received_at in 1970 or year 1: a fresh number is opted out")
def _r_past(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, received_at=b.rng.choice(("1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
                                                      "2000-02-29T12:00:00+14:00")))


@kind(INBOUND, "stop_to_malformed", note="`to` a JSON number, object, list, bool, letters or 60 KB: ignored")
def _r_to(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    value = b.rng.choice((14155550000, {"n": 1}, ["+14155550000"], True, "our number", "\u202e0000555514+1"))
    return b.stop_record(n, to=value)


@kind(INBOUND, "stop_to_huge", huge=True, note="`to` of 60 KB: ignored")
def _r_to_huge(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, to="4" * 60_000)


@kind(INBOUND, "stop_account_number", note="account_id a JSON integer: stringified ('42')")
def _r_account_number(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    account = b.rng.choice((42, 7, 1000))
    return b.stop_record(n, account=str(account), account_id=account)


@kind(INBOUND, "stop_account_malformed", note="account_id empty, null, a list or an object: 'default'")
def _r_account_bad(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, account_id=b.rng.choice(("", None, ["acme"], {"id": "acme"})))


@kind(INBOUND, "stop_account_long", note="account_id of 300-2,000 characters: the same account for its sends")
def _r_account_long(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    account = "acct-" + "x" * b.rng.randint(300, 2000) + b.mid("a")
    return b.stop_record(n, account=account, account_id=account)


@kind(INBOUND, "stop_message_id_missing", note="no message_id: a derived id")
def _r_mid_missing(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, drop=("message_id",), by_number=True)


@kind(INBOUND, "stop_message_id_not_string", note="message_id empty, a number, null, a list or an object: a "
      "derived id")
def _r_mid_bad(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, message_id=b.rng.choice(("", 42, None, ["r-1"], {"id": "r-1"})), by_number=True)


@kind(INBOUND, "stop_message_id_huge", huge=True, note="message_id of 40 KB: processed")
def _r_mid_huge(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, message_id=b.mid("r") + "i" * 40_000, by_number=True)


@kind(INBOUND, "stop_locale_malformed", note="locale a number, unknown, NUL, 5 KB or a list: ignored")
def _r_locale(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, locale=b.rng.choice((42, "zz-ZZ", "\u0000", "fr" * 2500, ["fr"], "../../etc/passwd")))


@kind(INBOUND, "stop_from_number", note="`from` a JSON integer (12138762266 or 2138762266): stringified")
def _r_from_number(b: Builder) -> HostileRecord:
    n = b.numbers.us()
    sender = int(n[1:]) if b.rng.random() < 0.5 else int(national_us(n))
    return b.stop_record(n, sender=sender)


@kind(INBOUND, "stop_from_digits_scripts", note="`from` in full-width, Arabic-Indic or other Nd digits")
def _r_from_scripts(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, sender=in_script(n, b.rng.choice(list(ND_SCRIPTS))))


@kind(INBOUND, "stop_from_formatted", note="`from` with separators or in national format")
def _r_from_formatted(b: Builder) -> HostileRecord:
    n = b.numbers.us()
    return b.stop_record(n, sender=formatted(n, b.rng) if b.rng.random() < 0.5 else national_format(n, b.rng))


def lenient_e164(raw: str) -> str | None:
    """What phonenumbers (region US) makes of ``raw`` (None: it does not parse)."""
    import phonenumbers

    try:
        return phonenumbers.format_number(phonenumbers.parse(raw, "US"), phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return None


@kind(INBOUND, "stop_from_letters", note="`from` with letters for digits: recorded under what it parses to "
      "(vanity), dead-lettered only when it does not parse")
def _r_from_letters(b: Builder) -> HostileRecord:
    while True:
        sender = letters_for_digits(b.numbers.fresh(), b.rng)
        parsed = lenient_e164(sender)
        if parsed is None:
            obj, _ = b.reply(sender, "STOP")
            return HostileRecord("", INBOUND, dumps(obj), frozenset({DL}), note="does not parse")
        if b.numbers.reserve(parsed):  # nobody else's number in this run
            return b.stop_record(parsed, sender=sender)


@kind(INBOUND, "stop_from_invisible", note="`from` with invisible or bidi characters: recorded under the number "
      "(or dead-lettered if it does not parse)")
def _r_from_invisible(b: Builder) -> HostileRecord:
    while True:
        n = b.numbers.fresh()
        sender = insert_at_random(n, INVISIBLE + BIDI, b.rng)
        parsed = lenient_e164(sender)
        if parsed is None or parsed == n:
            r = b.stop_record(n, sender=sender)
            if parsed is None:
                r.expect = frozenset({OPT_OUT, DL})
            return r
        if b.numbers.reserve(parsed):  # recorded under what it parses to
            return b.stop_record(parsed, sender=sender)


@kind(INBOUND, "stop_long_body", note="'STOP' then 2,000-20,000 spaces: classified on its prefix")
def _r_long_body(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    return b.stop_record(n, body="STOP" + " " * b.rng.randint(2000, 20_000))


@kind(INBOUND, "stop_extra_fields", huge=True, note="a STOP with 60 KB of extra fields or one nested 500 deep")
def _r_extra(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    r = b.stop_record(n)
    if b.rng.random() < 0.5:
        r.value = r.value[:-1] + b',"nested":' + b"[" * 500 + b"]" * 500 + b"}"
    else:
        r.value = r.value[:-1] + b',"blob":"' + b"z" * 60_000 + b'"}'
    return r


@kind(INBOUND, "hello_long_body", note="'hello ' x 400-3,000 (no intent): processed, nothing written")
def _r_hello_long(b: Builder) -> HostileRecord:
    obj, _ = b.reply(b.numbers.fresh(), "hello " * b.rng.randint(400, 3000))
    return HostileRecord("", INBOUND, dumps(obj), frozenset({NO_OUTPUT}))


@kind(INBOUND, "hello_odd_metadata", note="a reply without intent, every optional field malformed: processed, "
      "nothing written")
def _r_hello_odd(b: Builder) -> HostileRecord:
    obj, _ = b.reply(b.numbers.fresh(), b.rng.choice(("hello", "", "👍", "\u202e", "weekend", "stopping by?")),
                     received_at=b.rng.choice(("2099-01-01T00:00:00", 5, None, "x")))
    obj.update(message_id=b.rng.choice((None, 5, "")), account_id=b.rng.choice((None, 5, "")), to=[1],
               locale={"x": 1})
    return HostileRecord("", INBOUND, dumps(obj), frozenset({NO_OUTPUT}))


@kind(INBOUND, "from_invalid", note="`from` missing, null, empty, blank, unparseable, over 64 characters, a list, "
      "an object or a bool: dead-lettered")
def _r_from_invalid(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    obj, _ = b.reply(n, "STOP")
    choice = b.rng.randint(0, 9)
    if choice == 0:
        del obj["from"]
    else:
        obj["from"] = (None, "", "   ", "hello", "+", n + " " * 60, ["+12138762266"], {"n": n}, True)[choice - 1]
    return HostileRecord("", INBOUND, dumps(obj), frozenset({DL}))


@kind(INBOUND, "from_huge", huge=True, note="`from` of 60 KB: dead-lettered")
def _r_from_huge(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    obj, _ = b.reply(n + "0" * 60_000 if b.rng.random() < 0.5 else n + " " * 60_000, "STOP")
    return HostileRecord("", INBOUND, dumps(obj), frozenset({DL}))


@kind(INBOUND, "body_invalid", note="body missing, null, a number, a list or an object: dead-lettered")
def _r_body_invalid(b: Builder) -> HostileRecord:
    obj, _ = b.reply(b.numbers.fresh(), "STOP")
    choice = b.rng.randint(0, 4)
    if choice == 0:
        del obj["body"]
    else:
        obj["body"] = (None, 42, ["STOP"], {"text": "STOP"})[choice - 1]
    return HostileRecord("", INBOUND, dumps(obj), frozenset({DL}))


# ---- sequences: a first record in the mix, the STOP after it (phase "after")

def _start(b: Builder, number: str, *, message_id: str | None = None, received_at: Any = "__now__",
           timestamp_ms: int | None = None) -> HostileRecord:
    obj, mid = b.reply(number, b.rng.choice(("START", "start", "UNSTOP", "YES")), received_at=received_at)
    if message_id is not None:
        obj["message_id"] = mid = message_id
    return HostileRecord("", INBOUND, dumps(obj), frozenset({OPT_IN}), message_id=mid, number=number,
                         timestamp_ms=timestamp_ms)


@kind(INBOUND, "future_start_then_stop", note="a START with received_at in 2099, then (seconds later) a STOP: "
      "opted out")
def _q_future(b: Builder) -> list[HostileRecord]:
    n = b.numbers.fresh()
    stop = b.stop_record(n, drop=("received_at",))  # sent after the START: dated by its own record
    stop.phase = "after"
    return [_start(b, n, received_at=b.rng.choice(("2099-01-01T00:00:00Z", "2099-12-31T23:59:59+14:00"))), stop]


@kind(INBOUND, "future_start_old_ts_then_stop", note="a START with received_at in 2099 and a record timestamp "
      "10 minutes old, then a STOP: opted out")
def _q_future_old(b: Builder) -> list[HostileRecord]:
    n = b.numbers.fresh()
    stop = b.stop_record(n)
    stop.phase = "after"
    start = _start(b, n, received_at="2099-01-01T00:00:00Z", timestamp_ms=b.now_ms() - 600_000)
    return [start, stop]


@kind(INBOUND, "id_clash_start_then_stop", note="a START with message id X, then a STOP with the same id X: "
      "not a replay, opted out")
def _q_clash(b: Builder) -> list[HostileRecord]:
    n = b.numbers.fresh()
    start = _start(b, n)
    stop = b.stop_record(n)
    stop.phase = "after"
    obj = json.loads(stop.value)
    obj["message_id"] = stop.message_id = start.message_id
    stop.value = dumps(obj)
    return [start, stop]


# ---- receipts (sms.status)

@kind(STATUS, "receipt_not_optout", note="a receipt whose code is no opt-out evidence: ignored (no output)")
def _t_ignored(b: Builder) -> HostileRecord:
    obj, _ = b.receipt(b.rng.choice((b.numbers.fresh(), "hello", "", "\u202e1")),
                       provider=b.rng.choice(("twilio", "aws", "unknown", "")),
                       error_code=b.rng.choice((30003, "30005", None, 0, "DELIVERED")))
    return HostileRecord("", STATUS, dumps(obj), frozenset({NO_OUTPUT}))


@kind(STATUS, "receipt_optout", note="an opt-out receipt (twilio 21610 as number or string, aws, telnyx), `to` in "
      "any accepted form: opted out (source provider)")
def _t_optout(b: Builder) -> HostileRecord:
    n = b.numbers.fresh()
    to = b.rng.choice((n, formatted(n, b.rng), in_script(n, "fullwidth")))
    provider, code = b.rng.choice((("twilio", 21610), ("twilio", "21610"), ("TWILIO", 21610),
                                   ("aws", "DESTINATION_PHONE_NUMBER_OPTED_OUT"), ("telnyx", "40300")))
    obj, mid = b.receipt(to, provider=provider, error_code=code)
    return HostileRecord("", STATUS, dumps(obj), frozenset({OPT_OUT}), message_id=mid, number=n, opts_out=True)


@kind(STATUS, "receipt_optout_bad_to", note="an opt-out receipt whose `to` does not parse: dead-lettered")
def _t_bad_to(b: Builder) -> HostileRecord:
    obj, _ = b.receipt(b.rng.choice(("hello", "", "   ", "+", "x" * 70)))
    return HostileRecord("", STATUS, dumps(obj), frozenset({DL}))


@kind(STATUS, "receipt_schema", note="a receipt missing message_id/to/provider/status, or with a list error_code: "
      "dead-lettered")
def _t_schema(b: Builder) -> HostileRecord:
    obj, _ = b.receipt(b.numbers.fresh())
    choice = b.rng.randint(0, 5)
    if choice < 4:
        del obj[("message_id", "to", "provider", "status")[choice]]
    elif choice == 4:
        obj["error_code"] = [21610]
    else:
        obj["message_id"] = 42
    return HostileRecord("", STATUS, dumps(obj), frozenset({DL}))


# ------------------------------------------------------------------ valid traffic

STOP_BODIES = ("STOP", "stop", "Stop", "UNSUBSCRIBE", "Cancel", "stop texting me", "ＳＴＯＰ", "🛑 stop", "STOP.")
ACCOUNTS = ("default", "default", "default", "acme", "globex")


def valid_stop(b: Builder, phase: str) -> HostileRecord:
    n = b.numbers.fresh()
    account = b.rng.choice(ACCOUNTS)
    r = b.stop_record(n, account=account, valid=True, body=b.rng.choice(STOP_BODIES), account_id=account)
    r.kind, r.phase, r.note = f"valid.stop_{phase}", phase, "a valid STOP: opted out"
    return r


def valid_send(b: Builder, number: str, expect: frozenset[str], account: str, kind_name: str,
               note: str) -> HostileRecord:
    r = b.send_record(number, expect, number, valid=True, account_id=account)
    r.kind, r.note = kind_name, note
    return r


# ------------------------------------------------------------------ phases

def decorate(records: list[HostileRecord], b: Builder, scale: HostileScale) -> None:
    """Keys, headers and partitions for every record (valid ones included)."""
    other = b.numbers.us()
    for r in records:
        variant = "huge" if b.rng.random() < scale.huge_key_share else b.rng.choice(KEY_VARIANTS)
        if r.value is None and variant == "none" and b.rng.random() < 0.5:
            variant = "empty"  # tombstones: both null keys and others
        r.key_variant = variant
        r.key = make_key(variant, b.rng, r.number, other)
        r.header_variant = b.rng.choice(HEADER_VARIANTS)
        r.headers = make_headers(r.header_variant, b.rng)
        if (r.value is None and r.key is None) or b.rng.random() < 0.2:
            r.partition = b.rng.randrange(scale.input_partitions)


def seed_phase(b: Builder, scale: HostileScale) -> list[HostileRecord]:
    records = [valid_stop(b, "seed") for _ in range(scale.seed_stops)]
    b.seed_opted = [(r.number, r.account) for r in records if r.number]
    decorate(records, b, scale)
    return records


def mix_phase(b: Builder, scale: HostileScale) -> tuple[list[HostileRecord], list[HostileRecord]]:
    """(the mix, the records of the "after" phase: the second halves of sequences)."""
    assert b.seed_opted, "the seed phase comes first"
    mix: list[HostileRecord] = []
    after: list[HostileRecord] = []
    for k in KINDS.values():
        count = scale.huge_per_kind if k.huge else scale.per_kind
        if k.name.startswith(f"{OUTBOUND}.opted_out_"):
            count = scale.lookalikes
        for _ in range(count):
            for r in k.make(b):
                (after if r.phase == "after" else mix).append(r)
    mix += [valid_stop(b, "mix") for _ in range(scale.valid_stops)]
    for _ in range(scale.valid_sends):
        n = b.numbers.fresh()
        mix.append(valid_send(b, n, frozenset({PROVIDER}), b.rng.choice(ACCOUNTS), "valid.send_fresh",
                              "a valid send to a fresh number: forwarded"))
    for _ in range(scale.opted_sends):
        n, account = _seed_opted(b)
        mix.append(valid_send(b, n, frozenset({SUP_OPTED}), account, "valid.send_opted_out",
                              "a valid send to a number opted out before: suppressed opted_out"))
    b.rng.shuffle(mix)
    decorate(mix, b, scale)
    decorate(after, b, scale)
    return mix, after


def followup_phase(b: Builder, scale: HostileScale, opted: list[tuple[str, str]],
                   other_accounts: list[tuple[str, str]]) -> list[HostileRecord]:
    """Sends after every STOP was processed: to each opted-out (number, account) (suppressed
    opted_out), look-alikes of some of them, the same numbers under another account
    (forwarded: opt-outs are per account), and fresh numbers (forwarded)."""
    records: list[HostileRecord] = []
    for n, account in opted:
        to = n if b.rng.random() < 0.7 else formatted(n, b.rng)
        # a STOP from a number phonenumbers does not hold valid is recorded; a send to it is invalid_number
        r = b.send_record(to, frozenset({SUP_OPTED} if is_valid(n) else {SUP_OPTED, SUP_INVALID}), n, valid=True,
                          account_id=account)
        r.kind, r.note = "followup.send_opted_out", "a send to a number opted out in this run: suppressed opted_out"
        records.append(r)
    for n, account in b.rng.sample(opted, min(scale.followup_lookalikes, len(opted))):
        for script_to, expect, name in (
            (in_script(n, b.rng.choice(list(ND_SCRIPTS))), SUP_OPTED, "digits"),
            (letters_for_digits(n, b.rng), SUP_INVALID, "letters"),
            (insert_at_random(n, INVISIBLE + BIDI, b.rng), SUP_INVALID, "invisible"),
        ):
            allowed = {expect} if is_valid(n) else {expect, SUP_INVALID}
            r = b.send_record(script_to, frozenset(allowed), n if expect == SUP_OPTED else None, account_id=account)
            r.kind = f"followup.lookalike_{name}"
            r.note = ("an opted-out number in other digits: suppressed opted_out" if expect == SUP_OPTED else
                      f"an opted-out number with {name}: suppressed invalid_number")
            records.append(r)
    for n, account in other_accounts:
        r = b.send_record(n, frozenset({PROVIDER}), n, valid=True, account_id=account)
        r.kind, r.note = "followup.send_other_account", "an opted-out number under another account: forwarded"
        records.append(r)
    for _ in range(max(10, len(opted) // 10)):
        n = b.numbers.fresh()
        r = b.send_record(n, frozenset({PROVIDER}), n, valid=True)
        r.kind, r.note = "followup.send_fresh", "a send to a fresh number: forwarded"
        records.append(r)
    for r in records:
        r.phase = "followup"
    b.rng.shuffle(records)
    decorate(records, b, scale)
    return records
