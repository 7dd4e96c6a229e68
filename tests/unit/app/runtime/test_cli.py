"""The commands that put records in and show what came out, without a broker (app/runtime/cli).

Against a real broker and worker: tests/integration/test_cli.py.
"""

from __future__ import annotations

import json
import logging
import random
import re
import socket
from datetime import UTC

import pytest

from app.__main__ import main
from app.domain.masking import mask
from app.runtime.cli import demo
from app.runtime.cli.kafka_io import CommandError
from app.runtime.cli.outcome_lines import outcome_line, text, topic_kinds
from app.runtime.cli.put import new_id, receipt_record, reply_record, send_record
from app.runtime.cli.tail import Seen, check_numbers_allowed, resolve_topics
from app.settings import Settings, get_settings
from schemas import InboundReply, OutboundRequest, StatusReceipt

NUMBER = "+14155550100"
T = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


@pytest.fixture(autouse=True)
def fresh_settings():
    get_settings.cache_clear()  # the command line reads each test's environment
    client = logging.getLogger("aiokafka")
    level = client.level
    yield
    get_settings.cache_clear()
    client.setLevel(level)  # the commands silence the client's logs: not the other tests'


def settings(**overrides) -> Settings:
    return Settings(**overrides)


def line(kind: str, record: dict | bytes, *, numbers: bool = False) -> str:
    value = record if isinstance(record, bytes) else json.dumps(record).encode()
    return outcome_line(kind, value, T, numbers=numbers, tz=UTC)


# ---------------------------------------------------------------- reply, send: the records


def test_a_reply_is_the_minimal_record_of_its_contract_keyed_by_the_e164_number():
    record = reply_record(settings(), "(415) 555-0100", "ALTO", account="acme", locale="es")
    assert record.topic == "sms.inbound" and record.key == NUMBER
    assert record.value == {"message_id": record.message_id, "account_id": "acme", "from": "(415) 555-0100",
                            "body": "ALTO", "locale": "es"}
    context: dict = {}
    InboundReply.model_validate(record.value, context=context)
    assert context == {}  # nothing coerced
    assert record.message_id.startswith("cli-")


def test_a_send_is_the_minimal_record_of_its_contract():
    record = send_record(settings(), NUMBER, "Your order has shipped", account="acme", message_id="s-1")
    assert record.topic == "sms.outbound" and record.key == NUMBER and record.note is None
    assert record.value == {"message_id": "s-1", "account_id": "acme", "to": NUMBER, "body": "Your order has shipped"}
    OutboundRequest.model_validate(record.value)


def test_the_topics_come_from_the_settings():
    s = settings(inbound_topic="t1.inbound", outbound_topic="t1.outbound", status_topic="t1.status")
    assert reply_record(s, NUMBER, "STOP").topic == "t1.inbound"
    assert send_record(s, NUMBER, "hi").topic == "t1.outbound"
    assert receipt_record(s, NUMBER, provider="twilio", status="undelivered", error_code=21610).topic == "t1.status"


def test_a_receipt_is_valid():
    record = receipt_record(settings(), NUMBER, provider="twilio", status="undelivered", error_code=21610,
                            message_id="m-1")
    assert StatusReceipt.model_validate(record.value).error_code == 21610


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"number": "hello"}, "--from 'hello': cannot parse phone number"),
    ({"number": ""}, "--from '': no phone number"),
    ({"locale": "not a tag"}, "--locale 'not a tag': not a language tag"),
    ({"account": "a" * 200}, "--account 'aaaa"),
])
def test_a_reply_the_worker_would_not_read_as_given_is_refused(kwargs, says):
    arguments = {"number": NUMBER, **kwargs}
    with pytest.raises(CommandError, match="^" + re.escape(says)):
        number = arguments.pop("number")
        reply_record(settings(), number, "STOP", **arguments)


def test_a_refused_reply_does_not_show_the_number_it_was_given():
    with pytest.raises(CommandError) as refused:
        reply_record(settings(), "+1 415 555 0100 ext", "STOP", locale="?")
    assert "415 555" not in str(refused.value)


def test_a_send_to_an_invalid_number_is_produced_with_a_note():
    record = send_record(settings(), "+1 415 555", "hi")
    assert record.note and "invalid_number" in record.note


def test_a_send_over_the_body_limit_is_refused():
    with pytest.raises(CommandError, match="over OPTOUT_MAX_BODY_CHARS=10"):
        send_record(settings(max_body_chars=10), NUMBER, "x" * 11)


def test_fresh_message_ids_are_different_and_masking_leaves_them_alone():
    ids = {new_id("cli") for _ in range(2000)}
    assert len(ids) == 2000 and all(mask(i) == i for i in ids)


# ---------------------------------------------------------------- tail: the lines


def test_a_suppressed_send_is_one_line_with_its_reason():
    got = line("suppressed", {"reason": "opted_out", "message": {"message_id": "s-123", "account_id": "acme",
                                                                "to": NUMBER, "body": "hi"},
                              "suppressed_at": "2023-11-14T22:13:20+00:00"})
    assert got == "22:13:20 suppressed +*******0100  acme  opted_out  s-123"


def test_numbers_are_shown_whole_only_when_asked():
    record = {"reason": "opted_out", "message": {"message_id": "s-1", "to": NUMBER, "body": "hi"}}
    assert NUMBER not in line("suppressed", record)
    assert NUMBER in line("suppressed", record, numbers=True)


@pytest.mark.parametrize(("kind", "record", "shown"), [
    ("provider", {"message_id": "m-1", "account_id": "acme", "to": NUMBER, "body": "hi"},
     "provider   +*******0100  acme  cleared for delivery  m-1"),
    ("provider", {"message_id": "r-7:opt-out", "account_id": "acme", "to": NUMBER, "body": "You are unsubscribed.",
                  "category": "compliance", "in_reply_to": "r-7"},
     'provider   +*******0100  acme  compliance opt-out "You are unsubscribed."  r-7:opt-out'),
    ("suppressed", {"reason": "invalid_number", "detail": "not a valid phone number",
                    "message": {"message_id": "s-2", "to": "+1 415 555"}},
     "suppressed +* **5 555    default  invalid_number (not a valid phone number)  s-2"),
    ("suppressed", {"reason": "no_phone", "message": {"message_id": "s-3", "to": None}},
     "suppressed -             default  no_phone  s-3"),
    ("consent", {"account_id": "acme", "number": NUMBER, "intent": "opt_out", "source": "keyword", "matched": "stop",
                 "verdict": "applied", "message_id": "r-1", "previous_state": None, "new_state": "opted_out"},
     'consent    +*******0100  acme  opt_out applied (keyword "stop") -> opted_out  r-1'),
    ("consent", {"account_id": "acme", "number": NUMBER, "intent": "opt_in", "source": "keyword", "matched": "start",
                 "verdict": "applied", "message_id": "r-2", "previous_state": "opted_out", "new_state": "subscribed"},
     'consent    +*******0100  acme  opt_in applied (keyword "start") opted_out -> subscribed  r-2'),
    ("consent", {"account_id": "acme", "number": NUMBER, "intent": "opt_out", "source": "provider",
                 "provider": "twilio", "matched": "21610", "verdict": "applied", "message_id": "m-9",
                 "previous_state": "opted_out", "new_state": "opted_out"},
     "consent    +*******0100  acme  opt_out applied (provider twilio 21610)  m-9"),
    ("consent", {"account_id": "acme", "number": NUMBER, "intent": "opt_out", "source": "operator", "matched": None,
                 "verdict": "unchanged", "message_id": "op-1", "previous_state": "opted_out",
                 "new_state": "opted_out"},
     "consent    +*******0100  acme  opt_out unchanged (operator)  op-1"),
    ("review", {"review_id": "3.7d65b32b6f86b32cc5", "account_id": "acme", "number": NUMBER, "message_id": "r-5",
                "body": "Will you stop by later?", "matched": "stop", "rule": "embedded_keyword",
                "deadline": "2023-11-28T22:13:20+00:00"},
     'review     +*******0100  acme  review 3.7d65b32b6f86b32cc5 by 2023-11-28: "Will you stop by later?"  r-5'),
    ("deadletter", {"source_topic": "sms.inbound", "partition": 2, "offset": 15, "error": "field 'from': no phone",
                    "payload": json.dumps({"message_id": "r-9", "account_id": "acme", "body": "STOP"}),
                    "at": "2023-11-14T22:13:20+00:00"},
     "deadletter -             acme  dead letter from sms.inbound[2]@15: field 'from': no phone  r-9"),
    ("deadletter", {"source_topic": "sms.outbound", "partition": 0, "offset": 3, "error": "not valid JSON",
                    "payload": "bm90IGpzb24=", "payload_encoding": "base64"},
     "deadletter -             -  dead letter from sms.outbound[0]@3: not valid JSON  -"),
    ("inbound", {"message_id": "r-1", "from": NUMBER, "body": "ALTO", "locale": "es"},
     'inbound    +*******0100  default  reply "ALTO" (locale es)  r-1'),
    ("outbound", {"message_id": "s-1", "to": NUMBER, "body": "hi", "account_id": "acme"},
     'outbound   +*******0100  acme  send request "hi"  s-1'),
    ("status", {"message_id": "m-1", "to": NUMBER, "provider": "twilio", "status": "undelivered", "error_code": 21610},
     "status     +*******0100  default  receipt twilio undelivered 21610  m-1"),
])
def test_each_topic_has_a_readable_line(kind, record, shown):
    assert line(kind, record) == f"22:13:20 {shown}"


def test_what_an_upstream_wrote_is_masked_and_shown_on_one_line():
    got = line("inbound", {"message_id": "msg-14155550101", "account_id": "+14155550102", "from": NUMBER,
                           "body": "call me\non 415 555 0103\u202e now"})
    for digits in ("14155550101", "14155550102", "415 555 0103"):
        assert digits not in got
    assert "\n" not in got and "\u202e" not in got


def test_a_record_that_is_no_json_object_still_makes_a_line():
    assert line("consent", b"\xff\x00garbage").endswith("-             -  not a JSON object (9 bytes)  -")
    assert line("consent", b"[1, 2]").endswith("not a JSON object (6 bytes)  -")


def test_long_texts_are_cut():
    assert text("x" * 100, 10) == "x" * 9 + "…"


# ---------------------------------------------------------------- tail: topics and --numbers


def test_topics_by_short_or_full_name_and_the_outcomes_by_default():
    s = settings(provider_topic="t.provider", suppressed_topic="t.suppressed", consent_topic="t.consent",
                 review_topic="t.review", deadletter_topic="t.deadletter")
    assert resolve_topics(s, []) == {"t.provider": "provider", "t.suppressed": "suppressed", "t.consent": "consent",
                                     "t.review": "review", "t.deadletter": "deadletter"}
    assert resolve_topics(s, ["suppressed", "t.consent", "inbound"]) == {
        "t.suppressed": "suppressed", "t.consent": "consent", "sms.inbound": "inbound"}
    with pytest.raises(CommandError, match="unknown topic 'sms.suppressed'"):
        resolve_topics(s, ["sms.suppressed"])
    assert set(topic_kinds(s).values()) == {"provider", "suppressed", "consent", "review", "deadletter", "inbound",
                                            "outbound", "status"}


ADMIN = "an-admin-token-of-24-bytes"


def test_numbers_need_the_admin_token():
    with pytest.raises(CommandError, match="set OPTOUT_ADMIN_TOKEN"):
        check_numbers_allowed(settings(), None)
    with pytest.raises(CommandError, match="set OPTOUT_ADMIN_TOKEN"):
        check_numbers_allowed(settings(), ADMIN)  # nothing to compare it with
    with pytest.raises(CommandError, match="is not the admin token"):
        check_numbers_allowed(settings(admin_token=ADMIN), "another-token-of-24-bytes")
    check_numbers_allowed(settings(admin_token=ADMIN), ADMIN)
    check_numbers_allowed(settings(admin_token=ADMIN), None)  # the environment holds it


def test_tail_refuses_numbers_without_the_token_before_connecting(monkeypatch, capsys):
    monkeypatch.delenv("OPTOUT_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{_closed_port()}")
    assert main(["tail", "--numbers"]) == 2
    assert capsys.readouterr().err.startswith("error: --numbers shows whole numbers to the holder of the admin token")
    monkeypatch.setenv("OPTOUT_ADMIN_TOKEN", ADMIN)
    get_settings.cache_clear()
    assert main(["tail", "--numbers", "--admin-token", "wrong-token-but-long-enough"]) == 2
    assert "is not the admin token" in capsys.readouterr().err


def test_tail_names_an_unknown_topic(capsys):
    assert main(["tail", "nope"]) == 2
    assert "unknown topic 'nope': one of provider, suppressed" in capsys.readouterr().err


# ---------------------------------------------------------------- no broker: one line, exit 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("argv", [
    ["send", "--to", NUMBER, "hello"],
    ["reply", "--from", NUMBER, "STOP"],
    ["tail"],
    ["demo"],
])
def test_an_unreachable_broker_is_one_line_and_exit_2(argv, monkeypatch, capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{_closed_port()}")
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Kafka at 127.0.0.1:"), lines


def test_a_reply_refused_before_producing_is_exit_2_without_connecting(monkeypatch, capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{_closed_port()}")
    assert main(["reply", "--from", "not a number", "STOP"]) == 2
    assert "the worker would dead-letter the reply" in capsys.readouterr().err


# ---------------------------------------------------------------- demo


def test_the_demos_numbers_are_fresh_valid_and_fictional():
    numbers = demo.fresh_numbers(5, random.Random(7))
    assert len(set(numbers)) == 5
    assert all(n.startswith("+1") and n[5:10] == "55501" and len(n) == 12 for n in numbers)


def test_the_timeline_link():
    assert demo.timeline_link(settings(), NUMBER, "demo-ab12cd") == \
        "http://127.0.0.1:6066/numbers/%2B14155550100?account=demo-ab12cd"
    assert demo.timeline_link(settings(web_port=16066), NUMBER, "a").startswith("http://127.0.0.1:16066/numbers/")
    assert demo.timeline_link(Settings(OPTOUT_WEB_URL="https://optout.example.com/"), NUMBER, "a") == \
        "https://optout.example.com/numbers/%2B14155550100?account=a"


def test_the_story_is_valid_records_on_the_configured_topics():
    s = settings(inbound_topic="t.inbound", outbound_topic="t.outbound", status_topic="t.status")
    steps = demo.story(s, "ab12cd", demo.fresh_numbers(5))
    assert [step.record.topic for step in steps] == ["t.inbound", "t.outbound", "t.inbound", "t.inbound",
                                                     "t.inbound", "t.inbound", "t.outbound", "t.status"]
    assert len({step.record.message_id for step in steps}) == len(steps)
    assert {step.record.value["account_id"] for step in steps} == {"demo-ab12cd"}
    assert steps[2].record.value["locale"] == "es" and steps[2].record.value["body"] == "ALTO"
    assert steps[7].record.value["error_code"] == 21610


def seen(kind: str, record: dict) -> Seen:
    return Seen(kind, f"sms.{kind}", T, json.dumps(record).encode(), record)


def test_a_step_is_done_when_its_outcomes_are_there_and_fails_on_another():
    stop = demo.consent_change("opt_out")
    consent = seen("consent", {"message_id": "d-1", "intent": "opt_out", "verdict": "applied"})
    confirmation = seen("provider", {"message_id": "d-1:opt-out", "in_reply_to": "d-1", "category": "compliance"})
    other = seen("consent", {"message_id": "d-9", "intent": "opt_out", "verdict": "applied"})
    assert demo.related([consent, confirmation, other], "d-1") == [consent, confirmation]
    assert stop([consent]) == (False, None)  # applied: its confirmation is awaited too
    assert stop([consent, confirmation]) == (True, None)
    unchanged = seen("consent", {"message_id": "d-1", "intent": "opt_out", "verdict": "unchanged"})
    assert stop([unchanged]) == (True, None)  # nothing changed: no confirmation comes
    help_ = seen("consent", {"message_id": "d-1", "intent": "help", "verdict": "logged"})
    assert stop([help_]) == (True, "read as help, not opt_out")

    send = demo.suppressed_as("opted_out")
    cleared = seen("provider", {"message_id": "d-2", "to": NUMBER})
    assert demo.related([cleared], "d-2") == [cleared]
    assert send([cleared]) == (True, "cleared for delivery: it should have been suppressed")
    assert send([seen("suppressed", {"reason": "opted_out", "message": {"message_id": "d-2"}})]) == (True, None)
    assert demo.delivered([seen("suppressed", {"reason": "opted_out", "message": {"message_id": "d-2"}})]) == \
        (True, "suppressed (opted_out): it should have been cleared")
    dead = seen("deadletter", {"error": "bad", "payload": json.dumps({"message_id": "d-3"})})
    assert demo.related([dead], "d-3") == [dead]
    assert demo.queued_for_review([dead]) == (False, "dead-lettered: bad")
