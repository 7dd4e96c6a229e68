"""The two processing steps without Kafka: bytes in, records out."""

import base64
import json

import pytest

from app.records import Origin, loads
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.decider import Decider
from app.stream.keys import consent_key
from app.stream.partitioner import partition_for
from app.stream.router import Router
from schemas import DeadLetter, ProviderMessage, SuppressedMessage

SETTINGS = Settings(partitions=8, kafka_bootstrap_servers="unused:9092")
INBOUND = Origin(SETTINGS.inbound_topic, 2, 40, 1_767_225_600_000)
OUTBOUND = Origin(SETTINGS.outbound_topic, 1, 7, 1_767_225_601_000)


@pytest.fixture
def stats():
    return Stats()


@pytest.fixture
def router(stats):
    return Router(SETTINGS, stats)


@pytest.fixture
def decider(stats):
    return Decider(SETTINGS, stats)


def raw(obj) -> bytes:
    return json.dumps(obj).encode()


def test_partition_matches_kafkas_default_partitioner():
    from aiokafka.partitioner import DefaultPartitioner

    for number in ["+14155550101", "+442079460018", "+33612345678"]:
        assert partition_for(number, 8) == DefaultPartitioner()(number.encode(), list(range(8)), list(range(8)))


def test_reply_is_routed_by_e164_whatever_the_format(router):
    out = router.route(INBOUND, b"upstream-key", raw({"message_id": "r1", "from": "(415) 555-0101", "body": "STOP"}))
    assert out.topic == SETTINGS.routed_topic
    assert out.key == b"+14155550101"
    assert out.partition == partition_for("+14155550101", 8)
    routed = loads(out.value)
    assert routed["number"] == "+14155550101" and routed["event_time"].startswith("2026-01-01T00:00:00")


def test_reply_from_a_not_valid_but_parseable_number_is_kept(router):
    out = router.route(INBOUND, None, raw({"message_id": "r1", "from": "+1 555 000 0000", "body": "STOP"}))
    assert out.topic == SETTINGS.routed_topic and loads(out.value)["number"] == "+15550000000"


@pytest.mark.parametrize(
    ("to", "reason"), [(None, "no_phone"), ("", "no_phone"), ("12345", "invalid_number"), ("nope", "invalid_number")]
)
def test_send_without_deliverable_number_is_suppressed_at_once(router, stats, to, reason):
    message = {"message_id": "s1", "to": to, "body": "hi", "extra": [1, 2]}
    out = router.route(OUTBOUND, None, raw(message))
    record = SuppressedMessage.model_validate(loads(out.value))
    assert out.topic == SETTINGS.suppressed_topic and record.reason == reason and record.message == message
    assert stats.suppressed_by_reason[reason] == 1


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, "empty record"),
        (b"", "not valid JSON"),
        (b"\x00\xff", "not valid JSON"),
        (b"42", "expected a JSON object"),
        (raw({"message_id": "m", "body": "x"}), "field 'from'"),
        (raw({"message_id": "m", "from": "zzz", "body": "x"}), "field 'from'"),
        (b"{" + b" " * 70000 + b"}", "over the limit"),
    ],
)
def test_malformed_replies_are_dead_lettered_with_the_original_bytes(router, stats, value, error):
    out = router.route(INBOUND, b"k", value)
    record = DeadLetter.model_validate(loads(out.value))
    assert out.topic == SETTINGS.deadletter_topic and error in record.error
    assert (record.source_topic, record.partition, record.offset) == (INBOUND.topic, 2, 40)
    if value is None:
        assert record.payload is None
    elif record.payload_encoding == "base64":
        assert base64.b64decode(record.payload) == value
    else:
        assert record.payload.encode() == value
    assert stats.dead_lettered == 1


def route_and_decide(router, decider, table, origin, message, after=None):
    """The one record a send becomes, or the records a reply becomes (by topic); ``after``: the
    replies (by offsets) the send was produced after (app.domain.decision)."""
    out = router.route(origin, None, raw(message), after)
    assert out.topic == SETTINGS.routed_topic
    outputs = decider.process(out.value, table)
    if origin.topic == SETTINGS.outbound_topic:
        assert len(outputs) == 1
        return outputs[0]
    return {o.topic: loads(o.value) for o in outputs} or None


def test_stop_then_send_then_start(router, decider, stats):
    table = {}
    replies = route_and_decide(router, decider, table, INBOUND, {"message_id": "r1", "from": "4155550101", "body": "stop"})
    assert set(replies) == {SETTINGS.consent_topic, SETTINGS.provider_topic}
    assert table[consent_key("+14155550101", "default")]["opted_out"] is True
    send = {"message_id": "s1", "to": "+1 415 555 0101", "body": "hi", "x": {"y": 1}}
    out = route_and_decide(router, decider, table, OUTBOUND, send)
    record = SuppressedMessage.model_validate(loads(out.value))
    assert record.reason == "opted_out" and record.message == send and record.opted_out_at is not None

    later = INBOUND._replace(offset=41, timestamp_ms=INBOUND.timestamp_ms + 2000)  # an opt-out wins a tie
    route_and_decide(router, decider, table, later, {"message_id": "r2", "from": "+14155550101", "body": "UNSTOP"})
    produced_after = [SETTINGS.inbound_topic, [0] * later.partition + [later.offset + 1]]
    out = route_and_decide(router, decider, table, OUTBOUND._replace(timestamp_ms=later.timestamp_ms + 1000), send,
                           after=[SETTINGS.inbound_topic, [later.offset]])  # not known to come after the UNSTOP
    assert out.topic == SETTINGS.suppressed_topic
    out = route_and_decide(router, decider, table, OUTBOUND._replace(timestamp_ms=later.timestamp_ms + 1000), send,
                           after=produced_after)
    assert out.topic == SETTINGS.provider_topic
    assert ProviderMessage.model_validate(loads(out.value)).to == "+14155550101"
    assert loads(out.value) == {**send, "to": "+14155550101"}
    assert stats.snapshot()["opt_outs"] == 1 and stats.opt_ins == 1 and stats.forwarded == 1
    assert stats.confirmations == 2


def test_opt_out_is_per_account(router, decider):
    table = {}
    route_and_decide(router, decider, table, INBOUND, {"message_id": "r1", "account_id": "a", "from": "+14155550101", "body": "STOP"})
    out = route_and_decide(router, decider, table, OUTBOUND, {"message_id": "s1", "account_id": "b", "to": "+14155550101", "body": "x"})
    assert out.topic == SETTINGS.provider_topic


def test_unknown_routed_kind_raises(decider):
    with pytest.raises(ValueError):
        decider.process(b'{"kind": "weird"}', {})


def test_receipts_route_only_opt_out_evidence(router):
    status = Origin(SETTINGS.status_topic, 0, 3, 1_767_225_600_000)
    receipt = {"message_id": "m1", "to": "(415) 555-0101", "provider": "twilio", "status": "failed"}
    assert router.route(status, None, raw({**receipt, "error_code": 30003})) is None
    assert router.route(status, None, raw({**receipt, "status": "delivered"})) is None
    out = router.route(status, None, raw({**receipt, "error_code": 21610}))
    routed = loads(out.value)
    assert out.topic == SETTINGS.routed_topic and routed["kind"] == "provider" and routed["rule"] == "twilio:21610"
    assert routed["number"] == "+14155550101"
    bad = router.route(status, None, raw({**receipt, "to": "garbage", "error_code": 21610}))
    assert bad.topic == SETTINGS.deadletter_topic and "field 'to'" in loads(bad.value)["error"]
    missing = router.route(status, None, raw({"message_id": "m1"}))
    assert missing.topic == SETTINGS.deadletter_topic
