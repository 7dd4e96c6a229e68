"""Property-based tests (hypothesis) of the router (``app/stream/router.py``, with ``Settings()`` and
a fixed clock), held against the contract of issue 8:

- any bytes on any input topic: routing never raises and yields exactly one record (a
  receipt that is no opt-out evidence: none);
- a send: exactly one of routed / suppressed / dead-lettered; routed only when the recipient
  holds nothing but digits (any script), a leading plus and separators, and then to the E.164
  of the digits written, which is also the provider's ``to``; a letter, mark, invisible,
  control or bidi character: suppressed ``invalid_number``; dead-lettered only for a schema
  error;
- a reply: dead-lettered only for a tombstone / non-JSON / non-object / oversize record, a
  missing, empty, unparseable or too long ``from`` (or one neither string nor number), or a
  body that is not text; otherwise routed, with an event time never later than the record
  timestamp plus the allowed skew (5 minutes).
"""

from __future__ import annotations

import json
import string
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from app.records import Origin, loads
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.router import Router

SETTINGS = Settings(kafka_bootstrap_servers="unused:9092", partitions=8)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
SKEW_MS = 5 * 60 * 1000
TOPICS = (SETTINGS.inbound_topic, SETTINGS.outbound_topic, SETTINGS.status_topic)
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SEPARATORS = " \u00a0-\u2010\u2011\u2013\u2014./()"
PLUS = "+\uff0b"
LOOKALIKE = ("OolISBZ" "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u034f\u061c" "\u200e\u200f\u202a\u202b\u202c"
             "\u202d\u202e\u2066\u2067\u2068\u2069" "\x00\t\n\r\x1b\x7f\x85" "¹²³⁴₅①⑨\u0301")
RECIPIENT_CHARS = string.digits * 3 + PLUS + SEPARATORS + "０１２٣٤۵६๗𝟖" + LOOKALIKE


def router() -> Router:
    return Router(SETTINGS, Stats(), clock=lambda: NOW)


def origin(topic: str, timestamp_ms: int | None = NOW_MS) -> Origin:
    return Origin(topic, 0, 7, timestamp_ms)


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode("utf-8", "surrogatepass")


def e164_of_digits(text: str) -> str | None:
    """The E.164 number of the decimal digits written (any script), read with region US,
    international when the first non-separator is a plus."""
    digits = "".join(str(unicodedata.digit(c)) for c in text if unicodedata.category(c) == "Nd")
    lead = text.lstrip(SEPARATORS)
    try:
        number = phonenumbers.parse(("+" if lead[:1] in PLUS else "") + digits, "US")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def acceptable_recipient_char(c: str) -> bool:
    """A decimal digit of any script, a plus, or a separator (any space or dash, a period,
    parenthesis or slash, or a full-width form of one)."""
    cat = unicodedata.category(c)
    return (cat in ("Nd", "Zs", "Pd") or c == "\u2212"
            or unicodedata.normalize("NFKC", c) in set(PLUS + SEPARATORS))


def forbidden_recipient_char(c: str) -> bool:
    """A letter, a mark, a control / format / private / unassigned / surrogate character
    (zero-width and bidi characters are format characters), a line or paragraph separator,
    a digit that is not decimal (superscripts, circled)."""
    return unicodedata.category(c)[0] in "LMC" or unicodedata.category(c) in ("Zl", "Zp", "No", "Nl")


# ------------------------------------------------------------------ any bytes


@PROPS
@given(st.sampled_from(TOPICS), st.none() | st.binary(max_size=300), st.none() | st.binary(max_size=40),
       st.none() | st.integers(-1, 2**42))
@example(SETTINGS.outbound_topic, b"[" * 5000 + b"]" * 5000, None, NOW_MS)
@example(SETTINGS.inbound_topic, b'{"from":"+12138762266","body":"STOP"' + b',"x":' + b"[" * 600 + b"]" * 600 + b"}",
         b"\xff", NOW_MS)
@example(SETTINGS.outbound_topic, b'{"message_id":"m","to":"+12138762266","body":"hi","x":' + b"[" * 600
         + b"]" * 600 + b"}", None, NOW_MS)
def test_any_bytes_on_any_topic_never_raise_and_make_one_record(topic, value, key, ts):
    out = router().route(origin(topic, ts), key, value)
    if out is None:
        assert topic == SETTINGS.status_topic  # only a receipt that is no opt-out evidence
    else:
        assert out.topic in (SETTINGS.routed_topic, SETTINGS.suppressed_topic, SETTINGS.deadletter_topic)
        loads(out.value)  # a JSON record


# ------------------------------------------------------------------ sends


def route_send(message: dict) -> tuple[str, dict]:
    out = router().route(origin(SETTINGS.outbound_topic), None, raw(message))
    assert out is not None
    record = loads(out.value)
    if out.topic == SETTINGS.routed_topic:
        return "routed", record
    if out.topic == SETTINGS.suppressed_topic:
        return f"suppressed:{record['reason']}", record
    assert out.topic == SETTINGS.deadletter_topic
    return "deadletter", record


@PROPS
@given(st.text(alphabet=RECIPIENT_CHARS, max_size=30) | st.text(max_size=80))
@example("+121387O22OO")
@example("1-800-FLOWERS")
@example("\u202e6622678312+")
@example("+1213\u200b8762266")
@example("\ufeff+12138762266")
@example("+1213\u00ad8762266")
@example("tel:+12138762266")
@example("+12138762266 ext 5")
@example("+１２１３８７６２２６６")
@example("+١٢١٣٨٧٦٢٢٦٦")
@example("+1 213 876 2266" + " " * 60)
def test_a_send_goes_to_the_digits_written_or_nowhere(to):
    outcome, record = route_send({"message_id": "s1", "to": to, "body": "hi"})
    assert outcome != "deadletter", record  # `to` is a string: no schema error
    if not to.strip():
        assert outcome == "suppressed:no_phone"
        return
    if outcome == "routed":
        assert len(to) <= 64
        assert all(acceptable_recipient_char(c) for c in to), (to, record["number"])
        assert record["number"] == e164_of_digits(to), (to, record["number"])
        # and the provider gets exactly that number
        provider = Decider(SETTINGS, Stats(), clock=lambda: NOW).process(
            json.dumps(record).encode(), {})
        assert len(provider) == 1 and provider[0].topic == SETTINGS.provider_topic
        assert loads(provider[0].value)["to"] == record["number"]
    else:
        assert outcome in ("suppressed:invalid_number", "suppressed:no_phone"), outcome
    if any(forbidden_recipient_char(c) for c in to) or len(to) > 64:
        assert outcome == "suppressed:invalid_number", (to, outcome, record.get("number"))


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@st.composite
def send_objects(draw: st.DrawFn) -> dict:
    obj: dict = {}
    for name, good in (("message_id", st.text(min_size=1, max_size=12)), ("account_id", st.text(min_size=1)),
                       ("to", st.sampled_from(["+12138762266", "(213) 876-2266", "+1213876O266", ""])),
                       ("body", st.text(max_size=30)), ("from", st.just("+14155550000"))):
        choice = draw(st.integers(0, 4))
        if choice == 0:
            continue  # missing
        obj[name] = draw(good) if choice <= 2 else draw(json_values)
    obj.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3)))
    return obj


def send_schema_error(obj: dict) -> bool:
    """message_id missing / empty / not a string, body missing / not a string, account_id not a
    string, `to` or `from` (schemas/outbound.py: our sending number) neither a string nor null."""
    mid, body, account, to, sender = (obj.get(k, "__missing__") for k in ("message_id", "body", "account_id", "to",
                                                                          "from"))
    return (not isinstance(mid, str) or mid in ("", "__missing__") or not isinstance(body, str)
            or body == "__missing__" or (account != "__missing__" and not isinstance(account, str))
            or (to not in ("__missing__", None) and not isinstance(to, str))
            or (sender not in ("__missing__", None) and not isinstance(sender, str)))


@PROPS
@given(send_objects())
def test_a_send_is_dead_lettered_exactly_for_schema_errors(obj):
    outcome, record = route_send(obj)
    if send_schema_error(obj):
        assert outcome == "deadletter", (obj, outcome)
    elif outcome == "deadletter":
        # the contract does not say for an empty account_id (a string) or a body over the limit
        assert obj.get("account_id") == "" or len(obj["body"]) > SETTINGS.max_body_chars, (obj, record)
    if outcome == "deadletter":
        assert record["error"] and record["source_topic"] == SETTINGS.outbound_topic


# ------------------------------------------------------------------ replies


def lenient_parses(value: str) -> bool:
    try:
        phonenumbers.parse(value, "US")
        return True
    except phonenumbers.NumberParseException:
        return False


def reply_must_dead_letter(obj: dict) -> bool:
    sender = obj.get("from")
    return (sender is None or isinstance(sender, bool) or not isinstance(sender, str | int | float)
            or (isinstance(sender, str) and not sender.strip())
            or not isinstance(obj.get("body"), str))


def reply_may_dead_letter(obj: dict) -> bool:
    sender = obj.get("from")
    if reply_must_dead_letter(obj) or isinstance(sender, float):
        return True
    text = sender if isinstance(sender, str) else str(sender)
    return len(text) > 64 or not lenient_parses(text)


times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                 timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)),
                                            timezone(timedelta(minutes=330))])).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(lambda d: d.isoformat()),
    st.sampled_from(["2099-01-01T00:00:00Z", "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00Z", "yesterday", ""]),
    st.integers(-2**63, 2**63), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(), json_values,
)
senders = st.one_of(st.sampled_from(["+12138762266", "(213) 876-2266", "+1213876O266", "1-800-FLOWERS",
                                     "+１２１３８７６２２６６", "\u202e6622678312+", "+1213\u200b8762266", "", "  ",
                                     "hello", "+", "+1 213 876 2266" + " " * 60]),
                    st.integers(-10, 10**15), st.text(alphabet=RECIPIENT_CHARS, max_size=20), json_values)


@st.composite
def reply_objects(draw: st.DrawFn) -> dict:
    obj: dict = {}
    fields = (("message_id", st.text(min_size=1, max_size=12) | json_values),
              ("account_id", st.text(max_size=12) | json_values),
              ("from", senders),
              ("to", st.sampled_from(["+14155550000", "garbage"]) | json_values),
              ("body", st.sampled_from(["STOP", "stop", "START", "hello", "x" * 3000]) | st.text(max_size=20)
               | json_values),
              ("locale", st.sampled_from(["en", "fr", "zz-ZZ"]) | json_values),
              ("received_at", times))
    for name, values in fields:
        if draw(st.integers(0, 5)):
            obj[name] = draw(values)
    return obj


@PROPS
@given(reply_objects(), st.none() | st.integers(NOW_MS - 10 * 86_400_000, NOW_MS + 3_600_000) | st.just(-1))
@example({"message_id": "r1", "from": "+12138762266", "body": "STOP", "received_at": "2099-01-01T00:00:00Z"},
         NOW_MS)
@example({"message_id": "r1", "from": "+12138762266", "body": "STOP", "received_at": "2026-06-01T12:00:00",
          "to": 14155550000, "account_id": 42}, NOW_MS)
@example({"from": 12138762266, "body": "STOP", "received_at": 1767225600}, NOW_MS)
@example({"from": "+12138762266", "body": "S" * 100_00}, NOW_MS)
def test_a_reply_is_dead_lettered_only_for_its_sender_or_body(obj, ts):
    out = router().route(origin(SETTINGS.inbound_topic, ts), None, raw(obj))
    assert out is not None
    record = loads(out.value)
    if out.topic == SETTINGS.deadletter_topic:
        assert reply_may_dead_letter(obj), (obj, record["error"])
        return
    assert not reply_must_dead_letter(obj), (obj, record)
    assert out.topic == SETTINGS.routed_topic
    assert record["number"].startswith("+") and record["number"][1:].isdigit()
    assert isinstance(record["message_id"], str) and record["message_id"]
    assert isinstance(record["account_id"], str) and record["account_id"]
    if isinstance(obj.get("account_id"), int) and not isinstance(obj.get("account_id"), bool):
        assert record["account_id"] == str(obj["account_id"])
    # the event time: never later than the record's time plus the skew
    bound_ms = (ts if ts is not None and ts >= 0 else NOW_MS) + SKEW_MS
    event_ms = int(datetime.fromisoformat(record["event_time"]).timestamp() * 1000)
    assert event_ms <= bound_ms, (obj.get("received_at"), ts, record["event_time"])


@PROPS
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2026, 6, 1, 12, 4)),
       st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]))
def test_a_reply_time_within_the_bound_is_kept_naive_read_as_utc(moment, tz):
    """received_at no later than the record timestamp + 5 min is the event time; without an
    offset it is UTC."""
    aware = moment.replace(tzinfo=tz or UTC)
    assume(aware <= NOW + timedelta(minutes=5))
    text = moment.replace(tzinfo=tz).isoformat()
    out = router().route(origin(SETTINGS.inbound_topic), None,
                         raw({"message_id": "r", "from": "+12138762266", "body": "STOP", "received_at": text}))
    assert out is not None and out.topic == SETTINGS.routed_topic, loads(out.value)
    assert datetime.fromisoformat(loads(out.value)["event_time"]) == aware


@PROPS
@given(st.integers(-2**40, 2**40) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
       | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
       | st.text(alphabet=string.ascii_letters + " ", max_size=20),
       st.integers(NOW_MS - 86_400_000, NOW_MS))
def test_a_reply_time_that_is_not_a_time_string_is_the_record_timestamp(value, ts):
    out = router().route(origin(SETTINGS.inbound_topic, ts), None,
                         raw({"message_id": "r", "from": "+12138762266", "body": "STOP", "received_at": value}))
    assert out is not None and out.topic == SETTINGS.routed_topic, loads(out.value)
    event_ms = int(datetime.fromisoformat(loads(out.value)["event_time"]).timestamp() * 1000)
    assert event_ms == ts, (value, ts, loads(out.value)["event_time"])


# ------------------------------------------------------------------ receipts


@PROPS
@given(st.dictionaries(st.sampled_from(["message_id", "account_id", "to", "provider", "status", "error_code"]),
                       json_values | st.sampled_from(["twilio", 21610, "21610", "+12138762266", "hello"]),
                       max_size=6))
def test_a_receipt_is_ignored_dead_lettered_or_an_opt_out_never_an_error(obj):
    out = router().route(origin(SETTINGS.status_topic), None, raw(obj))
    if out is None:
        return
    record = loads(out.value)
    assert out.topic in (SETTINGS.routed_topic, SETTINGS.deadletter_topic)
    if out.topic == SETTINGS.deadletter_topic:
        assert record["error"] and not record["error"].startswith("internal error")
    else:
        assert record["kind"] == "provider" and record["number"].startswith("+")


@pytest.mark.parametrize("field", ["account_id", "message_id"])
def test_ids_beyond_64_bits_stay_distinct(field):
    """orjson reads such an integer as a float: -9223372036854775809 and -9223372036854775808
    would become one account (or one message id). Found by the property above."""
    router = Router(SETTINGS, Stats())
    seen = []
    for n in (-9223372036854775809, -9223372036854775808, 18446744073709551616, 18446744073709551617):
        body = json.dumps({"from": "+14155550100", "body": "STOP", field: n}).encode()
        out = router.route(Origin(SETTINGS.inbound_topic, 0, 1, 0), None, body, None)
        assert out.topic == SETTINGS.routed_topic
        seen.append(json.loads(out.value)[field])
    assert seen == ["-9223372036854775809", "-9223372036854775808", "18446744073709551616", "18446744073709551617"]
