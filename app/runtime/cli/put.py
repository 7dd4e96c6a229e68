"""``reply`` and ``send``: one record each, as an upstream service would produce it.

The record is the minimal JSON of its contract (``schemas/inbound.py``, ``schemas/outbound.py``),
checked by the contract's model before anything is produced, keyed by the E.164 number,
produced with acks=all by an idempotent producer. Its message id is printed (on standard
output, alone: ``id=$(python -m app send ...)``).

Refused before producing (exit 2, one line): a reply whose ``from`` the worker could not
read (it would be dead-lettered), a field the contract would ignore or coerce (a ``--locale``
that is no language tag), a send whose body is over ``OPTOUT_MAX_BODY_CHARS`` (dead-lettered
too). A send to a number that is not a valid one is produced all the same, with a note: the
worker suppresses it (``invalid_number``), and seeing that is a fair thing to want.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.domain.decision import check_recipient
from app.domain.masking import mask
from app.domain.numbers import NumberStatus, parse_number, parse_recipient
from app.records import dumps
from app.runtime.cli.kafka_io import CommandError, check_topics, produce, start_producer
from app.settings import Settings
from schemas import InboundReply, OutboundRequest, StatusReceipt

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, size: int = 10) -> str:
    """A fresh message id that masking leaves as it is (no long run of digits)."""
    while True:
        made = f"{prefix}-{''.join(secrets.choice(_ID_ALPHABET) for _ in range(size))}"
        if mask(made) == made:
            return made


@dataclass(frozen=True)
class Record:
    """A record ready to produce: where, its key and its JSON object."""

    topic: str
    key: str
    value: dict[str, Any]
    note: str | None = None  # what the worker will make of it, when that may surprise

    @property
    def message_id(self) -> str:
        return str(self.value["message_id"])


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors())


def reply_record(settings: Settings, number: str, text: str, *, account: str = "default", locale: str | None = None,
                 to: str | None = None, message_id: str | None = None) -> Record:
    """A contact's reply for ``settings.inbound_topic`` (:class:`CommandError` if it would not be read as given)."""
    value: dict[str, Any] = {"message_id": message_id or new_id("cli"), "account_id": account, "from": number,
                             "body": text}
    if locale is not None:
        value["locale"] = locale
    if to is not None:
        value["to"] = to
    context: dict[str, Any] = {}
    try:
        InboundReply.model_validate(value, context=context)
    except ValidationError as exc:
        raise CommandError(f"not a valid reply ({_problems(exc)})") from None
    coerced = context.get("coerced") or {}
    if coerced:
        field, what = next(iter(coerced.items()))
        option = {"account_id": "--account", "message_id": "--message-id"}.get(field, f"--{field}")
        raise CommandError(f"{option} {value.get(field)!r}: {what} (the worker would not read it as given)")
    sender = parse_number(number, settings.default_region)
    if sender.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE) or sender.e164 is None:
        raise CommandError(f"--from {mask(number)!r}: {sender.error} (the worker would dead-letter the reply)")
    return Record(settings.inbound_topic, sender.e164, value)


def send_record(settings: Settings, number: str, text: str, *, account: str = "default",
                message_id: str | None = None) -> Record:
    """A send request for ``settings.outbound_topic``."""
    value: dict[str, Any] = {"message_id": message_id or new_id("cli"), "account_id": account, "to": number,
                             "body": text}
    try:
        OutboundRequest.model_validate(value)
    except ValidationError as exc:
        raise CommandError(f"not a valid send request ({_problems(exc)})") from None
    if len(text) > settings.max_body_chars:
        raise CommandError(f"the text is {len(text)} characters, over OPTOUT_MAX_BODY_CHARS={settings.max_body_chars} "
                           "(the worker would dead-letter the send)")
    recipient = parse_recipient(number, settings.default_region)
    refused = check_recipient(recipient)
    note = None
    if refused is not None and refused.reason is not None:
        note = f"the worker will suppress this send ({refused.reason.value}: {refused.detail})"
    return Record(settings.outbound_topic, recipient.e164 or number, value, note)


def receipt_record(settings: Settings, number: str, *, provider: str, status: str, error_code: str | int | None,
                   account: str = "default", message_id: str | None = None) -> Record:
    """A provider's delivery receipt for ``settings.status_topic`` (the demo's 21610)."""
    value: dict[str, Any] = {"message_id": message_id or new_id("cli"), "account_id": account, "to": number,
                             "provider": provider, "status": status, "error_code": error_code}
    try:
        StatusReceipt.model_validate(value)
    except ValidationError as exc:
        raise CommandError(f"not a valid receipt ({_problems(exc)})") from None
    parsed = parse_number(number, settings.default_region)
    return Record(settings.status_topic, parsed.e164 or number, value)


async def put(settings: Settings, record: Record) -> Any:
    """Produce ``record`` (acks=all); its metadata (partition, offset)."""
    producer = await start_producer(settings)
    try:
        check_topics(settings, (await producer.client.fetch_all_metadata()).topics(), [record.topic])
        return await produce(settings, producer, record.topic, dumps(record.value), record.key.encode())
    finally:
        await producer.stop()
