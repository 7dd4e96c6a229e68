"""The routed topic's records (app/stream/routed.py): the kinds' strings on the wire, and every
record the router and the processor write has the shape its TypedDict declares."""

from __future__ import annotations

import json

import pytest

from app.engine.inputs import InRecord
from app.engine.processor import Processor
from app.records import Origin, dumps, loads
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.routed import (
    TALLY_RECORD_KEY,
    Kind,
    RoutedOperator,
    RoutedProvider,
    RoutedReply,
    RoutedReview,
    RoutedSend,
    TallyRecord,
)
from app.stream.router import Router

SETTINGS = Settings(partitions=8, kafka_bootstrap_servers="unused:9092")
T = 1_767_225_600_000


def test_the_kinds_are_the_strings_on_the_wire() -> None:
    assert {kind.name: kind.value for kind in Kind} == {
        "REPLY": "reply", "SEND": "send", "OPERATOR": "operator", "PROVIDER": "provider",
        "REVIEW_DECISION": "review_decision", "REVIEW_EXPIRED": "review_expired", "TALLY": "tally"}
    assert dumps({"kind": Kind.REVIEW_EXPIRED}) == b'{"kind":"review_expired"}'
    read = loads(b'{"kind":"send"}')["kind"]
    assert read == Kind.SEND and read in (Kind.SEND,) and {Kind.SEND: 1}[read] == 1
    assert Kind(read) is Kind.SEND


def shape_of(record: dict, declared: type) -> None:
    required, optional = declared.__required_keys__, declared.__optional_keys__  # type: ignore[attr-defined]
    assert required <= set(record) <= required | optional, (declared.__name__, set(record) ^ required)


def raw(obj: dict) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture
def router() -> Router:
    return Router(SETTINGS, Stats())


def test_every_record_the_router_writes_has_its_declared_shape(router: Router) -> None:
    reply = router.route(Origin(SETTINGS.inbound_topic, 0, 1, T), None,
                         raw({"message_id": "r1", "from": "+14155550101", "body": "STOP", "account_id": 7}))
    coerced = router.route(Origin(SETTINGS.inbound_topic, 0, 2, T), None,
                           raw({"message_id": "r2", "from": "+14155550101", "body": "STOP", "account_id": ""}))
    send = router.route(Origin(SETTINGS.outbound_topic, 0, 1, T), None,
                        raw({"message_id": "s1", "to": "+14155550101", "body": "x"}), [SETTINGS.inbound_topic, [3]])
    receipt = router.route(Origin(SETTINGS.status_topic, 0, 1, T), None,
                           raw({"message_id": "m1", "to": "+14155550101", "provider": "twilio", "status": "failed",
                                "error_code": 21610}))
    operator = router.operator_opt_out("+14155550101", "acme", "asked by phone", "agent-7")
    item = {"number": "+14155550101", "account_id": "acme", "review_id": "3.0123456789abcdef01"}
    decision = router.review_event(Kind.REVIEW_DECISION, item, decision="dismiss", decided_by="a", note=None)
    expired = router.review_event(Kind.REVIEW_EXPIRED, item)
    for output, declared, kind in ((reply, RoutedReply, "reply"), (coerced, RoutedReply, "reply"),
                                   (send, RoutedSend, "send"), (receipt, RoutedProvider, "provider"),
                                   (operator, RoutedOperator, "operator"), (decision, RoutedReview, "review_decision"),
                                   (expired, RoutedReview, "review_expired")):
        assert output is not None and output.topic == SETTINGS.routed_topic
        assert output.value.startswith(b'{"kind":"%s",' % kind.encode())  # byte-identical on the wire
        shape_of(loads(output.value), declared)
    assert "coerced" in loads(coerced.value) and "after" in loads(send.value)


def test_the_tally_record_has_its_declared_shape_and_key(router: Router) -> None:
    processor = Processor(SETTINGS, router, Decider(SETTINGS, router.stats), router.stats, clock_ms=lambda: T)
    by_task = processor.process([InRecord(SETTINGS.inbound_topic, 2, 40, T, None, b"not json")])
    (outputs,) = by_task.values()
    (tally,) = [o for o in outputs if o.topic == SETTINGS.routed_topic]
    assert tally.key == TALLY_RECORD_KEY == b"__tally__"
    assert tally.value.startswith(b'{"kind":"tally",')
    record = loads(tally.value)
    shape_of(record, TallyRecord)
    assert record["outcomes"] == [[40, "d", "not_json"]]
