"""`sms.review`: replies a person must judge (they mention an opt-out word but are not clear)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ReviewItem(BaseModel):
    model_config = ConfigDict(extra="forbid", title="sms.review")

    review_id: str = Field(description="Decide it with POST /reviews/{review_id}.")
    account_id: str
    number: str = Field(description="E.164.")
    message_id: str
    body: str
    matched: str | None = Field(description="The opt-out word or negated phrase found in the reply.")
    rule: str
    event_time: AwareDatetime
    deadline: AwareDatetime = Field(description="OPTOUT_REVIEW_BUSINESS_DAYS (10) business days (Mon-Fri) after "
                                    "the reply: decide by then, or it is opted out (OPTOUT_REVIEW_EXPIRY).")
    queued_at: AwareDatetime
