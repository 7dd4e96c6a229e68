"""Consent state and its transitions (pure).

The table value for ``(number, account)`` is a :class:`ConsentState`: whether
the number is opted out, the evidence of the change that made it so, and the
newest consent event seen for it.

Ordering rule: consent events are ordered by ``(event_time, opt-out first,
message_id)``: at the same event time an opt-out outranks an opt-in. An event
applies only if it is newer than the newest event already seen for the key; an
older one is logged as ``stale`` and changes nothing.

Replays: an event is a ``duplicate`` (nothing happens) only if an event with
the same message id *and* the same content (the state it asks for and a digest
of its text) was seen. The same id with other content is a *clash*: the event
is processed like any other, and the transition says so. An opt-out is never
discarded as the replay of something that was not an opt-out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

RECENT_IDS = 16  # events remembered per key to recognise replays


def fingerprint(*parts: object) -> str:
    """A digest of what an event says (its text, rule, code): with its id and the state it
    asks for, what tells a replay from a different event that reuses an id."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).hexdigest()


def replay_token(message_id: str, intent: str, digest: str = "") -> str:
    """What is remembered of an event: ``<id>#<intent>:<digest>``."""
    return f"{message_id}#{intent}:{digest}"


def token_id(token: str) -> str:
    return token.rpartition("#")[0] or token


class Source(str, Enum):
    KEYWORD = "keyword"
    PHRASE = "phrase"
    OPERATOR = "operator"
    PROVIDER = "provider"
    REVIEW = "review"  # a person decided a queued reply: opt out
    REVIEW_DEADLINE = "review_deadline"  # nobody decided it by its deadline: opted out (fail closed)


class Verdict(str, Enum):
    APPLIED = "applied"  # the opt-out state changed
    UNCHANGED = "unchanged"  # newer than what we had, same state (e.g. a second STOP)
    STALE = "stale"  # older than the newest event seen: does not override
    DUPLICATE = "duplicate"  # this message id was already processed


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    opted_out: bool  # the state the event asks for
    source: Source
    message_id: str
    event_time: datetime
    rule: str | None = None
    matched: str | None = None
    digest: str = ""  # fingerprint() of the event's content
    # an opt-in ordered at ``event_time`` but claiming a later time: sends requested before that
    # later time stay suppressed (the ordering time only decides which consent event wins)
    not_before: datetime | None = None
    # an opt-out a person made now (an operator's, a review decision), dated by a worker's
    # clock: never stale; ordered no earlier than the newest event seen (then, at equal
    # times, the opt-out wins): no clock can lose an opt-out the API acknowledged
    decided_now: bool = False
    # where the event's reply sits in its input topic, ``(topic, partition, offset)`` (None: not
    # a reply): an opt-in's coordinates tell later sends, by offsets, whether it came after them
    origin: tuple[str, int, int] | None = None

    @property
    def token(self) -> str:
        return replay_token(self.message_id, "out" if self.opted_out else "in", self.digest)


@dataclass(frozen=True, slots=True)
class ConsentState:
    opted_out: bool
    changed_at: datetime  # event time of the change that set ``opted_out``
    message_id: str  # ... its message id
    source: Source
    rule: str | None
    matched: str | None
    last_event_at: datetime  # newest consent event seen for this key
    last_message_id: str
    recent_ids: tuple[str, ...] = ()  # replay_token() of the latest events
    # event time of the opt-in that ended the latest opt-out (None: never re-subscribed);
    # a send requested before it was requested while, or before, the number was opted out
    resubscribed_at: datetime | None = None
    # where the reply that ended the latest opt-out sits (topic, partition, offset): a send
    # not known to come after it (app.domain.decision) may have been requested while opted out
    resubscribed_by: tuple[str, int, int] | None = None
    last_origin: tuple[str, int, int] | None = None  # where the newest event seen sits, if a reply

    def to_json(self) -> dict[str, Any]:
        return {
            "opted_out": self.opted_out,
            "changed_at": self.changed_at.isoformat(),
            "message_id": self.message_id,
            "source": self.source.value,
            "rule": self.rule,
            "matched": self.matched,
            "last_event_at": self.last_event_at.isoformat(),
            "last_message_id": self.last_message_id,
            "recent_ids": list(self.recent_ids),
            "resubscribed_at": self.resubscribed_at.isoformat() if self.resubscribed_at else None,
            "resubscribed_by": list(self.resubscribed_by) if self.resubscribed_by else None,
            "last_origin": list(self.last_origin) if self.last_origin else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConsentState:
        changed_at = datetime.fromisoformat(data["changed_at"])
        return cls(
            opted_out=bool(data["opted_out"]),
            changed_at=changed_at,
            message_id=str(data["message_id"]),
            source=Source(data.get("source", "keyword")),
            rule=data.get("rule"),
            matched=data.get("matched"),
            last_event_at=datetime.fromisoformat(data.get("last_event_at") or data["changed_at"]),
            last_message_id=str(data.get("last_message_id") or data["message_id"]),
            recent_ids=tuple(data.get("recent_ids") or ()),
            resubscribed_at=datetime.fromisoformat(data["resubscribed_at"]) if data.get("resubscribed_at") else None,
            resubscribed_by=_coords(data.get("resubscribed_by")),
            last_origin=_coords(data.get("last_origin")),
        )


def _coords(value: Any) -> tuple[str, int, int] | None:
    if isinstance(value, list | tuple) and len(value) == 3:
        return str(value[0]), int(value[1]), int(value[2])
    return None


@dataclass(frozen=True, slots=True)
class Transition:
    verdict: Verdict
    previous: ConsentState | None
    new: ConsentState | None  # what to store; None: store nothing
    clash: bool = False  # the message id was seen before, with other content

    @property
    def opted_out(self) -> bool | None:
        """The state after the event (None: nothing known)."""
        state = self.new or self.previous
        return state.opted_out if state else None


# an opt-in whose place in the log is not known: no send is known to come after it
_UNKNOWN_ORIGIN = ("", 0, 2**62)


def _later(a: tuple[str, int, int] | None, b: tuple[str, int, int] | None) -> tuple[str, int, int]:
    """Of two coordinates, the one fewer sends are known to come after (unknown: the latest)."""
    if a is None or b is None:
        return b or a or _UNKNOWN_ORIGIN
    if a[:2] == b[:2]:
        return a if a[2] >= b[2] else b
    return _UNKNOWN_ORIGIN  # on two partitions: no offset orders them; fail closed


def _remember(ids: tuple[str, ...], token: str) -> tuple[str, ...]:
    return (*ids, token)[-RECENT_IDS:]


def apply_event(current: ConsentState | None, event: ConsentEvent) -> Transition:
    token = event.token
    clash = False
    if current is not None:
        if token in current.recent_ids:
            return Transition(Verdict.DUPLICATE, current, None)
        clash = any(token_id(seen) == event.message_id for seen in current.recent_ids)
    transition = _apply(current, event, token)
    return replace(transition, clash=True) if clash else transition


def _apply(current: ConsentState | None, event: ConsentEvent, token: str) -> Transition:
    if event.decided_now and event.opted_out and current is not None and event.event_time < current.last_event_at:
        event = replace(event, event_time=current.last_event_at)
    if current is not None and (event.event_time, event.opted_out, event.message_id) <= (
            current.last_event_at, current.opted_out, current.last_message_id):
        stored = replace(current, recent_ids=_remember(current.recent_ids, token))
        if event.opted_out and not current.opted_out:
            # a late STOP: the number was opted out from its event time until some later
            # opt-in; sends requested before the newest event seen are decided fail-closed
            resubscribed = max(filter(None, (current.resubscribed_at, current.last_event_at)))
            stored = replace(stored, resubscribed_at=resubscribed,
                             resubscribed_by=_later(current.resubscribed_by, current.last_origin))
        return Transition(Verdict.STALE, current, stored)
    if current is not None and current.opted_out == event.opted_out:
        stored = replace(
            current,
            last_event_at=event.event_time,
            last_message_id=event.message_id,
            recent_ids=_remember(current.recent_ids, token),
            last_origin=event.origin,
        )
        return Transition(Verdict.UNCHANGED, current, stored)
    new = ConsentState(
        opted_out=event.opted_out,
        changed_at=event.event_time,
        message_id=event.message_id,
        source=event.source,
        rule=event.rule,
        matched=event.matched,
        last_event_at=event.event_time,
        last_message_id=event.message_id,
        recent_ids=_remember(current.recent_ids if current else (), token),
        resubscribed_at=(
            max(event.event_time, event.not_before or event.event_time)
            if current is not None and current.opted_out and not event.opted_out
            else (current.resubscribed_at if current else None)
        ),
        resubscribed_by=(
            event.origin or _UNKNOWN_ORIGIN
            if current is not None and current.opted_out and not event.opted_out
            else (current.resubscribed_by if current else None)
        ),
        last_origin=event.origin,
    )
    if current is None and not event.opted_out:
        # an opt-in for a number we hold nothing for: no change, but remember it
        # so that an older STOP arriving late cannot override it
        return Transition(Verdict.UNCHANGED, None, new)
    return Transition(Verdict.APPLIED, current, new)
