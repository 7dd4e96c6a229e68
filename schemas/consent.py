"""`sms.consent`: the append-only consent log (not compacted)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.domain.keyword_tiers import rule_description, source_description

State = Literal["opted_out", "subscribed"]


class ConsentRecord(BaseModel):
    """One record per consent-relevant event: opt-out, opt-in, help, review,
    operator and provider opt-outs; also events that changed nothing."""

    model_config = ConfigDict(extra="forbid", title="sms.consent")

    account_id: str = Field(description="Tenant; '*' for an opt-out recorded in global scope.")
    number: str = Field(description="E.164.")
    intent: Literal["opt_out", "opt_in", "help", "review"]
    # the values and their descriptions: app.domain.keyword_tiers (SOURCES, TIERS, OTHER_RULES)
    source: Literal["keyword", "phrase", "operator", "provider", "review", "review_deadline"] = Field(
        description=source_description())
    rule: str | None = Field(description=rule_description())
    matched: str | None = Field(description="The keyword, phrase or error code that matched.")
    body: str | None = Field(description="The raw reply text (null for operator/provider events).")
    message_id: str = Field(description="Reply id, receipt message id, or operator request id.")
    event_time: AwareDatetime
    processed_at: AwareDatetime
    previous_state: State | None = Field(description="null: nothing was known for this number.")
    new_state: State | None
    verdict: Literal["applied", "unchanged", "stale", "logged", "dismissed"] = Field(
        description="applied: state changed; unchanged: same state; stale: older than the newest event "
        "(does not override); logged: help/review, no state involved; dismissed: a person decided a queued "
        "reply is no opt-out."
    )
    review_deadline: AwareDatetime | None = None
    reason: str | None = Field(default=None, description="Operator's reason.")
    requested_by: str | None = Field(default=None, description="Operator who asked.")
    provider: str | None = None
    scope: Literal["account", "global"]
    coerced: dict[str, str] | None = Field(
        default=None, description="Fields of the reply that were malformed or out of bounds, and what was done "
        "(e.g. received_at: clamped to the record's time plus the allowed skew; account_id: 'default').")
    to: str | None = Field(default=None, description="The number the person wrote to (the reply's `to`).")
    keywords_id: str | None = Field(default=None, description="Identifier of the word lists that classified "
                                    "the reply (a hash of the effective keyword configuration).")
    review_id: str | None = Field(default=None, description="The review item (queued, decided or expired).")
    decided_by: str | None = Field(default=None, description="Who decided a review item ('deadline' when "
                                   "it expired).")
    note: str | None = Field(default=None, description="The decider's note.")
    message_id_clash: bool | None = Field(
        default=None, description="true: an event with this message id but other content was seen before; "
        "this one was processed as a new event, not as a replay.")
