"""Issue 8: nothing a client writes may block a STOP or text another person (no Kafka)."""

from __future__ import annotations

import json

import pytest

from app.domain.numbers import MAX_NUMBER_CHARS, cache_usage
from app.records import loads
from schemas import ConsentRecord
from tests.unit.app.scenarios.test_consent_flows import BASE, REPLY_MS, Harness, consent

HOUR_MS = 3_600_000


@pytest.fixture
def h():
    return Harness()


def test_a_start_dated_2099_cannot_make_a_later_stop_stale(h):
    log = consent(h.reply("r1", "START", received_at="2099-01-01T00:00:00+00:00", timestamp_ms=REPLY_MS))
    assert log["event_time"] == "2026-01-01T00:00:00+00:00"  # not believed: the record's time
    assert "record's time" in log["coerced"]["received_at"]
    ConsentRecord.model_validate(log)
    stop = consent(h.reply("r2", "STOP", timestamp_ms=REPLY_MS + 2000))  # two seconds later
    assert stop["verdict"] == "applied" and stop["new_state"] == "opted_out"
    assert h.send("s1", at_ms=REPLY_MS + HOUR_MS) == "opted_out"


def test_a_start_dated_within_the_skew_is_dated_at_its_record_so_a_stop_right_after_applies(h):
    log = consent(h.reply("r1", "START", received_at="2026-01-01T00:04:00+00:00", timestamp_ms=REPLY_MS))
    assert log["event_time"] == "2026-01-01T00:00:00+00:00" and "opt-in" in log["coerced"]["event_time"]
    stop = consent(h.reply("r2", "STOP", timestamp_ms=REPLY_MS + 10_000))
    assert stop["verdict"] == "applied" and stop["new_state"] == "opted_out"


def test_an_opt_out_may_be_dated_within_the_skew(h):
    log = consent(h.reply("r1", "STOP", received_at="2026-01-01T00:04:00+00:00", timestamp_ms=REPLY_MS))
    assert log["event_time"] == "2026-01-01T00:04:00+00:00" and not log.get("coerced")
    start = consent(h.reply("r2", "START", timestamp_ms=REPLY_MS + 10_000))
    assert start["verdict"] == "stale"  # fail closed: the opt-out stands


def test_a_record_timestamp_in_the_future_is_bounded_by_the_workers_clock(h):
    log = consent(h.reply("r1", "START", timestamp_ms=4_070_908_800_000))  # CreateTime 2099, no received_at
    assert log["event_time"] < "2099" and "record's time" in log["coerced"]["timestamp"]


def test_the_allowed_skew_is_a_setting():
    h = Harness(BASE.model_copy(update={"max_clock_skew_ms": 0}))
    log = consent(h.reply("r1", "STOP", received_at="2026-01-01T00:00:01+00:00", timestamp_ms=REPLY_MS))
    assert log["event_time"] == "2026-01-01T00:00:00+00:00" and log["coerced"]["received_at"]


def test_a_send_nested_too_deep_to_pass_on_is_dead_lettered_with_a_reason(h):
    deep = "[" * 400 + "]" * 400
    value = ('{"message_id": "s1", "to": "+14155550101", "body": "x", "extra": ' + deep + "}").encode()
    out = h.router.route(h_origin()._replace(topic=BASE.outbound_topic), None, value)
    record = loads(out.value)
    assert out.topic == BASE.deadletter_topic and "cannot be passed on as JSON" in record["error"]


def test_a_reused_message_id_does_not_swallow_a_stop(h):
    h.reply("X", "START")
    log = consent(h.reply("X", "STOP"))
    assert log["new_state"] == "opted_out" and log["message_id_clash"] is True
    assert h.send("s1") == "opted_out"
    assert h.stats.snapshot()["message_id_clashes"] == 1


def test_a_true_replay_is_still_a_duplicate(h):
    h.reply("X", "STOP")
    assert h.reply("X", "STOP") == {}


def test_a_reused_id_on_help_is_answered_again(h):
    assert BASE.provider_topic in h.reply("X", "HELP")
    assert BASE.provider_topic in h.reply("X", "INFO")
    assert h.reply("X", "INFO") == {}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"received_at": "2026-01-01T00:00:00"}, "received_at"),  # no offset: UTC
        ({"received_at": "not a time"}, "received_at"),
        ({"received_at": 1e300}, "received_at"),
        ({"received_at": 1767225600}, "received_at"),  # a number is not read as Unix time
        ({"to": 18005550000}, None),
        ({"to": {"x": 1}}, "to"),
        ({"account_id": 7}, None),
        ({"account_id": {"x": 1}}, "account_id"),
        ({"locale": ["fr"]}, "locale"),
        ({"message_id": None}, "message_id"),
        ({"message_id": ["a"]}, "message_id"),
    ],
)
def test_a_stop_is_never_dead_lettered_over_its_metadata(h, extra, field):
    message = {"message_id": "m1", "from": "+14155550101", "body": "STOP", **extra}
    result = h.feed(BASE.inbound_topic, message)
    assert BASE.deadletter_topic not in result
    log = consent(result)
    assert log["new_state"] == "opted_out"
    assert (field in (log.get("coerced") or {})) if field else not log.get("coerced") or "received_at" in log["coerced"]
    ConsentRecord.model_validate(log)
    assert h.send("s1", account_id=log["account_id"]) == "opted_out"


def test_a_missing_message_id_is_derived_from_the_records_position(h):
    result = h.feed(BASE.inbound_topic, {"from": "+14155550101", "body": "STOP"})
    assert consent(result)["message_id"] == f"{BASE.inbound_topic}:0:{h.offset}"


def test_a_sender_given_as_a_json_number_is_read(h):
    log = consent(h.feed(BASE.inbound_topic, {"message_id": "m", "from": 14155550101, "body": "STOP"}))
    assert log["number"] == "+14155550101"


@pytest.mark.parametrize("sender", [None, "", "call me", {"n": 1}, True, "+1" + "4" * MAX_NUMBER_CHARS])
def test_only_an_unusable_sender_dead_letters_a_reply(h, sender):
    result = h.feed(BASE.inbound_topic, {"message_id": "m", "from": sender, "body": "STOP"})
    (dead,) = result[BASE.deadletter_topic]
    assert "'from'" in dead["error"]


@pytest.mark.parametrize("body", [None, 5, ["STOP"], {"text": "STOP"}])
def test_a_body_that_is_not_text_dead_letters_a_reply(h, body):
    result = h.feed(BASE.inbound_topic, {"message_id": "m", "from": "+14155550101", "body": body})
    assert "body" in result[BASE.deadletter_topic][0]["error"]


def test_a_long_reply_is_classified_on_its_beginning(h):
    body = "please stop texting me " + "x" * 5000
    log = consent(h.reply("r1", body))
    assert log["new_state"] == "opted_out" and "5023 characters" in log["coerced"]["body"]
    assert len(log["body"]) == BASE.max_body_chars


def test_a_long_account_id_maps_to_the_same_key_for_replies_and_sends(h):
    account = "tenant-" + "a" * 500
    log = consent(h.reply("r1", "STOP", account_id=account))
    assert log["account_id"].startswith("sha256:")
    assert h.send("s1", account_id=account) == "opted_out"
    assert h.send("s2", account_id="tenant-b") == "provider"


# ---------------------------------------------------------------- sends never change number

OPTED_OUT = "+12138762266"


@pytest.mark.parametrize(
    "look_alike",
    [
        "+121387O22OO",  # letter O for zero: phonenumbers would read it as 6 (vanity)
        "+1213876226l",
        "+1 213 TRUMP 66",
        "+1213876\u200b2266",  # zero-width space
        "+1213876\u200d2266",  # zero-width joiner
        "\u202e+12138762266",  # right-to-left override
        "+1213876\u200e2266",  # left-to-right mark
        "\ufeff+12138762266",  # byte order mark
        "+1213876\u00ad2266",  # soft hyphen
        "+1213876\x002266",
        "+1213876\t2266",
        "tel:+12138762266",
        "+1 213 876 2266 ext 5",
        "+1-213-876-2266#",
        "+1 213 876 2266+",
        "+12138762266;+12135550123",
    ],
)
def test_a_look_alike_recipient_is_suppressed_never_rewritten(h, look_alike):
    h.reply("r1", "STOP", number=OPTED_OUT)
    result = h.feed(BASE.outbound_topic, {"message_id": "s1", "to": look_alike, "body": "promo"})
    (topic, [record]), = result.items()
    assert topic == BASE.suppressed_topic and record["reason"] == "invalid_number"


@pytest.mark.parametrize(
    "written",
    [
        "＋１２１３５５５０１２３",  # full-width
        "+١٢١٣٥٥٥٠١٢٣",  # Arabic-Indic
        "+۱۲۱۳۵۵۵۰۱۲۳",  # Extended Arabic-Indic (Persian)
        "+१२१३५५५०१२३",  # Devanagari
        "(213) 555-0123",
        "213.555.0123",
        "+1 213\u00a0555\u20110123",  # no-break space, non-breaking hyphen
        "1/213/555/0123",
    ],
)
def test_digits_of_any_script_and_usual_separators_are_accepted(h, written):
    result = h.feed(BASE.outbound_topic, {"message_id": "s1", "to": written, "body": "hi"}, timestamp_ms=REPLY_MS)
    (record,) = result[BASE.provider_topic]
    assert record["to"] == "+12135550123"


def test_replies_stay_lenient_and_fail_closed(h):
    log = consent(h.reply("r1", "STOP", number="+121387O22OO"))
    assert log["number"] == "+12138762266"  # what it parses to: that number is opted out


# ---------------------------------------------------------------- bounded memory

def test_numbers_longer_than_any_phone_number_are_rejected_before_parsing(h):
    before = cache_usage()["entries"]
    for i in range(50):
        result = h.feed(BASE.outbound_topic, {"message_id": f"s{i}", "to": f"+1{i}" + "5" * 60_000, "body": "x"})
        assert result[BASE.suppressed_topic][0]["reason"] == "invalid_number"
    assert cache_usage()["entries"] == before


def test_dead_letters_of_hostile_payloads_fit(h):
    for payload in (b"\x00" * 943_718, bytes(range(256)) * 3686, json.dumps({"from": "\x01" * 900_000}).encode()):
        out = h.router.route(h_origin(), None, payload)
        assert len(out.value) < 1_000_000
        record = loads(out.value)
        assert record["payload_size"] == len(payload) and len(record["payload_sha256"]) == 64


def h_origin():
    from app.records import Origin
    return Origin(BASE.inbound_topic, 0, 1, REPLY_MS)


def test_an_opt_in_ordered_at_its_record_lets_sends_through_only_from_the_time_it_claims(h):
    h.reply("r0", "STOP", timestamp_ms=REPLY_MS - HOUR_MS)
    log = consent(h.reply("r1", "START", received_at="2026-01-01T00:04:00+00:00", timestamp_ms=REPLY_MS))
    assert log["new_state"] == "subscribed" and "ordered at" in log["coerced"]["event_time"]
    assert h.send("s1", at_ms=REPLY_MS + 120_000) == "opted_out"  # before the START's claimed 00:04
    assert h.send("s2", at_ms=REPLY_MS + 300_000) == "provider"


def test_a_received_at_within_its_records_millisecond_is_not_after_it(h):
    log = consent(h.reply("r1", "START", received_at="2026-01-01T00:00:00.000900+00:00", timestamp_ms=REPLY_MS))
    assert not log.get("coerced") and log["event_time"] == "2026-01-01T00:00:00.000900+00:00"
