"""The records of the routed topic: their kinds, declared once, and their shapes (no Kafka here).

The router (:mod:`app.stream.router`) writes every record but the tally records, which the
processor writes (:mod:`app.engine.processor`); the processor decides sends and tallies,
the decider (:mod:`app.stream.decider`) the rest. Each is a JSON object whose ``kind`` is a
:class:`Kind` value, keyed by its E.164 number (a tally record: :data:`TALLY_RECORD_KEY`) on the
partition that holds the number's state. :class:`Kind` is a ``StrEnum``: its members are the
strings on the wire (``{"kind":"send",...}``), and equal the strings read back.
"""

# (no ``from __future__ import annotations``: TypedDict reads NotRequired only from evaluated annotations)
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict


class Kind(StrEnum):
    REPLY = "reply"  # a contact's reply (sms.inbound)
    SEND = "send"  # a send request (sms.outbound)
    OPERATOR = "operator"  # an operator's opt-out (POST /optouts, import-optouts)
    PROVIDER = "provider"  # a provider's delivery receipt that is opt-out evidence (sms.status)
    REVIEW_DECISION = "review_decision"  # a person decided a queued reply (POST /reviews/{id})
    REVIEW_EXPIRED = "review_expired"  # a queued reply's deadline passed undecided
    TALLY = "tally"  # routing-stage outcomes to count (not a decision)


TALLY_RECORD_KEY = b"__tally__"  # the record key of a tally record (it is about no number)

Origin = list[str | int]  # [input topic, partition, offset] of the record routed


class _AboutANumber(TypedDict):
    number: str  # E.164: the record's key, and the key of the number's state
    account_id: str


class RoutedReply(_AboutANumber):
    kind: Literal[Kind.REPLY]
    message_id: str
    body: str
    to: str | None
    locale: str | None
    event_time: str  # ISO 8601
    trusted_ms: int  # when the reply is trusted to have reached us (app.stream.router.Router._event_time)
    origin: Origin
    coerced: NotRequired[dict[str, str]]  # fields read otherwise than written, and why
    claimed_event_time: NotRequired[str]  # set by the decider on an opt-in dated after its record


class RoutedSend(_AboutANumber):
    kind: Literal[Kind.SEND]
    message: dict[str, Any]  # the send request as received
    requested_at_ms: int
    origin: Origin
    after: NotRequired[list]  # [reply topic, [offset per partition]]: replies acknowledged before it
    # [[reply topic, [end per partition]], ...] read after the router fetched it: every reply
    # acknowledged before it lies below (its stamp: app.engine.reply_gate)
    stamp: NotRequired[list]


class RoutedOperator(_AboutANumber):
    kind: Literal[Kind.OPERATOR]
    message_id: str
    reason: str
    requested_by: str
    event_time: str


class RoutedProvider(_AboutANumber):
    kind: Literal[Kind.PROVIDER]
    message_id: str
    provider: str
    rule: str
    error_code: str
    event_time: str
    origin: Origin


class RoutedReview(_AboutANumber):
    kind: Literal[Kind.REVIEW_DECISION, Kind.REVIEW_EXPIRED]
    review_id: str
    event_time: str
    decision: NotRequired[str]  # a person's decision only (app.stream.review_queue.DECISIONS)
    decided_by: NotRequired[str | None]
    note: NotRequired[str | None]


class TallyRecord(TypedDict):
    kind: Literal[Kind.TALLY]
    source: str  # "<input topic>:<partition>"
    outcomes: list[list]  # [input offset, kind, reason] (app.stream.tally)


Routed = RoutedReply | RoutedSend | RoutedOperator | RoutedProvider | RoutedReview | TallyRecord
