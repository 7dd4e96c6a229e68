"""Step 1: validate upstream records and route them by normalized number.

Replies (`sms.inbound`) and send requests (`sms.outbound`) are parsed once,
their contact number normalized to E.164, and re-published to the internal
routed topic on the partition ``murmur2(E.164) % partitions``, whatever key
or partition upstream used. That is the partition of the opt-out table that
holds the number, so the lookup in step 2 is always made against the right
state, and a STOP is ordered before every send that arrives after it.

Records that need no lookup (no phone, invalid number) are decided here;
malformed ones are dead-lettered with the original bytes. No Faust here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from app.domain.decision import check_recipient
from app.domain.numbers import NumberStatus, parse_number, parse_recipient
from app.domain.provider_codes import OptOutCodes
from app.records import Origin, Output, dead_letter, dumps, from_timestamp_ms, iso, loads, utcnow
from app.settings import Settings
from app.stream.counters import Stats
from app.stream.partitioner import partition_for
from app.stream.routed import Kind, Routed, RoutedOperator, RoutedProvider, RoutedReply, RoutedReview, RoutedSend
from app.stream.suppression import suppressed
from schemas import InboundReply, OutboundRequest, StatusReceipt
from schemas.inbound import MAX_ACCOUNT_CHARS, bounded_id

_ID_FIELDS = ("message_id", "account_id", "from", "to")
_EXACT_FLOATS = 2**53  # below this, a float holds every integer exactly


def _exact_integers(value: bytes, data: dict) -> dict:
    """orjson reads an integer beyond 64 bits as a float (``-9223372036854775809`` as
    ``-9.223372036854776e+18``): two ids would become one. The standard library reads
    it exactly; only records with such an id pay for the second parse."""
    if all(not isinstance(v, float) or abs(v) < _EXACT_FLOATS for v in map(data.get, _ID_FIELDS)):
        return data
    exact = json.loads(value)
    return exact if isinstance(exact, dict) else data


class Router:
    def __init__(self, settings: Settings, stats: Stats, clock: Callable[[], datetime] = utcnow,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self.stats = stats
        self.clock = clock
        self.clock_ms = clock_ms or (lambda: int(self.clock().timestamp() * 1000))
        self.new_id = new_id
        self._region = settings.default_region
        self._max_bytes = settings.max_payload_bytes
        self._max_body = settings.max_body_chars
        self._skew_ms = settings.max_clock_skew_ms
        self._codes = OptOutCodes.parse(settings.provider_optout_codes)

    def route(self, origin: Origin, key: bytes | None, value: bytes | None,
              replies_before: list | None = None, replies_by: list | None = None,
              here: int | None = None) -> Output | RoutedSend | None:
        """Return the one record this input becomes (routed, suppressed or dead letter).

        For a send, two bounds by broker offsets (``app.engine.processor``, ``app.engine.reply_gate``):
        ``replies_before``, ``[reply topic, [offset per partition]]``: every reply below was
        acknowledged before the send was produced; ``replies_by``, ``[[reply topic, [end per
        partition]], ...]``: every reply acknowledged before the send was produced is below
        (a reply at or past it came after the send).
        None only for delivery receipts that are no opt-out evidence (ignored).

        ``here``: the routed partition this send was read on (its task decides in place): a
        send whose number belongs to it is returned as its routed record, not encoded."""
        s = self.settings
        try:
            return self._route(origin, value, replies_before, replies_by, here)
        except _Reject as exc:
            self.stats.count("dead_lettered")
            return dead_letter(s.deadletter_topic, origin, str(exc), value, key)
        except orjson.JSONEncodeError as exc:  # read, but cannot be written again (e.g. nested over 254 levels)
            self.stats.count("dead_lettered")
            return dead_letter(s.deadletter_topic, origin, f"cannot be passed on as JSON: {exc}", value, key)

    def _route(self, origin: Origin, value: bytes | None, replies_before: list | None = None,
               replies_by: list | None = None, here: int | None = None) -> Output | RoutedSend | None:
        s = self.settings
        if value is None:
            raise _Reject("empty record (no value)")
        if len(value) > self._max_bytes:
            raise _Reject(f"record is {len(value)} bytes, over the limit of {self._max_bytes}")
        try:
            data = loads(value)
        except ValueError as exc:
            raise _Reject(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _Reject(f"expected a JSON object, got {type(data).__name__}")
        if any(isinstance(data.get(name), float) for name in _ID_FIELDS):
            data = _exact_integers(value, data)
        if origin.topic == s.inbound_topic:
            return self._route_reply(origin, data)
        if origin.topic == s.outbound_topic:
            return self._route_send(origin, data, replies_before, replies_by, here)
        if origin.topic == s.status_topic:
            return self._route_status(origin, data)
        raise _Reject(f"record from unexpected topic {origin.topic!r}")

    def _check_body(self, body: str) -> None:
        if len(body) > self._max_body:
            raise _Reject(f"body is {len(body)} characters, over the limit of {self._max_body}")

    def _route_reply(self, origin: Origin, data: dict) -> Output:
        context: dict = {}
        reply = _validate(InboundReply, data, context)
        coerced: dict[str, str] = context.get("coerced", {})
        body = reply.body
        if len(body) > self._max_body:  # still classified: a reply is never lost to its size
            coerced["body"] = f"{len(body)} characters: classified on the first {self._max_body}"
            body = body[:self._max_body]
        sender = parse_number(reply.from_, self._region)
        if sender.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
            raise _Reject(f"field 'from': {sender.error}")
        event_time, trusted_ms = self._event_time(origin, reply.received_at, coerced)
        routed: RoutedReply = {
            "kind": Kind.REPLY,
            "number": sender.e164,
            "account_id": reply.account_id,
            "message_id": reply.message_id or f"{origin.topic}:{origin.partition}:{origin.offset}",
            "body": body,
            "to": reply.to,
            "locale": reply.locale,
            "event_time": iso(event_time),
            "trusted_ms": trusted_ms,
            "origin": [origin.topic, origin.partition, origin.offset],
        }
        if coerced:
            routed["coerced"] = coerced
            self.stats.count("coerced_replies")
        return self._routed(sender.e164, routed)

    def _event_time(self, origin: Origin, claimed: datetime | None, coerced: dict[str, str],
                    ) -> tuple[datetime, int]:
        """The event time of a reply, and the time it is trusted to have reached us: its
        record's timestamp, or the router's clock if that is earlier.

        The event time is what the client says (else the record's timestamp); one later than
        the trusted time plus the allowed skew is not believed: the trusted time is used.
        (The decider also dates no opt-in after the trusted time: nothing a client writes
        can make a later opt-out stale.)"""
        now_ms = self.clock_ms()
        ts = origin.timestamp_ms
        trusted_ms = now_ms if ts is None or ts < 0 else min(ts, now_ms)
        field = "received_at" if claimed is not None else "timestamp"
        try:
            event_ms = int(claimed.timestamp() * 1000) if claimed is not None else (
                ts if ts is not None and ts >= 0 else now_ms)
        except (OverflowError, ValueError, OSError):
            event_ms = trusted_ms + self._skew_ms + 1
        if event_ms > trusted_ms + self._skew_ms:
            shown = claimed.isoformat() if claimed is not None else f"{ts} ms"
            coerced[field] = (f"{shown} is later than the record's time plus {self._skew_ms // 1000} s: "
                              "the record's time instead")
            return from_timestamp_ms(trusted_ms), trusted_ms
        if claimed is not None:
            return claimed, trusted_ms
        return from_timestamp_ms(event_ms), trusted_ms

    def _route_send(self, origin: Origin, data: dict, replies_before: list | None = None,
                    replies_by: list | None = None, here: int | None = None) -> Output | RoutedSend:
        request = _validate(OutboundRequest, data)
        self._check_body(request.body)
        recipient = parse_recipient(request.to, self._region)  # strict: never another number
        decision = check_recipient(recipient)
        if decision is not None:
            self.stats.suppressed(decision.reason)
            return suppressed(self.settings.suppressed_topic, data, decision)
        routed: RoutedSend = {
            "kind": Kind.SEND,
            "number": recipient.e164,
            "account_id": bounded_id(request.account_id, MAX_ACCOUNT_CHARS),
            "message": data,
            "requested_at_ms": self._requested_at_ms(origin),
            "origin": [origin.topic, origin.partition, origin.offset],
        }
        if replies_before is not None:
            routed["after"] = replies_before
        if replies_by is not None:
            routed["stamp"] = replies_by
        if here is not None and partition_for(recipient.e164, self.settings.partitions) == here:
            return routed  # decided in place (app.engine.processor): never encoded
        return self._routed(recipient.e164, routed)

    def _route_status(self, origin: Origin, data: dict) -> Output | None:
        receipt = _validate(StatusReceipt, data)
        rule = self._codes.matches(receipt.provider, receipt.error_code)
        if rule is None:
            return None  # not opt-out evidence
        recipient = parse_number(receipt.to, self._region)
        if recipient.status in (NumberStatus.MISSING, NumberStatus.UNPARSEABLE):
            raise _Reject(f"opt-out receipt ({rule}) with field 'to': {recipient.error}")
        routed: RoutedProvider = {
            "kind": Kind.PROVIDER,
            "number": recipient.e164,
            "account_id": bounded_id(receipt.account_id, MAX_ACCOUNT_CHARS),
            "message_id": receipt.message_id,
            "provider": receipt.provider,
            "rule": rule,
            "error_code": str(receipt.error_code),
            "event_time": iso(from_timestamp_ms(self._requested_at_ms(origin))),
            "origin": [origin.topic, origin.partition, origin.offset],
        }
        return self._routed(recipient.e164, routed)

    def _requested_at_ms(self, origin: Origin) -> int:
        """When the send was requested: its record timestamp, never later than now
        (a send is held until replies are routed up to this time, so a time in the
        future would hold it, and every send behind it, until then)."""
        now_ms = self.clock_ms()
        ts = origin.timestamp_ms
        return now_ms if ts is None or ts < 0 or ts > now_ms else ts

    def operator_opt_out(self, number: str, account_id: str, reason: str, requested_by: str,
                         message_id: str | None = None) -> Output:
        """The routed record for an operator's opt-out (``POST /optouts``); ``number`` is E.164.

        ``message_id``: a deterministic id (``import-optouts``), so that the same opt-out sent again
        is a replay the decider recognizes (same id, same reason and requester); default a new one."""
        now = self.clock()
        routed: RoutedOperator = {
            "kind": Kind.OPERATOR,
            "number": number,
            "account_id": bounded_id(account_id, MAX_ACCOUNT_CHARS),
            "message_id": message_id or f"operator-{self.new_id()}",
            "reason": reason,
            "requested_by": requested_by,
            "event_time": iso(now),
        }
        return self._routed(number, routed)

    def review_event(self, kind: Kind, item: dict, **fields: Any) -> Output:
        """The routed record of a review decision or expiry, to the partition of the item's number."""
        routed: RoutedReview = {  # type: ignore[typeddict-item]  # (the decision's fields)
            "kind": kind,
            "number": item["number"],
            "account_id": item["account_id"],
            "review_id": item["review_id"],
            "event_time": iso(self.clock()),
            **fields,
        }
        return self._routed(item["number"], routed)

    def _routed(self, number: str, routed: Routed) -> Output:
        key = number.encode()
        return Output(
            self.settings.routed_topic,
            dumps(routed),
            key=key,
            partition=partition_for(number, self.settings.partitions),
        )


class _Reject(Exception):
    """The record is malformed: dead-letter it with this reason."""


def _validate(model, data: dict, context: dict | None = None):
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc']) or '(root)'}': {err['msg']}" for err in exc.errors()
        )
        raise _Reject(f"invalid {model.model_config.get('title', model.__name__)}: {problems}") from None
