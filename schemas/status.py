"""`sms.status`: delivery receipts from the SMS provider(s)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StatusReceipt(BaseModel):
    """A delivery receipt. Receipts whose error code means "recipient opted out"
    (configurable) record an opt-out with source ``provider``; others are ignored."""

    model_config = ConfigDict(extra="ignore", title="sms.status")

    message_id: str = Field(min_length=1, description="The sent message's id.")
    account_id: str = Field(default="default", min_length=1)
    to: str = Field(description="Recipient number, any common format.")
    provider: str = Field(description="e.g. twilio, aws, telnyx, sinch, plivo.")
    status: str = Field(description="Provider's delivery status, e.g. 'failed', 'undelivered'.")
    error_code: str | int | None = Field(default=None, description="Provider's error code, e.g. 21610.")
