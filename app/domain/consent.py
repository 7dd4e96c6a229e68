"""Consent state and its transitions (pure).

The table value for ``(number, account)`` is a :class:`ConsentState`. It says
whether the number is opted out and *why*: which message, which rule, when.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from app.domain.keywords import Classification, Intent


@dataclass(frozen=True, slots=True)
class ConsentState:
    opted_out: bool
    changed_at: datetime  # event time of the reply that set this state
    message_id: str
    source: str  # "keyword" today; later "phrase", "operator", "provider"
    matched: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed_at"] = self.changed_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConsentState:
        return cls(
            opted_out=bool(data["opted_out"]),
            changed_at=datetime.fromisoformat(data["changed_at"]),
            message_id=str(data["message_id"]),
            source=str(data.get("source", "keyword")),
            matched=data.get("matched"),
        )


def apply_reply(
    current: ConsentState | None,
    classification: Classification,
    *,
    message_id: str,
    event_time: datetime,
) -> ConsentState | None:
    """Return the new state after a reply, or None when the state does not change."""
    if classification.intent is Intent.OPT_OUT:
        opted_out = True
    elif classification.intent is Intent.OPT_IN:
        opted_out = False
    else:
        return None
    if current is None and not opted_out:
        return None  # opting in a number we hold no opt-out for changes nothing
    if current is not None and current.opted_out == opted_out:
        return None
    return ConsentState(
        opted_out=opted_out,
        changed_at=event_time,
        message_id=message_id,
        source="keyword",
        matched=classification.matched,
    )
