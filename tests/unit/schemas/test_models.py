import pytest
from pydantic import ValidationError

from schemas import DeadLetter, InboundReply, OutboundRequest, ProviderMessage, SuppressedMessage


def test_inbound_defaults_and_alias():
    reply = InboundReply.model_validate({"message_id": "m", "from": "+14155550101", "body": ""})
    assert reply.account_id == "default" and reply.from_ == "+14155550101" and reply.received_at is None


@pytest.mark.parametrize(
    "data",
    [
        {"from": "+1", "body": "x"},
        {"message_id": "m", "body": "x"},
        {"message_id": "m", "from": "+1"},
        {"message_id": 5, "from": "+1", "body": "x"},
        {"message_id": "m", "from": "+1", "body": "x", "received_at": "2026-01-01T00:00:00"},  # no offset
    ],
)
def test_inbound_rejects(data):
    with pytest.raises(ValidationError):
        InboundReply.model_validate(data)


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
