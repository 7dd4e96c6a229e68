from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import DeadLetter, InboundReply, OutboundRequest, ProviderMessage, SuppressedMessage


def test_inbound_defaults_and_alias():
    reply = InboundReply.model_validate({"message_id": "m", "from": "+14155550101", "body": ""})
    assert reply.account_id == "default" and reply.from_ == "+14155550101" and reply.received_at is None


@pytest.mark.parametrize(
    "data",
    [
        {"message_id": "m", "body": "x"},
        {"message_id": "m", "from": None, "body": "x"},
        {"message_id": "m", "from": {"n": 1}, "body": "x"},
        {"message_id": "m", "from": "+1"},
        {"message_id": "m", "from": "+1", "body": 5},
        {"message_id": "m", "from": "+1", "body": None},
    ],
)
def test_inbound_rejects_only_a_missing_sender_or_a_body_that_is_not_text(data):
    with pytest.raises(ValidationError):
        InboundReply.model_validate(data)


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ({"from": "+1", "body": "x"}, "message_id", None),  # the router derives one from the record's position
        ({"message_id": 5, "from": "+1", "body": "x"}, "message_id", "5"),
        ({"message_id": "", "from": "+1", "body": "x"}, "message_id", None),
        ({"message_id": "m" * 300, "from": "+1", "body": "x"}, "message_id", "sha256:" + "0" * 64),
        ({"from": "+1", "body": "x", "account_id": 42}, "account_id", "42"),
        ({"from": "+1", "body": "x", "account_id": ["a"]}, "account_id", "default"),
        ({"from": "+1", "body": "x", "account_id": ""}, "account_id", "default"),
        ({"from": 14155550101, "body": "x"}, "from_", "14155550101"),
        ({"from": "+1", "body": "x", "to": 18005550000}, "to", "18005550000"),
        ({"from": "+1", "body": "x", "to": {"n": 1}}, "to", None),
        ({"from": "+1", "body": "x", "to": "9" * 65}, "to", None),
        ({"from": "+1", "body": "x", "locale": "es-MX"}, "locale", "es-MX"),
        ({"from": "+1", "body": "x", "locale": "<script>"}, "locale", None),
        ({"from": "+1", "body": "x", "locale": 7}, "locale", None),
        ({"from": "+1", "body": "x", "received_at": "yesterday"}, "received_at", None),
        ({"from": "+1", "body": "x", "received_at": ["2026"]}, "received_at", None),
        ({"from": "+1", "body": "x", "received_at": "2026-01-01T00:00:00"}, "received_at",
         datetime(2026, 1, 1, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_inbound_coerces_every_other_field(data, field, value):
    reply = InboundReply.model_validate(data, context={})
    got = getattr(reply, field)
    if isinstance(value, str) and value.startswith("sha256:"):
        assert got.startswith("sha256:") and len(got) == len(value)
    else:
        assert got == value


def test_outbound_keeps_extra_fields():
    request = OutboundRequest.model_validate({"message_id": "m", "to": None, "body": "b", "campaign": {"id": 1}})
    assert request.to is None and request.model_extra == {"campaign": {"id": 1}}


def test_output_models_accept_what_the_worker_writes():
    ProviderMessage.model_validate({"message_id": "m", "to": "+14155550101", "body": "b", "x": 1})
    with pytest.raises(ValidationError):
        ProviderMessage.model_validate({"message_id": "m", "to": "(415) 555-0101", "body": "b"})
    SuppressedMessage.model_validate(
        {"reason": "no_phone", "message": {}, "suppressed_at": "2026-01-01T00:00:00+00:00", "opted_out_at": None}
    )
    DeadLetter.model_validate(
        {"source_topic": "t", "partition": 0, "offset": 1, "error": "e", "payload": "AA==",
         "payload_encoding": "base64", "at": "2026-01-01T00:00:00Z"}
    )
